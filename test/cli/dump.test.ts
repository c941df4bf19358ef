/**
 * `nvrelay dump`, `redeliver`, and the node parts of `inspect` and `check`, run as a user runs
 * them (the built CLI in a child process; run `npm run build` first) on a device prepared here
 * through the library: three events that one recipient confirmed, one dead-lettered and one
 * still owes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatLimits, formatNodeDevice } from '../../src/node/device-file.js';
import { Node } from '../../src/node/node.js';
import { DirectNvram } from '../../src/nvram/index.js';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-dump-'));
const deviceBytes = 1 << 20;

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nvrelay(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Dump {
  pending: {
    fifo: string;
    position: number;
    verdict: string;
    seq: number | null;
    type: string | null;
    details: string | null;
    intended: string[];
    owed: string[];
    originalSeq: number;
  }[];
  deadLetters: { recipient: string; seq: number; reason: string; attempts: number }[];
}

function dumpJson(path: string): Dump {
  const result = nvrelay('dump', path, '--json');
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as Dump;
}

let deviceCount = 0;

/**
 * A device holding three events emitted for audit, pager and slow: audit confirmed them all,
 * pager never does (dead-lettered after 2 attempts), slow never does (its retries are far off).
 */
function preparedDevice(): { path: string; seqs: number[] } {
  const path = join(dir, `dump-${deviceCount++}.nvram`);
  formatNodeDevice(path, deviceBytes, formatLimits(deviceBytes, 256));
  const device = DirectNvram.open(path);
  const clock = { time: Date.now(), now: () => clock.time };
  const node = Node.boot(device, { scheduling: 'manual', clock });
  node.registerRecipient('audit', {}, (event, recipient) => recipient.confirm(event.seq));
  node.registerRecipient('pager', {}, () => {}, { retry: { timeoutMs: 10, attemptsMax: 2 } });
  node.registerRecipient('slow', {}, () => {}, { retry: { timeoutMs: 60_000 } });
  node.start();
  const disks = node.producer('raid');
  const seqs = [0, 1, 2].map((disk) => disks.emitJson('disk.failed', 'err', { disk }));
  for (let round = 0; round < 4; round++) {
    node.drainUntilIdle();
    clock.time += 100; // past pager's timeouts: a re-delivery, then the dead letter
  }
  node.close();
  device.close();
  return { path, seqs };
}

describe('nvrelay dump', () => {
  test('lists the pending events, who still owes them, and the dead letters', () => {
    const { path, seqs } = preparedDevice();
    const dump = dumpJson(path);
    expect(dump.pending.map((event) => event.seq)).toEqual(seqs);
    for (const [disk, event] of dump.pending.entries()) {
      expect(event).toMatchObject({
        fifo: 'runtime-fifo',
        verdict: 'valid',
        type: 'disk.failed',
        details: JSON.stringify({ disk }),
        intended: ['audit', 'pager', 'slow'],
        owed: ['slow'],
        originalSeq: 0,
      });
    }
    expect(dump.deadLetters).toEqual(
      seqs.map((seq) =>
        expect.objectContaining({
          recipient: 'pager',
          seq,
          reason: 'attempts-exhausted',
          attempts: 2,
        }),
      ),
    );
    const text = nvrelay('dump', path).stdout;
    expect(text).toContain('pending events: 3');
    expect(text).toMatch(
      new RegExp(`seq ${seqs[0]} runtime-fifo@0 .* err raid disk.failed owed by slow`),
    );
    expect(text).toContain('dead letters: 3');
    expect(text).toMatch(
      new RegExp(`seq ${seqs[2]} for pager: attempts-exhausted after 2 attempts`),
    );
  });

  test('reads without writing: the file is unchanged and its boot count not moved', () => {
    const { path } = preparedDevice();
    const before = readFileSync(path);
    dumpJson(path);
    expect(nvrelay('inspect', path).status).toBe(0);
    expect(nvrelay('check', path).status).toBe(0);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test('a missing device and a device without a node are typed errors, exit 1', () => {
    const missing = nvrelay('dump', join(dir, 'absent.nvram'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('(NVRAM_FILE_MISSING)');
    const bare = join(dir, 'bare.nvram');
    expect(nvrelay('init', bare, '--bare', '--size', '64K', '--sections', 'events:8K').status).toBe(
      0,
    );
    const result = nvrelay('dump', bare);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('(NVRAM_UNKNOWN_SECTION)');
  });
});

describe('nvrelay inspect and check on a node device', () => {
  test('inspect shows the FIFOs, the pools and the dead-letter section', () => {
    const { path } = preparedDevice();
    const text = nvrelay('inspect', path).stdout;
    expect(text).toMatch(/runtime-fifo\s+0\s+3\s+3\s+\d+\s+\d+ (ms|s)/); // head, tail, pending, slots, age
    expect(text).toMatch(/boot-fifo\s+0\s+0\s+0\s+64\s+-/);
    expect(text).toMatch(/runtime\s+\d+\s+3\s+\d+/); // a pool with 3 slots used
    expect(text).toContain('dead letters  3 held, 0 damaged');
    expect(text).toContain('recipients  audit (0), pager (1), slow (2)');
    const json = JSON.parse(nvrelay('inspect', path, '--json').stdout) as {
      node: { fifos: { name: string; pending: number; oldestPendingAgeMs: number | null }[] };
    };
    const runtime = json.node.fifos.find((fifo) => fifo.name === 'runtime-fifo');
    expect(runtime?.pending).toBe(3);
    expect(runtime?.oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
  });

  test('check finds a corrupt record (exit 1) that dump shows as discarded', () => {
    const { path, seqs } = preparedDevice();
    expect(nvrelay('check', path).stdout).toContain('sound');
    const json = JSON.parse(nvrelay('inspect', path, '--json').stdout) as {
      sections: { name: string; offset: number }[];
      node: { geometry: { slotBytes: number } };
    };
    const fifo = json.sections.find((section) => section.name === 'runtime-fifo');
    const bytes = readFileSync(path);
    const detailsAt = (fifo?.offset ?? 0) + 256 + json.node.geometry.slotBytes + 85; // slot 1's details
    bytes[detailsAt] = (bytes[detailsAt] as number) ^ 0x40;
    writeFileSync(path, bytes);
    const result = nvrelay('check', path);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(
      /runtime-fifo position 1: bad-checksum .*\(NODE_RECORD_INVALID\)/,
    );
    expect(result.stdout).toContain('1 finding');
    const dump = dumpJson(path);
    expect(dump.pending.map((event) => event.verdict)).toEqual(['valid', 'bad-checksum', 'valid']);
    expect(dump.pending.map((event) => event.seq)).toEqual([seqs[0], null, seqs[2]]);
    expect(nvrelay('dump', path).stdout).toContain('runtime-fifo@1 DISCARDED (bad-checksum)');
  });
});

describe('nvrelay redeliver', () => {
  test("records one recipient's dead letters again as new events for it alone", () => {
    const { path, seqs } = preparedDevice();
    const result = nvrelay('redeliver', path, '--recipient', 'pager', '--seq', String(seqs[1]));
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('re-delivered 1 dead letter');
    const dump = dumpJson(path);
    expect(dump.deadLetters.map((letter) => letter.seq)).toEqual([seqs[0], seqs[2]]);
    const again = dump.pending[dump.pending.length - 1];
    expect(again).toMatchObject({ intended: ['pager'], owed: ['pager'], originalSeq: seqs[1] });
    expect(again?.seq).toBeGreaterThan(seqs[2] as number);
    expect(nvrelay('redeliver', path).stdout).toContain('re-delivered 2 dead letters');
    expect(dumpJson(path).deadLetters).toEqual([]);
  });
});
