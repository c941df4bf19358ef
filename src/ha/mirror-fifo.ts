/**
 * One mirror FIFO [193]: a copy of one of the partner's FIFOs, written by the partner's updates
 * instead of by emits. The same ring, the same pointer words and the same recovery as any FIFO
 * (it extends PersistentFifo); only how records arrive differs: placed at the position the
 * partner appended them at, whole, as the partner stored them.
 *
 * Persist order H (docs/ARCHITECTURE.md, "The HA pair"), per update:
 *  H1  a slot is overwritten only once this mirror's durable head is past its previous lap
 *      (the partner's own rule, PersistentFifo.free); if the update's head is needed for that,
 *      one fence makes it durable first;
 *  H2  the records stored and flushed, the confirmation words changed since the last update
 *      stored and flushed (as deferred confirmations);
 *  H3  one fence: the records are durable, which publishes them (row D4, as for an emit); only
 *      then is the update acknowledged to the partner, whose emit returns only after that;
 *  H4  the partner's durable head, applied in memory; the next fence of this mirror carries it.
 *
 * So the mirror never shows a record the partner did not make durable first (the partner sends
 * a group only once its own fence completed), and what a lagging mirror costs is redelivery: a
 * confirmation or a head move not yet mirrored makes the survivor deliver again, never skip.
 */
import { assert } from '../events/assert.js';
import { confirmationCheck } from '../events/checked-word.js';
import { PersistentFifo } from '../fifo/fifo.js';

export class MirrorFifo extends PersistentFifo {
  /** Row D1's fact for the mirror's own decision (./partner-mirror.ts: format or recover). */
  descriptorIntact(): boolean {
    return this.descriptorFault() === null;
  }

  /**
   * Moves an empty or stale mirror to `position`: everything before it was retired by the
   * partner (a partner that was running without its mirror resends from its head).
   */
  skipTo(position: number): void {
    assert(position > this.tail, 'mirror skip backwards');
    this.head = this.tail = this.reserved = position;
    this.tailWordCap = Infinity;
    this.persistPointers(); // H1: both words durable before a slot of the new range is written
  }

  /** H1: makes the partner's head durable here if the slot of `position` needs it. */
  makeRoom(position: number, head: number): void {
    if (position - this.persistedHead < this.slotCount) return;
    this.follow(head);
    this.persistPointers();
    assert(position - this.persistedHead < this.slotCount, 'mirror slot still in use');
  }

  /**
   * H2: a record as the partner stored it, at the next position. Its confirmation word (outside
   * the CRC, carried as a bare mask) is stored with its check byte, in the same store as the
   * record: the one fence of H3 makes both durable.
   */
  place(position: number, record: Uint8Array): void {
    assert(position === this.reserved, 'mirror record out of order');
    assert(record.length === this.slotBytes, 'mirror record of another slot size');
    this.reserve();
    this.slotView(position).set(record);
    const base = this.slotBase(position);
    const view = this.shadowView;
    const low = view.getUint32(base, true);
    const high = view.getUint32(base + 4, true) & 0xffffff;
    view.setUint32(base + 4, (high | (confirmationCheck(low, high) << 24)) >>> 0, true);
    this.writeRecord(position);
    view.setUint32(base + 4, high, true); // the shadow keeps the bare mask, as every FIFO's
  }

  /**
   * H2 for a slot that fails its check on the partner (row D5 passed it there): copied as it
   * is, so this mirror's recovery finds what the partner's does; the tail word stays below it,
   * as the partner's does, until the head passes it. Never delivered (a takeover checks each).
   */
  placeTorn(position: number, slot: Uint8Array): void {
    assert(position === this.reserved, 'mirror record out of order');
    assert(slot.length === this.slotBytes, 'mirror record of another slot size');
    this.reserve();
    this.slotView(position).set(slot);
    this.writeRecord(position);
    this.tailWordCap = Math.min(this.tailWordCap, position);
  }

  /** H2: the partner's confirmation word of a position it holds (bits only ever added). */
  confirmWord(position: number, low: number, high: number): void {
    if (position < this.head || position >= this.tail) return; // retired here, or not placed
    const base = this.slotBase(position);
    const view = this.shadowView;
    const oldLow = view.getUint32(base, true);
    const oldHigh = view.getUint32(base + 4, true) & 0xffffff;
    const newLow = (oldLow | low) >>> 0;
    const newHigh = (oldHigh | high) & 0xffffff;
    if (newLow === oldLow && newHigh === oldHigh) return;
    view.setUint32(base, newLow, true);
    view.setUint32(base + 4, newHigh, true);
    this.deferConfirmation(position);
  }

  /** H3: one fence over the placed records (and the words of H2), then publishes them. */
  commitPlaced(): void {
    if (this.reserved > this.tail) this.commitGroup(this.reserved);
    else this.confirmationsDurable(); // an update of confirmations and head moves only
  }

  /** H4: the partner's durable head; never past what this mirror holds, never backwards. */
  follow(head: number): void {
    const next = Math.min(head, this.tail);
    if (next > this.head) this.head = next;
  }

  /**
   * The takeover's release of one event recorded by the survivor (maybe out of order): its
   * confirmation word set to its intended mask, as if every recipient had confirmed it [216];
   * the caller persists it before the survivor lets its own record go.
   */
  releaseOne(position: number): void {
    if (position < this.head || position >= this.tail) return;
    const base = this.slotBase(position);
    const view = this.shadowView;
    view.setUint32(base, view.getUint32(base + 40, true), true);
    view.setUint32(base + 4, view.getUint32(base + 44, true) & 0xffffff, true);
    this.deferConfirmation(position);
  }

  /** The takeover's release: every position before `position` is handled here [217]. */
  releaseTo(position: number): void {
    this.follow(position);
  }
}
