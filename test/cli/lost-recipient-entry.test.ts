/**
 * A node device whose recipient table lost the entry of a recipient that events are still owed
 * to (the entry damaged, its name gone), through the built CLI in child processes: `check`
 * reports the repair boot recovery would make, `dump` shows the owed recipient by its id (#0)
 * since it has no name any more, and `pump` refuses before the boot, naming that id, and leaves
 * the file as it was. `recipients retire` by that id (`#0`) then dead-letters the owed event and
 * frees the entry: `check` finds nothing more and `pump` runs. An id that is not damaged is
 * refused, the file unchanged.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openNodeDevice } from '../../src/node/device-file.js';
import { Node } from '../../src/node/node.js';
import { runCli } from './processes.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-lost-recipient-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const path = join(folder, 'lost.nvram');
let seq = 0;

beforeAll(() => {
  const { device } = openNodeDevice(path, { durability: 'process', sizeBytes: 1 << 20 });
  const node = Node.boot(device, { scheduling: 'manual' });
  node.registerRecipient('pager', {}, () => {}); // id 0, never confirms
  node.start();
  seq = node.producer('raid').emit('disk.failed', 'err');
  node.drain();
  const entries = device.section('recipients').offset;
  node.close();
  device.close();
  // pager's entry (the first) overwritten: its checksum no longer matches
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, new Uint8Array([0x5a, 0xa5, 0x5a, 0xa5]), 0, 4, entries);
  } finally {
    closeSync(fd);
  }
});

describe('a device whose owed recipient lost its entry', () => {
  test('check: the damaged entry is the one finding, exit 1', async () => {
    const run = await runCli(['check', path, '--json']);
    expect(run.status).toBe(1);
    const { findings } = JSON.parse(run.stdout) as {
      findings: { code: string; message: string }[];
    };
    expect(findings).toEqual([
      {
        code: 'NODE_RECOVERY',
        message: `nvrelay: ${path}: nvrelay.recipient.damaged {"section":"recipients","ids":[0]}`,
      },
    ]);
  });

  test('dump: the event is still owed, to #0', async () => {
    const run = await runCli(['dump', path, '--json']);
    expect(run.status).toBe(0);
    const { pending } = JSON.parse(run.stdout) as {
      pending: { seq: number; intended: string[]; owed: string[] }[];
    };
    expect(pending.map(({ seq, intended, owed }) => ({ seq, intended, owed }))).toEqual([
      { seq, intended: ['#0'], owed: ['#0'] },
    ]);
  });

  test('pump: refused before the boot naming #0, the file unchanged', async () => {
    const before = readFileSync(path);
    const run = await runCli(['pump', path, '--count', '1']);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('register (#0)');
    expect(run.stderr).toMatch(/\(NODE_STATE\)\n$/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test('recipients retire by an id that is not damaged: RECIPIENT_UNKNOWN, the file unchanged', async () => {
    const before = readFileSync(path);
    for (const id of ['#1', '#99']) {
      const run = await runCli(['recipients', 'retire', path, id, '--json']);
      expect(run.status).toBe(1);
      expect(JSON.parse(run.stdout)).toMatchObject({ error: { code: 'RECIPIENT_UNKNOWN' } });
    }
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test('recipients retire #0: the owed event is dead-lettered, the entry freed, pump runs', async () => {
    const run = await runCli(['recipients', 'retire', path, '#0', '--json']);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ recipient: '#0', deadLettered: 1 });
    const check = await runCli(['check', path, '--json']);
    expect(check.status).toBe(0);
    const dump = JSON.parse((await runCli(['dump', path, '--json'])).stdout) as {
      pending: unknown[];
      deadLetters: { seq: number; reason: string }[];
    };
    expect(dump.pending).toEqual([]);
    expect(dump.deadLetters).toEqual([
      expect.objectContaining({ seq, reason: 'recipient-retired' }),
    ]);
    const pump = await runCli(['pump', path, '--count', '1', '--quiet']);
    expect(pump.stderr).toBe('');
    expect(pump.status).toBe(0);
  });
});
