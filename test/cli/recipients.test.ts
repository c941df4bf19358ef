/**
 * `nvrelay recipients retire` and what `inspect` shows of a recipient that holds events back,
 * run as a user runs them (the built CLI in a child process; run `npm run build` first) on a
 * device prepared here through the library: 'audit' confirmed three events, 'gone' owes them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatLimits, formatNodeDevice } from '../../src/node/device-file.js';
import { Node } from '../../src/node/node.js';
import { DirectNvram } from '../../src/nvram/index.js';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-recipients-'));
const deviceBytes = 1 << 20;

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nvrelay(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let deviceCount = 0;

function preparedDevice(events = 3): { path: string; seqs: number[] } {
  const path = join(dir, `recipients-${deviceCount++}.nvram`);
  formatNodeDevice(path, deviceBytes, formatLimits(deviceBytes, 256));
  const device = DirectNvram.open(path);
  const node = Node.boot(device, { scheduling: 'manual' });
  node.registerRecipient('audit', {}, (event, recipient) => recipient.confirm(event.seq));
  node.registerRecipient('gone', {}, () => {});
  node.start();
  const disks = node.producer('raid');
  const seqs = Array.from({ length: events }, (_, disk) =>
    disks.emitJson('disk.failed', 'err', { disk }),
  );
  node.drainUntilIdle();
  node.close();
  device.close();
  return { path, seqs };
}

interface InspectJson {
  node: {
    recipients: { id: number; name: string; owed: number; oldestOwedSeq: number | null }[];
    fifos: { name: string; pending: number }[];
    deadLetters: { held: number };
  };
}

function inspectJson(path: string): InspectJson {
  const result = nvrelay('inspect', path, '--json');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as InspectJson;
}

describe('nvrelay inspect: recipients that hold events back', () => {
  test('shows how many pending events each recipient owes and the oldest seq', () => {
    const { path, seqs } = preparedDevice();
    const text = nvrelay('inspect', path).stdout;
    expect(text).toContain('recipients  audit (0), gone (1)');
    expect(text).toContain(`holds back  gone (1): 3 pending events owed, oldest seq ${seqs[0]}`);
    expect(text).not.toMatch(/holds back\s+audit/);
    expect(inspectJson(path).node.recipients).toEqual([
      { id: 0, name: 'audit', owed: 0, oldestOwedSeq: null },
      { id: 1, name: 'gone', owed: 3, oldestOwedSeq: seqs[0] },
    ]);
  });
});

describe('nvrelay recipients retire', () => {
  test('dead-letters what the recipient owes and frees its id', () => {
    const { path, seqs } = preparedDevice();
    const result = nvrelay('recipients', 'retire', path, 'gone', '--reason', 'decommissioned');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      "retired recipient 'gone': 3 owed events dead-lettered, its id freed",
    );
    const json = inspectJson(path);
    expect(json.node.recipients.map((r) => r.name)).toEqual(['audit']);
    expect(json.node.fifos.find((fifo) => fifo.name === 'runtime-fifo')?.pending).toBe(0);
    expect(json.node.deadLetters.held).toBe(3);
    const dump = JSON.parse(nvrelay('dump', path, '--json').stdout) as {
      deadLetters: { seq: number; reason: string }[];
    };
    expect(dump.deadLetters.map((l) => [l.seq, l.reason])).toEqual(
      seqs.map((seq) => [seq, 'recipient-retired']),
    );
  });

  test('one owed event is named in the singular', () => {
    const { path, seqs } = preparedDevice(1);
    const result = nvrelay('recipients', 'retire', path, 'gone');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(
      "retired recipient 'gone': 1 owed event dead-lettered, its id freed\n",
    );
    expect(inspectJson(path).node.deadLetters.held).toBe(seqs.length);
  });

  test('an unknown name exits 1 with the typed error; so does a second retirement', () => {
    const { path } = preparedDevice();
    const unknown = nvrelay('recipients', 'retire', path, 'nobody');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no recipient 'nobody' .*\(RECIPIENT_UNKNOWN\)/);
    expect(nvrelay('recipients', 'retire', path, 'gone').status).toBe(0);
    const again = nvrelay('recipients', 'retire', path, 'gone');
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('(RECIPIENT_UNKNOWN)');
  });

  test('a missing device is a typed error; missing arguments are bad usage', () => {
    const missing = nvrelay('recipients', 'retire', join(dir, 'absent.nvram'), 'gone');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('(NVRAM_FILE_MISSING)');
    expect(nvrelay('recipients', 'retire').status).toBe(2);
  });
});
