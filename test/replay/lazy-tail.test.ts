/**
 * The tail word is a lazily persisted hint (ARCHITECTURE, row D4): an emit costs one persist of
 * its record, and recovery extends the durable tail word by a scan. Pinned regressions for the
 * scan's rules: a slot never written ends it; a torn record followed by intact ones is passed
 * (row D5: reported, never delivered); and a stale record left beyond a cut-short group commit
 * is never taken up again once a later boot wrote newer records before it. Two repairs keep a
 * second crash honest: a leftover past the scanned tail is erased before any new append (row
 * D6), and the tail word is never stored past a torn record the durable head has not passed.
 */
import { describe, expect, test } from 'vitest';
import { fifoOffsets, slotBytesFor } from '../../src/fifo/layout.js';
import type { Node } from '../../src/node/node.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { bootNode, bytes, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';
import { WordRole, loadCounterWord } from '../../src/events/checked-word.js';

/** A ring large enough (> tailLagSmallRingSlots) that the tail word lags by an eighth of it. */
const limits = { ...smallLimits, runtimeSlots: 128 };

const slotBytes = slotBytesFor(limits.detailsBytesMax ?? 0);

/** Boots, replays to a confirming recipient until idle; returns the node and the seqs seen. */
function recover(device: TracedNvram): { node: Node; seen: number[] } {
  const { node } = bootNode(device);
  const seen: number[] = [];
  node.registerRecipient('r', {}, (event, recipient) => {
    if (event.source !== 'nvrelay') seen.push(event.seq);
    recipient.confirm(event.seq);
  });
  node.start();
  node.drainUntilIdle();
  return { node, seen };
}

/** Tears record `position` of the runtime FIFO (as a cut during its group commit would). */
function tear(device: TracedNvram, position: number): void {
  const fifo = device.section('runtime-fifo');
  device.flipBits(fifo.offset + fifoOffsets.slots + position * slotBytes + 65, 1, 1, 7);
}

/** Slot `position` of the runtime FIFO as never written (a cut before its record landed). */
function unwrite(device: TracedNvram, position: number): void {
  const fifo = device.section('runtime-fifo');
  device.storeBytes(
    fifo.offset + fifoOffsets.slots + position * slotBytes,
    new Uint8Array(slotBytes),
  );
  device.persist(fifo.offset + fifoOffsets.slots + position * slotBytes, slotBytes);
}

/** Three events emitted, nobody confirming, the tail word never flushed; record 0 torn. */
function deviceWithTornFirst(): { device: TracedNvram; seqs: number[] } {
  const { node, device } = bootNode(freshDevice(limits));
  node.registerRecipient('r', {}, () => {});
  node.start();
  const p = node.producer('p');
  const seqs = [1, 2, 3].map((k) => p.emit('a.x', 'err', bytes(k)));
  const image = rebootDurable(device);
  expect(
    loadCounterWord(image, image.section('runtime-fifo').offset + fifoOffsets.tail, WordRole.tail),
  ).toBe(0);
  tear(image, 0);
  return { device: image, seqs };
}

/** The same with record 0 never written instead of torn. */
function deviceWithUnwrittenFirst(): { device: TracedNvram; seqs: number[] } {
  const { device, seqs } = deviceWithTornFirst();
  unwrite(device, 0);
  return { device, seqs };
}

describe('the lazily persisted tail word', () => {
  test('an emit that returned is found by the scan past the durable tail word', () => {
    const { node, device } = bootNode(freshDevice(limits));
    node.registerRecipient('r', {}, () => {});
    node.start();
    const seq = node.producer('p').emit('a.x', 'err', bytes(1));
    const { seen } = recover(rebootDurable(device));
    expect(seen).toEqual([seq]);
  });

  test('a slot never written ends the scan: the intact records after it are not published', () => {
    const { device } = deviceWithUnwrittenFirst();
    const { node, seen } = recover(device);
    expect(seen).toEqual([]);
    expect(node.recovery).toMatchObject({ replayed: 0, discarded: 0, events: [] });
  });

  test('a torn record followed by intact ones is passed (row D5): reported, never delivered', () => {
    const { device, seqs } = deviceWithTornFirst();
    const { node, seen } = recover(device);
    // the intact records after it were published (or at least written: their group's fence
    // may have been cut short, and delivering an unacknowledged event is allowed)
    expect(seen).toEqual(seqs.slice(1));
    expect(node.recovery).toMatchObject({ replayed: 3, discarded: 0 });
    // the torn record is reported (never acknowledged, or a media fault: a warning)
    expect(node.recovery.events).toEqual([
      {
        type: 'nvrelay.record.torn',
        severity: 'warning',
        details: { section: 'runtime-fifo', position: 0, reason: 'bad-checksum' },
      },
    ]);
  });

  test('row D6: a leftover past a never-written slot is erased before the first new append', () => {
    const { device } = deviceWithUnwrittenFirst();
    const fifo = device.section('runtime-fifo');
    const tagAt = (image: TracedNvram, position: number): number =>
      image.loadU32(fifo.offset + fifoOffsets.slots + position * slotBytes + 60);
    expect(tagAt(device, 1)).not.toBe(0); // intact leftovers of the cut-short appends
    const { node, device: second } = bootNode(device);
    const durable = rebootDurable(second);
    expect([tagAt(durable, 1), tagAt(durable, 2)]).toEqual([0, 0]); // durable before any append
    // so a new append at 0, torn by the next cut, cannot be passed to the leftover after it
    node.registerRecipient('r', {}, () => {});
    node.start();
    node.producer('p').emit('a.x', 'err', bytes(9));
    const third = rebootDurable(second);
    tear(third, 0);
    const { seen, node: after } = recover(third);
    expect(seen).toEqual([]);
    expect(after.recovery.discarded).toBe(0);
  });

  test('the tail word stays below a torn record until the durable head passes it', () => {
    // records 0 and 2 intact, 1 torn: the head waits at 0 while nobody confirms it
    const { node: first, device: firstDevice } = bootNode(freshDevice(limits));
    first.registerRecipient('r', {}, () => {});
    first.start();
    for (let k = 0; k < 3; k++) first.producer('p').emit('a.x', 'err', bytes(k));
    const device = rebootDurable(firstDevice);
    tear(device, 1);
    const tailWord = (image: TracedNvram): number =>
      loadCounterWord(
        image,
        image.section('runtime-fifo').offset + fifoOffsets.tail,
        WordRole.tail,
      );
    const { node, device: second } = bootNode(device);
    const seen: number[] = [];
    node.registerRecipient('r', {}, (event) => seen.push(event.seq)); // confirms nothing yet
    node.start();
    const p = node.producer('p');
    for (let k = 0; k < 40; k++) p.emit('a.x', 'err', bytes(k)); // past the tail lag
    node.drainUntilIdle();
    node.close();
    expect(tailWord(rebootDurable(second))).toBe(1); // capped at the torn record
    // a second boot: the torn one is still passed (D5), never discarded
    const { node: third, device: thirdDevice } = bootNode(rebootDurable(second));
    expect(third.recovery.discarded).toBe(0);
    third.registerRecipient('r', {}, (event, recipient) => recipient.confirm(event.seq));
    third.start();
    third.drainUntilIdle();
    third.producer('p').emit('a.x', 'err', bytes(99));
    third.drainUntilIdle();
    third.close();
    expect(tailWord(rebootDurable(thirdDevice))).toBe(third.fifos[1]?.tail); // the cap lifted
  });

  test('a fresh ring, or one closed cleanly, reports no torn record', () => {
    const { node, device } = bootNode(freshDevice(limits));
    expect(node.recovery.events).toEqual([]);
    node.registerRecipient('r', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    node.producer('p').emit('a.x', 'err', bytes(1));
    node.drainUntilIdle();
    node.close();
    expect(recover(rebootDurable(device)).node.recovery.events).toEqual([]);
  });

  test('stale records after newer ones are refused by their lower seq', () => {
    const { device } = deviceWithUnwrittenFirst();
    // boot 2: nothing published; a new event lands in slot 0, before the stale records 1 and 2
    const { node, device: second } = bootNode(device);
    node.registerRecipient('r', {}, () => {});
    node.start();
    const fresh = node.producer('p').emit('a.x', 'err', bytes(9));
    // boot 3 after a cut: slot 0 holds the new record, slots 1, 2 the stale ones (lower seqs)
    const { node: third, seen } = recover(rebootDurable(second));
    expect(seen).toEqual([fresh]);
    expect(third.recovery).toMatchObject({ replayed: 1, discarded: 0, events: [] });
  });

  test('the same holds when the scan starts at the head: the record before it bounds the seq', () => {
    const { device } = deviceWithUnwrittenFirst();
    const { node, device: second } = bootNode(device);
    node.registerRecipient('r', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    node.producer('p').emit('a.x', 'err', bytes(9));
    node.drainUntilIdle();
    node.close(); // head = tail = 1, both durable; slot 1 still holds a stale intact record
    const fifo = second.section('runtime-fifo');
    expect(loadCounterWord(second, fifo.offset + fifoOffsets.head, WordRole.head)).toBe(1);
    expect(loadCounterWord(second, fifo.offset + fifoOffsets.tail, WordRole.tail)).toBe(1);
    const { seen } = recover(rebootDurable(second));
    expect(seen).toEqual([]);
  });

  test('recovery persists the scanned tail before any new emit', () => {
    const { node, device } = bootNode(freshDevice(limits));
    node.registerRecipient('r', {}, () => {});
    node.start();
    node.producer('p').emit('a.x', 'err', bytes(1));
    const image = rebootDurable(device);
    const fifo = image.section('runtime-fifo');
    expect(loadCounterWord(image, fifo.offset + fifoOffsets.tail, WordRole.tail)).toBe(0);
    bootNode(image);
    expect(
      loadCounterWord(rebootDurable(image), fifo.offset + fifoOffsets.tail, WordRole.tail),
    ).toBe(1);
  });

  test('in a small ring the durable tail word trails the published tail by at most one', () => {
    const { node, device } = bootNode();
    node.registerRecipient('r', {}, () => {});
    node.start();
    const p = node.producer('p');
    const fifo = device.section('runtime-fifo');
    const lagMax = 1; // a ring of up to tailLagSmallRingSlots slots
    for (let k = 1; k <= 12; k++) {
      p.emit('a.x', 'err', bytes(k));
      const durable = loadCounterWord(
        rebootDurable(device),
        fifo.offset + fifoOffsets.tail,
        WordRole.tail,
      );
      expect(k - durable).toBeLessThanOrEqual(lagMax + 1);
    }
  });
});
