/**
 * The persistent event FIFO [140, 141] in one NVRAM section (layout in ./layout.ts).
 *
 * Persist orders (docs/ARCHITECTURE.md, "Persist orders"):
 *  - append [213]: the record, with its zeroed confirmation word, is persisted (one persist per
 *    record, or one fence per group commit); that alone publishes it: recovery extends the
 *    durable tail word by a scan (`scanTail`: valid record, position = counter, seq above the
 *    previous one). The tail word is then stored as a hint, flushed only when the durable tail
 *    lags by more than tailLagMax() (the next fence covers it), with every head word, and at
 *    close; so the tail word never names a slot whose record is not durable.
 *  - confirm [216]: the slot's confirmation word (8 bytes, one atomic store) changes in the
 *    shadow at once; it is stored and flushed just before this FIFO's next fence, unless the
 *    head word stored for that same fence passes the event (in-order confirmations, the common
 *    case, so cost no write of their own).
 *  - retire [217, 220]: the head advances (volatile) only past completely handled events; each
 *    fence of this FIFO carries the head word with the tail word (one page), so what the fence
 *    makes durable is "these events are handled" whether their confirmation words were stored
 *    or not. A cut inside that fence may leave the head word durable without the tail word:
 *    recovery takes such a head (row D2). A slot is reused only after the head past it is
 *    durable.
 *
 * Each persist step is a small protected method, so the crash lab can derive deliberately
 * broken variants (tail before record, head before confirmations, no checksum check) and show
 * that its checker catches them.
 *
 * Recovery (rows D1-D5, R1, R2) and the FIFO's state are RecoverableFifo (./recoverable-fifo.ts).
 */
import { assert } from '../events/assert.js';
import { WordRole, confirmationCheck } from '../events/checked-word.js';
import { tailLagSlotsMax, tailLagSmallRingSlots } from './fifo-ring.js';
import { RecoverableFifo } from './recoverable-fifo.js';

export {
  SlotVerdict,
  slotVerdictNames,
  type FifoPointers,
  type FifoRecovery,
} from './recoverable-fifo.js';
export {
  slotViewsEagerMax,
  tailLagSmallRingSlots,
  tailLagSlotsMax,
  confirmationsDeferredMax,
  fifoLoadRunSlots,
} from './fifo-ring.js';

export class PersistentFifo extends RecoverableFifo {
  // ---- append [212, 213] ----

  /** Takes the next position; the caller has checked free() (via its pool). */
  reserve(): number {
    assert(this.reserved - this.persistedHead < this.slotCount, 'FIFO reserve without a free slot');
    return this.reserved++;
  }

  /** Step 213 for one record encoded in the shadow: persist it, then publish it. */
  commitAppend(position: number): void {
    assert(position === this.tail, 'FIFO append out of order');
    this.persistRecord(position);
    this.publishTail(position + 1);
  }

  /**
   * The record and its zeroed confirmation word become durable (213): from here recovery finds
   * it (row D4), so this one persist is the emit's whole cost.
   */
  protected persistRecord(position: number): void {
    this.writeRecord(position);
    this.fence();
  }

  /**
   * Publishes every record before `tail` (213), whose records are durable: the tail word is
   * stored as a hint and flushed only when the durable one lags by more than tailLagMax() (and
   * with every head word, see fence).
   */
  protected publishTail(tail: number): void {
    this.tail = tail;
    this.#storeTailWord(this.tailWord());
    if (tail - this.durableTail > this.tailLagMax()) this.flushTail();
  }

  /** The tail word last stored (a capped one may need storing again once the cap is lifted). */
  #tailWordStored = -1;

  #storeTailWord(word: number): void {
    this.storeCounter(this.tailOffset, WordRole.tail, word);
    this.#tailWordStored = word;
  }

  /**
   * The tail word to store: the tail, capped below a torn record until the durable head is past
   * it (the volatile head is not enough: a cut could keep a tail word past the record and lose
   * the head word past it).
   */
  protected tailWord(): number {
    if (this.tailWordCap === Infinity) return this.tail;
    if (this.persistedHead > this.tailWordCap) {
      this.tailWordCap = Infinity;
      return this.tail;
    }
    return Math.min(this.tail, this.tailWordCap);
  }

  /**
   * How far the durable tail word may trail the published tail (bounds recovery's scan): an
   * eighth of a large ring, at most tailLagSlotsMax; a small ring (up to 64 slots) keeps it
   * within one record, so its pending records are mostly examined below the tail word (row R1)
   * rather than scanned (D4).
   */
  protected tailLagMax(): number {
    if (this.slotCount <= tailLagSmallRingSlots) return 1;
    return Math.min(this.slotCount >> 3, tailLagSlotsMax);
  }

  /** Flushes the stored tail word; this FIFO's next fence makes it durable. */
  protected flushTail(): void {
    const word = this.tailWord();
    if (word === this.durableTail || this.tailFlushed === word) return;
    if (word !== this.#tailWordStored) this.#storeTailWord(word); // the cap was lifted since
    this.device.flush(this.tailOffset, 8);
    this.tailFlushed = word;
  }

  /**
   * Steps 216 and 217 before a fence: the deferred confirmation words the head does not pass are
   * stored, and if the head moved, the tail word and the head word are flushed (one page; the
   * fence orders neither before the other: recovery takes a durable head past a stale tail word,
   * row D2). The engine calls it on every FIFO before fencing one, so one fence serves all.
   */
  prepareFence(): void {
    const head = this.head;
    assert(head <= this.tail, 'FIFO head past the published tail');
    if (this.deferredCount > 0) this.storeDeferredConfirmations(head);
    if (head > this.persistedHead && head !== this.headFlushed) {
      this.flushTail();
      this.storeCounter(this.headOffset, WordRole.head, head);
      this.device.flush(this.headOffset, 8);
      this.headFlushed = head;
    }
  }

  /** One fence: every flushed record, confirmation and pointer word of this FIFO is durable. */
  protected fence(): void {
    this.prepareFence();
    this.device.fence();
    this.confirmationsUnfenced = false;
    if (this.tailFlushed >= 0) {
      this.durableTail = this.tailFlushed;
      this.tailFlushed = -1;
    }
    if (this.headFlushed >= 0) {
      this.persistedHead = this.headFlushed;
      this.headFlushed = -1;
    }
  }

  /** Group commit, part 1: stores and flushes one record; a later commitGroup fences them all. */
  writeRecord(position: number): void {
    const offset = this.slotsOffset + this.slotBase(position);
    this.device.storeBytes(offset, this.slotView(position));
    this.device.flush(offset, this.slotBytes);
  }

  /** Group commit, part 2: one fence makes every written record durable, which publishes them. */
  commitGroup(tail: number): void {
    assert(tail > this.tail && tail <= this.reserved, 'group commit range');
    this.fence(); // also carries the confirmations and the head word since the last fence
    this.publishTail(tail);
  }

  /**
   * Pipelined group commit, part 2: the fence is issued asynchronously over the written records
   * (and the confirmations and pointer words prepared now); once it completes they are durable
   * and the records up to `tail` are published, then `done`. Stores after the issue (the next
   * group's records) may ride along, but only a later fence acknowledges them.
   */
  issueGroupFence(tail: number, done: (error: Error | null) => void): void {
    assert(tail > this.tail && tail <= this.reserved, 'group commit range');
    this.prepareFence();
    const tailFlushed = this.tailFlushed;
    const headFlushed = this.headFlushed;
    const confirmations = this.#confirmationsDeferredTotal;
    this.device.fenceAsync((error) => {
      if (error === null) {
        // the confirmations stored by prepareFence are durable now: if none came since the
        // issue, no fence of their own is owed (auto scheduling would otherwise make one)
        if (this.#confirmationsDeferredTotal === confirmations) this.confirmationsUnfenced = false;
        this.groupFenced(tail, tailFlushed, headFlushed);
      }
      done(error);
    });
  }

  /** Confirmations deferred so far (to tell whether any came after a fence's issue). */
  #confirmationsDeferredTotal = 0;

  /**
   * What an asynchronous group fence made durable, recorded at its completion. A synchronous
   * fence in between (a drain's, a close's) may have recorded as much or more already: nothing
   * goes backwards.
   */
  protected groupFenced(tail: number, tailFlushed: number, headFlushed: number): void {
    if (tailFlushed >= 0) {
      this.durableTail = Math.max(this.durableTail, tailFlushed);
      if (this.tailFlushed === tailFlushed) this.tailFlushed = -1;
    }
    if (headFlushed >= 0) {
      this.persistedHead = Math.max(this.persistedHead, headFlushed);
      if (this.headFlushed === headFlushed) this.headFlushed = -1;
    }
    if (tail > this.tail) this.publishTail(tail);
  }

  // ---- confirmation [216] and retirement [217] ----

  /**
   * The shadow's confirmation word of `position` changed (a recipient's bit set): stored by the
   * next fence unless the head word then passes the event.
   */
  deferConfirmation(position: number): void {
    assert(position < this.tail, 'FIFO confirmation of an unpublished position');
    if (position < this.head) return; // retired already: the head word passes it
    if (this.deferredCount === this.confirmationsDeferred.length)
      this.storeDeferredConfirmations(this.head);
    this.confirmationsDeferred[this.deferredCount++] = position;
    this.#confirmationsDeferredTotal++;
    this.confirmationsUnfenced = true;
  }

  /** Step 216 before a fence: stores the deferred confirmation words at or past `head`. */
  protected storeDeferredConfirmations(head: number): void {
    for (let k = 0; k < this.deferredCount; k++) {
      const position = this.confirmationsDeferred[k] as number;
      if (position >= head) this.storeConfirmation(position);
    }
    this.deferredCount = 0;
  }

  /**
   * Stores the shadow's confirmation word of a position with its check byte (one aligned 8-byte
   * store: one word, so a cut never tears mask from check) and flushes it.
   */
  protected storeConfirmation(position: number): void {
    const base = this.slotBase(position);
    const low = this.shadowView.getUint32(base, true);
    const high = this.shadowView.getUint32(base + 4, true) & 0xffffff; // ids < 56
    this.confirmScratchView.setUint32(0, low, true);
    this.confirmScratchView.setUint32(4, (high | (confirmationCheck(low, high) << 24)) >>> 0, true);
    const offset = this.slotsOffset + base;
    this.device.storeBytes(offset, this.confirmScratch);
    this.device.flush(offset, 8);
  }

  /** Makes every confirmation received so far durable: one fence, if any is pending. */
  confirmationsDurable(): void {
    if (!this.confirmationsUnfenced && this.tailFlushed < 0 && this.headFlushed < 0) return;
    this.fence();
  }

  /** Volatile retirement of the oldest position; this FIFO's next fence persists the head. */
  retire(position: number): void {
    assert(position === this.head && position < this.tail, 'FIFO retire out of order');
    this.head = position + 1;
  }

  /**
   * Step 217 now (before an emit would be refused, and at close): one fence carrying the
   * confirmations, the tail word and the head past every retired event.
   */
  persistPointers(): void {
    this.flushTail();
    if (this.confirmationsUnfenced || this.tailFlushed >= 0 || this.head > this.persistedHead)
      this.fence();
  }
}
