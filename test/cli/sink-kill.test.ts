/**
 * The jsonl sink through kill -9 of the daemon (src/sinks/jsonl.ts): `nvrelay serve` with a
 * jsonl sink, two `nvrelay emit` producers, and the daemon killed with SIGKILL at seeded random
 * moments and started again. Then it runs until the file holds every acknowledged event:
 *
 * - no loss: every seq a producer saw acknowledged (`A` lines) is in the file;
 * - whole lines only: every line of the file parses (a torn last line is cut off on reopen);
 * - duplicates only of events around a kill (written, not yet confirmed): counted, and fewer
 *   than a window per kill;
 * - nothing owed at the end: the sink confirmed all it wrote.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { cliMain } from '../daemon/harness.js';
import { killAll, prng, role, sleep, start, waitFor } from './processes.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-sink-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterAll(killAll);

const windowMax = 32;

function fileSeqs(path: string): number[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { seq: number }).seq);
}

test('kill -9 of the daemon at random moments: every acknowledged event in the file', async () => {
  const path = join(dir, 'events.jsonl');
  const config = join(dir, 'serve.json');
  writeFileSync(
    config,
    JSON.stringify({
      sinks: {
        file: {
          kind: 'jsonl',
          path,
          inFlightMax: windowMax,
          batchMax: 16,
          retry: { timeoutMs: 200, attemptsMax: 1000 },
        },
      },
    }),
  );
  const socket = join(dir, 'd.sock');
  const daemon = role('serve', [
    'serve',
    join(dir, 'd.nvram'),
    '--socket',
    socket,
    '--config',
    config,
  ]);
  const emitters = ['raid', 'net'].map((name) =>
    role(name, [
      'emit',
      '--socket',
      socket,
      '--source',
      name,
      '--type',
      `${name}.event`,
      '--severity',
      'info',
      '--count',
      '3000',
      '--window',
      '8',
    ]),
  );
  start(daemon);
  await waitFor(() => daemon.lines.some((line) => line.includes('listening')), 10_000);
  for (const emitter of emitters) start(emitter);
  // each run of the daemon lives until the file grew, then a seeded while more: producers
  // reconnect with backoff, so a daemon killed at once would test nothing
  const random = prng(20261204);
  for (let kill = 0; kill < 8; kill++) {
    const lines = fileSeqs(path).length;
    await waitFor(() => fileSeqs(path).length > lines, 5_000);
    await sleep(random() * 400);
    daemon.child?.kill('SIGKILL');
    daemon.kills++;
    await waitFor(() => daemon.child === null, 2_000);
    start(daemon);
  }
  for (const emitter of emitters) {
    emitter.loop = false;
    emitter.child?.kill('SIGKILL');
  }
  if (daemon.child === null) start(daemon);

  const acked = new Set<number>();
  for (const emitter of emitters)
    for (const line of emitter.lines) {
      const match = /^A (\d+)$/.exec(line);
      if (match !== null) acked.add(Number(match[1]));
    }
  const drained = await waitFor(() => {
    const seen = new Set(fileSeqs(path));
    return [...acked].every((seq) => seen.has(seq));
  }, 30_000);
  daemon.loop = false;
  daemon.child?.kill('SIGTERM');
  await waitFor(() => daemon.child === null, 5_000);

  const seqs = fileSeqs(path); // throws on a line that does not parse
  const seen = new Set(seqs);
  const duplicates = seqs.length - seen.size;
  const missing = [...acked].filter((seq) => !seen.has(seq));
  console.log(
    `jsonl through ${daemon.kills} kill -9 of the daemon: ${acked.size} acknowledged, ` +
      `${seqs.length} lines, ${duplicates} duplicates`,
  );
  expect(daemon.kills).toBeGreaterThanOrEqual(6);
  expect(acked.size).toBeGreaterThan(100);
  expect(drained, `missing ${missing.slice(0, 20).join(' ')}`).toBe(true);
  expect(missing).toEqual([]);
  expect(duplicates).toBeLessThanOrEqual(daemon.kills * windowMax);
  expect(daemon.errors.join('')).toBe('');
  const inspected = JSON.parse(
    execFileSync(process.execPath, [cliMain, 'inspect', join(dir, 'd.nvram'), '--json'], {
      encoding: 'utf8',
    }),
  ) as { node: { fifos: { pending: number }[] } };
  expect(inspected.node.fifos.map((fifo) => fifo.pending)).toEqual([0, 0]);
});
