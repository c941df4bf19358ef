/**
 * cli/check.ts in process on a node device damaged where boot recovery repairs instead of
 * refusing: a dead letter, the seq lease, a recipient entry and the FIFO pointers are each a
 * finding with its own code, and checking changes nothing on the device.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { checkDevice } from '../../cli/check.js';
import { formatLimits, formatNodeDevice } from '../../src/node/device-file.js';
import { leaseOffset, sectionNames } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import { DirectNvram } from '../../src/nvram/index.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-check-recovery-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const deviceBytes = 1 << 20;
let devices = 0;

/**
 * Two events for pager (dead-lettered after 2 attempts) and slow (still owed): a device with
 * pending events, dead letters and two recipients. Returns its sections' offsets.
 */
function preparedDevice(): { path: string; offsets: Record<string, number> } {
  const path = join(folder, `node-${devices++}.nvram`);
  formatNodeDevice(path, deviceBytes, formatLimits(deviceBytes, 256));
  const device = DirectNvram.open(path);
  const clock = { time: 1_700_000_000_000, now: () => clock.time };
  const node = Node.boot(device, { scheduling: 'manual', clock });
  node.registerRecipient('pager', {}, () => {}, { retry: { timeoutMs: 10, attemptsMax: 2 } });
  node.registerRecipient('slow', {}, () => {}, { retry: { timeoutMs: 60_000 } });
  node.start();
  const raid = node.producer('raid');
  for (const disk of [0, 1]) raid.emitJson('disk.failed', 'err', { disk });
  for (let round = 0; round < 4; round++) {
    node.drainUntilIdle();
    clock.time += 100; // past pager's timeouts: a re-delivery, then the dead letter
  }
  const offsets = Object.fromEntries(
    Object.values(sectionNames).map((name) => [name, device.section(name).offset]),
  );
  node.close();
  device.close();
  return { path, offsets };
}

function damage(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, new Uint8Array([0x5a, 0xa5, 0x5a, 0xa5]), 0, 4, offset);
  } finally {
    closeSync(fd);
  }
}

describe('checkDevice on what boot recovery repairs', () => {
  test('the prepared device is sound', () => {
    expect(checkDevice(preparedDevice().path)).toEqual([]);
  });

  test.each([
    // the first dead letter's record, past the section's descriptor
    [
      'a dead letter',
      sectionNames.deadLetter,
      72,
      'NODE_DEAD_LETTER_DAMAGED',
      'nvrelay.deadletter.damaged {"section":"dead-letter","damaged":1}',
    ],
    [
      'the seq lease',
      sectionNames.control,
      leaseOffset,
      'NODE_SEQ_LEASE',
      'nvrelay.lease.repaired {"seqSeen":2}',
    ],
    // a recovery event without a code of its own
    [
      'a recipient entry',
      sectionNames.recipients,
      0,
      'NODE_RECOVERY',
      'nvrelay.recipient.damaged {"section":"recipients","ids":[0]}',
    ],
    [
      'the FIFO head',
      sectionNames.runtimeFifo,
      64,
      'NODE_FIFO_POINTERS',
      'nvrelay.fifo.salvaged {"section":"runtime-fifo","head":0,"tail":2,',
    ],
  ])(
    '%s damaged is one finding, and the device is left as it was',
    (_, section, at, code, text) => {
      const { path, offsets } = preparedDevice();
      damage(path, (offsets[section] as number) + at);
      const before = readFileSync(path);
      const findings = checkDevice(path);
      expect(findings).toHaveLength(1);
      expect(findings[0]?.code).toBe(code);
      expect(findings[0]?.message).toContain(`nvrelay: ${path}: ${text}`);
      expect(readFileSync(path).equals(before)).toBe(true);
    },
  );
});
