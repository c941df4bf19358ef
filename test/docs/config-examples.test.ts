/**
 * Every JSON example in docs/CONFIG.md is a valid config (the schema the daemon validates with),
 * so the documentation cannot drift from src/daemon/config.ts.
 */
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { parseConfig } from '../../src/daemon/config.js';

const text = readFileSync(new URL('../../docs/CONFIG.md', import.meta.url), 'utf8');
const examples = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1] as string);

test('docs/CONFIG.md has examples', () => {
  expect(examples.length).toBeGreaterThan(5);
});

test.each(examples.map((example, k) => [k, example]))(
  'example %i is a valid config',
  (_, example) => {
    expect(() => parseConfig(JSON.parse(example))).not.toThrow();
  },
);

test('a sink named like a recipient is a mistake', () => {
  expect(() =>
    parseConfig({ recipients: { audit: {} }, sinks: { audit: { kind: 'jsonl', path: 'a' } } }),
  ).toThrow(/sinks\.audit: 'audit' is also a recipient's name/);
});

test('a sink of an unknown kind, or missing its target, is a mistake with its path', () => {
  expect(() => parseConfig({ sinks: { s: { kind: 'kafka' } } })).toThrow(/sinks\.s\.kind/);
  expect(() => parseConfig({ sinks: { s: { kind: 'webhook' } } })).toThrow(/sinks\.s\.url/);
  expect(() => parseConfig({ sinks: { s: { kind: 'relp', address: 'nohost' } } })).toThrow(
    /sinks\.s\.address: HOST:PORT/,
  );
});

test('a webhook: header names checked, batches of at most 256 (its header names each event)', () => {
  const webhook = { kind: 'webhook', url: 'http://127.0.0.1:1/' };
  expect(() => parseConfig({ sinks: { h: { ...webhook, headers: { 'bad name': 'x' } } } })).toThrow(
    /sinks\.h\.headers\.bad name: Invalid key/,
  );
  expect(() => parseConfig({ sinks: { h: { ...webhook, batchMax: 257 } } })).toThrow(
    /sinks\.h\.batchMax/,
  );
  expect(parseConfig({ sinks: { h: webhook } }).sinks['h']).toMatchObject({ batchMax: 64 });
});
