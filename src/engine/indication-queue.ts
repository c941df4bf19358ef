/**
 * The event indication queue [150]: the volatile FIFO that mirrors the persistent FIFOs and
 * feeds the distribution engine [160]. One entry per published event, in delivery order:
 * replayed events first [191, 192], then events of this boot [214]. Entries leave from the
 * head only, when completely handled [217], so each persistent FIFO retires in its own order.
 *
 * Structure of arrays, pre-allocated at boot (capacity: src/pools/pool.ts); `head` and `tail`
 * are counters, the entry of counter c is at c mod capacity.
 */
import { assert } from '../events/assert.js';

export const entryFlagReplayed = 1;
/** Recovered but not examined yet: its fields are unknown until the engine loads it. */
export const entryFlagUnexamined = 2;

export class EventIndicationQueue {
  readonly capacity: number;
  head = 0;
  tail = 0;
  /** Index of the entry's FIFO in the node's FIFO list. */
  readonly fifoIndex: Uint8Array;
  readonly position: Float64Array;
  readonly seq: Float64Array;
  readonly intendedLo: Int32Array;
  readonly intendedHi: Int32Array;
  /** Confirmed or dead-lettered recipients (mirrors the persistent confirmation word). */
  readonly confirmedLo: Int32Array;
  readonly confirmedHi: Int32Array;
  /** Interned type and source ids (0xffff: not interned, decode from the record). */
  readonly typeId: Uint16Array;
  readonly sourceId: Uint16Array;
  readonly flags: Uint8Array;

  constructor(capacity: number) {
    assert(capacity >= 1, 'indication queue capacity');
    this.capacity = capacity;
    this.fifoIndex = new Uint8Array(capacity);
    this.position = new Float64Array(capacity);
    this.seq = new Float64Array(capacity);
    this.intendedLo = new Int32Array(capacity);
    this.intendedHi = new Int32Array(capacity);
    this.confirmedLo = new Int32Array(capacity);
    this.confirmedHi = new Int32Array(capacity);
    this.typeId = new Uint16Array(capacity);
    this.sourceId = new Uint16Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  length(): number {
    return this.tail - this.head;
  }

  /** Step 214: appends an entry; returns its counter. */
  push(
    fifoIndex: number,
    position: number,
    seq: number,
    intendedLo: number,
    intendedHi: number,
    confirmedLo: number,
    confirmedHi: number,
    typeId: number,
    sourceId: number,
    flags: number,
  ): number {
    assert(this.tail - this.head < this.capacity, 'indication queue overflow');
    const counter = this.tail;
    const i = counter % this.capacity;
    this.fifoIndex[i] = fifoIndex;
    this.position[i] = position;
    this.seq[i] = seq;
    this.intendedLo[i] = intendedLo;
    this.intendedHi[i] = intendedHi;
    this.confirmedLo[i] = confirmedLo & intendedLo;
    this.confirmedHi[i] = confirmedHi & intendedHi;
    this.typeId[i] = typeId;
    this.sourceId[i] = sourceId;
    this.flags[i] = flags;
    this.tail = counter + 1;
    return counter;
  }

  /**
   * Appends `count` recovered entries not examined yet (replay [190]): only their FIFO and
   * position are known; the engine fills the rest when it reaches them.
   */
  pushUnexamined(
    fifoIndexes: Uint8Array,
    positions: Float64Array,
    count: number,
    flags: number,
  ): void {
    assert(this.tail - this.head + count <= this.capacity, 'indication queue overflow');
    // Entries ever written are those below the tail (counters start at 0): past them the
    // columns still hold the zeros they were allocated with, so a boot's replay of a million
    // events does not touch 24 MB (24 bytes an entry) only to write zeros into it.
    const written = Math.min(this.tail, this.capacity);
    let done = 0;
    while (done < count) {
      // at most two contiguous runs (the ring wraps once): bulk copies and fills
      const start = (this.tail + done) % this.capacity;
      const run = Math.min(count - done, this.capacity - start);
      this.fifoIndex.set(fifoIndexes.subarray(done, done + run), start);
      this.position.set(positions.subarray(done, done + run), start);
      const zeroTo = Math.min(start + run, written);
      if (start < zeroTo) {
        for (const column of [
          this.seq,
          this.intendedLo,
          this.intendedHi,
          this.confirmedLo,
          this.confirmedHi,
        ]) {
          column.fill(0, start, zeroTo);
        }
      }
      this.typeId.fill(0xffff, start, start + run);
      this.sourceId.fill(0xffff, start, start + run);
      this.flags.fill(flags, start, start + run);
      done += run;
    }
    this.tail += count;
  }

  /** Flow point 220: every intended recipient confirmed (or the event was dead-lettered). */
  handled(i: number): boolean {
    return (
      (this.confirmedLo[i] as number) === (this.intendedLo[i] as number) &&
      (this.confirmedHi[i] as number) === (this.intendedHi[i] as number)
    );
  }
}
