/**
 * Media faults (SPEC 3): a damaged record is detected by its checksum, discarded (never
 * delivered) and reported as an event; damaged pointers are salvaged; a damaged control block
 * or a lost device stops the boot with a typed error instead of being read as events.
 */
import { describe, expect, test } from 'vitest';
import type { EventCopy } from '../../src/engine/event-view.js';
import { leaseOffset } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import { NvramError, TracedNvram } from '../../src/nvram/index.js';
import { fifoOffsets, slotBytesFor } from '../../src/fifo/layout.js';
import { bootNode, bytes, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';
import { WordRole, loadCounterWord, storeCounterWord } from '../../src/events/checked-word.js';
import { crc32c } from '../../src/events/crc32c.js';

/**
 * Emits three events nobody confirms (the recipient is registered, then the power goes). With
 * `close` the node is closed first, so the tail word is durable past all three (row D2);
 * without it the tail word is the lazy hint and recovery finds them by its scan (row D4).
 */
function deviceWithPending(close = true): { device: TracedNvram; seqs: number[] } {
  // a ring above tailLagSmallRingSlots, so that the tail word lags
  const { node, device } = bootNode(freshDevice({ ...smallLimits, runtimeSlots: 128 }));
  node.registerRecipient('r', {}, () => {});
  node.start();
  const p = node.producer('p');
  const seqs = [
    p.emit('a.x', 'err', bytes(1)),
    p.emit('a.y', 'err', bytes(2)),
    p.emit('a.z', 'err', bytes(3)),
  ];
  if (close) node.close();
  return { device: rebootDurable(device), seqs };
}

function recoverAll(device: TracedNvram): { node: Node; seen: EventCopy[] } {
  const { node } = bootNode(device);
  const seen: EventCopy[] = [];
  node.registerRecipient('r', {}, (event, recipient) => {
    seen.push(event.toJSON());
    recipient.confirm(event.seq);
  });
  node.start();
  node.drainUntilIdle();
  return { node, seen };
}

describe('media faults', () => {
  test('a bit flip in a pending record: discarded, reported, the others replayed', () => {
    const { device, seqs } = deviceWithPending();
    const fifo = device.section('runtime-fifo');
    const slotBytes = slotBytesFor(smallLimits.detailsBytesMax ?? 0);
    device.flipBits(fifo.offset + fifoOffsets.slots + slotBytes + 65, 1, 1, 3); // record 1's type name
    const { node, seen } = recoverAll(device);
    expect(node.recovery).toMatchObject({ replayed: 3, discarded: 1 }); // found as replay reached it
    const user = seen.filter((e) => e.source !== 'nvrelay');
    expect(user.map((e) => e.seq)).toEqual([seqs[0], seqs[2]]);
    const report = seen.find((e) => e.type === 'nvrelay.record.discarded');
    expect(report).toBeDefined();
    // the full report is in node.recovery; the event carries what fits in detailsBytesMax
    expect(JSON.parse(new TextDecoder().decode(report?.details))).toEqual({
      section: 'runtime-fifo',
      discarded: 1,
    });
    expect(node.recovery.events[0]?.details).toEqual({
      section: 'runtime-fifo',
      discarded: 1,
      reasons: { 'bad-checksum': 1 },
      positions: [1],
    });
    expect(node.idle()).toBe(true);
    expect(node.stats().fifos[1]?.pending).toBe(0); // the head moved past the discarded slot
  });

  test('a bit flip in a record past the durable tail word: that one reported, the rest delivered (D5)', () => {
    const { device, seqs } = deviceWithPending(false);
    const fifo = device.section('runtime-fifo');
    expect(loadCounterWord(device, fifo.offset + fifoOffsets.tail, WordRole.tail)).toBe(0); // the hint was never flushed
    const slotBytes = slotBytesFor(smallLimits.detailsBytesMax ?? 0);
    device.flipBits(fifo.offset + fifoOffsets.slots + slotBytes + 65, 1, 1, 3); // record 1's type name
    const { node, seen } = recoverAll(device);
    // the scan passes the damaged record because an intact one with a higher seq follows it:
    // the damaged one is never delivered, the others are
    expect(node.recovery).toMatchObject({ replayed: 3, discarded: 0 });
    expect(seen.filter((e) => e.source !== 'nvrelay').map((e) => e.seq)).toEqual([
      seqs[0],
      seqs[2],
    ]);
    // and not silently: the damaged record is reported where it is
    const torn = node.recovery.events.filter((e) => e.type === 'nvrelay.record.torn');
    expect(torn.map((e) => e.details)).toEqual([
      { section: 'runtime-fifo', position: 1, reason: 'bad-checksum' },
    ]);
    expect(seen.find((e) => e.type === 'nvrelay.record.torn')?.severity).toBe('warning');
  });

  test('a bit flip in the position word of the last record past the tail word is reported too', () => {
    const { device, seqs } = deviceWithPending(false);
    const fifo = device.section('runtime-fifo');
    const slotBytes = slotBytesFor(smallLimits.detailsBytesMax ?? 0);
    device.flipBits(fifo.offset + fifoOffsets.slots + 2 * slotBytes + 16, 1, 1, 5); // position word
    const { node, seen } = recoverAll(device);
    expect(seen.filter((e) => e.source !== 'nvrelay').map((e) => e.seq)).toEqual(seqs.slice(0, 2));
    const torn = node.recovery.events.filter((e) => e.type === 'nvrelay.record.torn');
    expect(torn.map((e) => e.details)).toEqual([
      { section: 'runtime-fifo', position: 2, reason: 'bad-checksum' },
    ]);
  });

  test('without faults, records past the durable tail word are all found (row D4)', () => {
    const { device, seqs } = deviceWithPending(false);
    const { node, seen } = recoverAll(device);
    expect(node.recovery).toMatchObject({ replayed: 3, discarded: 0 });
    expect(seen.map((e) => e.seq)).toEqual(seqs);
  });

  test('a damaged tail pointer is salvaged from the slots and reported', () => {
    const { device, seqs } = deviceWithPending();
    const fifo = device.section('runtime-fifo');
    device.flipBits(fifo.offset + fifoOffsets.tail + 6, 1, 1, 1); // a high byte of the tail word
    const { node, seen } = recoverAll(device);
    expect(seen.filter((e) => e.source !== 'nvrelay').map((e) => e.seq)).toEqual(seqs);
    expect(seen.some((e) => e.type === 'nvrelay.fifo.salvaged')).toBe(true);
    expect(node.idle()).toBe(true);
  });

  test('a damaged seq lease is repaired above every seq found, and reported', () => {
    const { device, seqs } = deviceWithPending();
    const control = device.section('control');
    storeCounterWord(device, control.offset + leaseOffset, WordRole.lease, 0);
    const { node, seen } = recoverAll(device);
    expect(seen.some((e) => e.type === 'nvrelay.lease.repaired')).toBe(true);
    const next = node.producer('p').emit('a.w', 'err');
    expect(next).toBeGreaterThan(Math.max(...seqs));
  });

  test('a damaged seq lease with nothing pending still never reissues a seq (retired records count)', () => {
    const { node, device } = bootNode(freshDevice({ ...smallLimits, runtimeSlots: 128 }));
    node.registerRecipient('r', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    const p = node.producer('p');
    const seqs = Array.from({ length: 5 }, (_, i) => p.emit('a.x', 'err', bytes(i)));
    node.drainUntilIdle();
    node.close(); // every event confirmed and retired: nothing pending
    const rebooted = rebootDurable(device);
    const control = rebooted.section('control');
    storeCounterWord(rebooted, control.offset + leaseOffset, WordRole.lease, 0);
    const { node: again, seen } = recoverAll(rebooted);
    expect(seen.filter((e) => e.source !== 'nvrelay')).toEqual([]);
    expect(seen.some((e) => e.type === 'nvrelay.lease.repaired')).toBe(true);
    expect(again.producer('p').emit('a.w', 'err')).toBeGreaterThan(Math.max(...seqs));
  });

  test('a recovery report the full boot pool cannot take is counted as recovery\u2019s, not a producer\u2019s', () => {
    const { device } = deviceWithPending();
    const control = device.section('control');
    storeCounterWord(device, control.offset + leaseOffset, WordRole.lease, 0); // row L1: reported at start
    const { node } = bootNode(device);
    const p = node.producer('p');
    for (let i = 0; i < node.bootPool.capacity; i++) p.emit('boot.x', 'err'); // fills the boot pool
    node.start();
    expect(node.recovery.events.some((e) => e.type === 'nvrelay.lease.repaired')).toBe(true);
    expect(node.stats().counters).toMatchObject({
      recoveryEventsRejected: 1,
      rejectedQueueFull: 0,
    });
    expect(node.stats().pools[0]).toMatchObject({ name: 'boot', rejected: 0 });
  });

  test('a damaged control block stops the boot with NODE_CORRUPT', () => {
    const device = freshDevice();
    device.flipBits(device.section('control').offset + 12, 4, 1, 9);
    expect(() => Node.boot(device)).toThrow(expect.objectContaining({ code: 'NODE_CORRUPT' }));
  });

  test('limits out of range under a valid checksum stop the boot with NODE_CORRUPT, not BAD_ARGUMENT', () => {
    const device = freshDevice();
    const control = device.section('control').offset;
    const block = new Uint8Array(36);
    device.loadBytes(control, block);
    new DataView(block.buffer).setUint32(12, 500, true); // recipientsMax 500: above 56
    const crc = new Uint8Array(4);
    new DataView(crc.buffer).setUint32(0, crc32c(block, 0, 36), true);
    device.storeBytes(control + 12, block.subarray(12, 16));
    device.storeBytes(control + 36, crc);
    device.persist(control, 40);
    expect(() => Node.boot(device)).toThrow(
      expect.objectContaining({
        code: 'NODE_CORRUPT',
        message: expect.stringMatching(/limits are invalid/),
      }),
    );
  });

  test('a device without a node is NODE_UNFORMATTED, never read as events', () => {
    const formatted = freshDevice();
    const blank = TracedNvram.fromImage(formatted.buildDurableImage());
    const control = blank.section('control');
    blank.storeBytes(control.offset, new Uint8Array(64));
    blank.persist(control.offset, 64);
    expect(() => Node.boot(blank)).toThrow(expect.objectContaining({ code: 'NODE_UNFORMATTED' }));
  });

  test('a lost device (battery failure) is refused by the device layer', () => {
    const { device } = deviceWithPending();
    device.loseDevice();
    expect(() => TracedNvram.fromImage(device.buildDurableImage())).toThrow(NvramError);
    expect(() => TracedNvram.fromImage(device.buildDurableImage())).toThrow(
      expect.objectContaining({ code: 'NVRAM_BAD_MAGIC' }),
    );
  });
});

describe('recipient table faults', () => {
  test('a damaged entry named by pending events is quarantined and reported, not reused', () => {
    const { device } = deviceWithPending(); // pending events name recipient 0 ('r')
    const table = device.section('recipients');
    device.flipBits(table.offset + 8, 1, 1, 5); // inside r's name
    const { node } = bootNode(device);
    expect(node.recipientTable.states[0]).toBe('quarantined');
    expect(node.recovery.events.map((e) => e.type)).toContain('nvrelay.recipient.damaged');
    const fresh = node.registerRecipient('newcomer', {}, () => {});
    expect(fresh.id).not.toBe(0);
  });
});
