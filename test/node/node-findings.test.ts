/**
 * When recovery's later findings are raised (row R2, [231]): a damaged record found while
 * booting (a remote recipient confirming ahead, which examines the records up to its seq) is
 * counted at once and waits for start, which raises it through the boot pool; one found while
 * running is raised by the next pass, and that pass reports progress although nothing was
 * delivered.
 */
import { describe, expect, test } from 'vitest';
import { fifoOffsets, slotBytesFor } from '../../src/fifo/layout.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { bootNode, bytes, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';

const limits = { ...smallLimits, runtimeSlots: 128 };

/** A durable device where 'r' owes seqs 1..3 and record 1 (seq 2) has a flipped bit. */
function damagedDevice(): TracedNvram {
  const { node, device } = bootNode(freshDevice(limits));
  node.registerRecipient('r', {}, () => {});
  node.start();
  const p = node.producer('p');
  for (let k = 1; k <= 3; k++) p.emit('a.x', 'err', bytes(k));
  node.close();
  const rebooted = rebootDurable(device);
  const fifo = rebooted.section('runtime-fifo');
  const slotBytes = slotBytesFor(limits.detailsBytesMax ?? 0);
  rebooted.flipBits(fifo.offset + fifoOffsets.slots + slotBytes + 65, 1, 1, 3); // record 1's type
  return rebooted;
}

describe('findings of a damaged record', () => {
  test('found while booting: counted now, raised at start', () => {
    const { node } = bootNode(damagedDevice());
    const r = node.registerRecipient('r', {}, () => {});
    expect(r.confirm(3)).toBe(true); // examines records 0..2: record 1 is discarded
    expect(node.recovery.discarded).toBe(1);
    expect(node.stats().counters.discarded).toBe(1);
    expect(node.drain()).toBe(false); // nothing raised while booting
    expect(node.recovery.events).toEqual([]);
    expect(node.stats().counters.emitted).toBe(0);
    node.start();
    expect(node.recovery.events.map((event) => event.type)).toEqual(['nvrelay.record.discarded']);
    expect(node.stats().counters.emitted).toBe(1);
  });

  test('found while running: the next pass raises it and reports progress', () => {
    const { node } = bootNode(damagedDevice());
    const r = node.registerRecipient('r', {}, () => {});
    node.start();
    node.detachRecipient(r); // nothing is delivered
    expect(node.drain()).toBe(false);
    expect(r.confirm(3)).toBe(true);
    expect(node.stats().counters.discarded).toBe(1);
    expect(node.drain()).toBe(true);
    expect(node.recovery.events.map((event) => event.type)).toEqual(['nvrelay.record.discarded']);
    expect(node.stats().counters.emitted).toBe(1);
    expect(node.drain()).toBe(false);
  });
});
