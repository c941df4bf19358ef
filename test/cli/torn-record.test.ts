/**
 * The read-only commands (the built CLI in a child process) on a device file left by a power cut
 * during a group commit: the first of three records is torn and the two after it are intact,
 * past a tail word that was never made durable (row D5). Recovery passes the torn record by
 * design, so `check` finds the device sound (text and --json), while `dump` lists the torn
 * slot as discarded, with no seq, before the two events still owed, and `inspect` counts it as
 * discarded in its node part. None of them changes the file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fifoOffsets } from '../../src/fifo/layout.js';
import { bootNode, bytes, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';
import { runCli } from './processes.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-torn-record-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A ring large enough that its tail word lags the appends (it is persisted lazily). */
const limits = { ...smallLimits, runtimeSlots: 128 };
const path = join(folder, 'torn.nvram');
let seqs: number[] = [];
let image: Buffer;

beforeAll(() => {
  const { node, device } = bootNode(freshDevice(limits));
  node.registerRecipient('pager', {}, () => {}); // never confirms
  node.start();
  const raid = node.producer('raid');
  seqs = [1, 2, 3].map((k) => raid.emit('disk.failed', 'err', bytes(k)));
  const cut = rebootDurable(device); // the power cut: only what was durable
  const fifo = cut.section('runtime-fifo');
  // one bit of record 0 (the first slot) flipped: its checksum no longer matches, as if torn
  cut.flipBits(fifo.offset + fifoOffsets.slots + 65, 1, 1, 7);
  writeFileSync(path, cut.buildDurableImage());
  image = readFileSync(path);
});

describe('a torn record followed by intact ones', () => {
  test('check: sound, exit 0, in text and as JSON', async () => {
    const text = await runCli(['check', path]);
    expect(text.status).toBe(0);
    expect(text.stdout).toBe(`${path}: sound\n`);
    const json = await runCli(['check', path, '--json']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ path, sound: true, findings: [] });
  });

  test('dump: the torn slot discarded, without a seq, then the two events still owed', async () => {
    const run = await runCli(['dump', path, '--json']);
    expect(run.status).toBe(0);
    const { pending } = JSON.parse(run.stdout) as {
      pending: { position: number; verdict: string; seq: number | null; owed: string[] }[];
    };
    expect(
      pending.map(({ position, verdict, seq, owed }) => ({ position, verdict, seq, owed })),
    ).toEqual([
      { position: 0, verdict: 'torn', seq: null, owed: [] },
      { position: 1, verdict: 'valid', seq: seqs[1], owed: ['pager'] },
      { position: 2, verdict: 'valid', seq: seqs[2], owed: ['pager'] },
    ]);
    const text = await runCli(['dump', path]);
    expect(text.stdout).toContain('runtime-fifo@0 DISCARDED (torn)');
  });

  test('inspect: one record discarded, three slots pending, two owed to pager', async () => {
    const run = await runCli(['inspect', path, '--json']);
    expect(run.status).toBe(0);
    const { node } = JSON.parse(run.stdout) as {
      node: {
        discarded: number;
        fifos: { name: string; pending: number }[];
        recipients: { name: string; owed: number; oldestOwedSeq: number | null }[];
      };
    };
    expect(node.discarded).toBe(1);
    expect(node.fifos.find((fifo) => fifo.name === 'runtime-fifo')?.pending).toBe(seqs.length);
    expect(node.recipients).toEqual([
      expect.objectContaining({ name: 'pager', owed: 2, oldestOwedSeq: seqs[1] }),
    ]);
    const text = await runCli(['inspect', path]);
    expect(text.stdout).toContain('discarded     1 torn or corrupt records');
    expect(readFileSync(path).equals(image)).toBe(true); // every command here only read it
  });
});
