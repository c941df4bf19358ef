/**
 * The persistent event FIFO's boot recovery [190-192, 231] (layout in ./layout.ts): the decision
 * rows D1-D5 (descriptor, pointer words, the scan past the tail word) and R1-R3 (each published
 * record and its confirmation word examined, in order, when the engine first reaches it).
 * Recovery only reads, except the salvage of invalid pointers (D3) and the scanned tail (D4).
 * The runtime half (append, confirm, retire: the persist orders) is PersistentFifo (./fifo.ts).
 *
 * The head and tail words are checked words (src/events/checked-word.ts): a media fault in one
 * fails its check, which row D2 treats as invalid pointers (salvaged by D3, and reported).
 *
 * The ring's state, its shadow and the accesses both halves share are FifoRing (./fifo-ring.ts).
 */
import { seqMax } from '../constants.js';
import { assert } from '../events/assert.js';
import { WordRole, confirmationWordIntact, wordDamaged } from '../events/checked-word.js';
import { NodeError } from '../events/errors.js';
import {
  RecordVerdict,
  recordVerdictNames,
  checkRecord,
  getU64,
  recordOffsets,
  recordTag,
} from '../events/record.js';
import { FifoRing, fifoLoadRunSlots } from './fifo-ring.js';
import { describeDescriptorFault, fifoDescriptorBytes } from './layout.js';
import {
  confirmationFact,
  confirmationTable,
  pointerFact,
  pointerTable,
  scanEndFact,
  scanEndTable,
  slotFact,
  slotTable,
} from './recovery-table.js';

/**
 * Recovery's verdict on one published slot: a record verdict, out of seq order, or torn: a
 * damaged record past the durable tail word that the scan passed (row D5), reported as torn at
 * start rather than as a discard.
 */
export const SlotVerdict = Object.freeze({ ...RecordVerdict, badOrder: 6, torn: 7 });
export const slotVerdictNames = [...recordVerdictNames, 'bad-order', 'torn'] as const;

/** What the pointer step of recovery found in one FIFO: the published range [head, tail). */
export interface FifoPointers {
  fifo: RecoverableFifo;
  head: number;
  tail: number;
  /** The pointers were invalid and were rebuilt from the slots (decision D3). */
  salvaged: { head: number; tail: number } | null;
  /** Pointer words whose check failed (a media fault; D3 salvaged them). */
  damagedWords: ('head' | 'tail')[];
  /**
   * Damaged records for their positions past the durable tail word (rows D4, D5): appends cut
   * short by a power cut (never acknowledged), or media faults. Those the scan passed (D5) are
   * inside [head, tail), never delivered; the last, if any, may be where the scan ended.
   */
  torn: { position: number; reason: string }[];
}

/** Eager recovery: the published range and a verdict per position. */
export interface FifoRecovery extends FifoPointers {
  /** verdicts[i] is for position head + i (SlotVerdict). */
  verdicts: Uint8Array;
  discarded: number;
}

export class RecoverableFifo extends FifoRing {
  // ---- recovery (restartable: reads only, except the salvage of invalid pointers) ----

  /**
   * Boot recovery, first step (decision rows D1-D5): the descriptor, the pointers and the scan
   * past the tail word. The
   * records in [head, tail) are checked later, in order, by `examine` (row R1/R2), when the
   * engine first reaches each one: so a boot does not read every pending record, and a
   * record that fails is still never delivered. With `repair` false nothing is written.
   */
  recoverPointers(options: { repair?: boolean } = {}): FifoPointers {
    const descriptorFault = this.descriptorFault();
    let facts = descriptorFault === null ? pointerFact.descriptorIntact : 0;
    let head = 0;
    let tail = 0;
    if (descriptorFault === null) {
      head = this.loadCounter(this.headOffset, WordRole.head);
      tail = this.loadCounter(this.tailOffset, WordRole.tail);
      if (this.pointersValid(head, tail)) facts |= pointerFact.pointersValid;
    }
    const damagedWords: FifoPointers['damagedWords'] = [];
    if (head === wordDamaged) damagedWords.push('head');
    if (tail === wordDamaged) damagedWords.push('tail');
    let salvaged: FifoPointers['salvaged'] = null;
    switch (pointerTable.decide(facts).decision) {
      case 'corrupt': // D1: nothing in the section can be trusted
        throw new NodeError(
          'NODE_CORRUPT',
          `nvrelay: FIFO section '${this.name}': ${descriptorFault}`,
        );
      case 'salvage': // D3
        ({ head, tail } = this.salvage(head, tail));
        if (options.repair !== false) this.repairPointers(head, tail);
        salvaged = { head, tail };
        break;
      case 'take': // D2
        break;
    }
    const stored = tail;
    // rows D4, D5: records published after the tail word (or after a head word past it, D2)
    const torn: FifoPointers['torn'] = [];
    tail = this.scanTail(head, Math.max(head, tail), torn);
    // D5: the tail word stays below a torn record inside the range until the head passes it
    this.tailWordCap = Infinity;
    for (const position of this.tornInRange)
      this.tailWordCap = Math.min(this.tailWordCap, position);
    const word = Math.max(stored, Math.min(tail, this.tailWordCap));
    if (word > stored && options.repair !== false) this.repairTail(word);
    if (options.repair !== false) this.eraseLeftovers(head, tail);
    this.head = this.persistedHead = head;
    this.tail = this.reserved = tail;
    this.durableTail = options.repair !== false ? word : stored;
    this.tailFlushed = this.headFlushed = -1;
    this.deferredCount = 0;
    this.examinedUpTo = this.loadedUpTo = this.recoveredHead = head;
    this.examinedSeq = 0;
    this.confirmationsDamaged.length = 0;
    this.verdicts = new Uint8Array(tail - head);
    return { fifo: this, head, tail, salvaged, damagedWords, torn };
  }

  /**
   * Row D4: the tail word is a lazily persisted hint, so records after it may be published
   * (durable, their emit returned). From `tail`, accepts slot c while its record is valid with
   * position c and its seq is above the previous record's, within one ring of the head. Where that
   * fails, row D5 decides (scanEnd): a run of damaged records followed by a valid one is passed
   * (the damaged ones go to `torn` and are examined as torn); else the scan stops there. A stale
   * record beyond a cut-short group commit fails once a later boot wrote newer records before it
   * (its seq is below theirs: seqs come from a newer lease). Deterministic in the slot contents:
   * a second recovery finds the same tail.
   */
  protected scanTail(head: number, tail: number, torn: FifoPointers['torn']): number {
    this.tornInRange.clear();
    let seq = this.seqBefore(tail);
    let position = tail;
    for (;;) {
      if (slotTable.decide(this.scanFacts(position, head, seq)).decision === 'published') {
        seq = getU64(this.shadowView, this.slotBase(position) + 24);
        position++;
        continue;
      }
      const next = this.scanEnd(position, head, seq, torn);
      if (next < 0) return position;
      position = next; // row D5: a valid record with a seq above, after damaged ones
    }
  }

  /**
   * Row D4's facts about the slot at `position`, past the tail word, established in the table's
   * order and only up to the first false one (the facts after it are don't-cares then, so a
   * stale slot costs one word read).
   */
  protected scanFacts(position: number, head: number, seqPrevious: number): number {
    let facts = slotFact.pastTailWord;
    this.scanVerdict = -1;
    if (!(position < head + this.slotCount)) return facts;
    facts |= slotFact.withinRing;
    if (!this.holdsPosition(position)) return facts; // the record check's position, read alone
    this.loadSlot(position);
    const base = this.slotBase(position);
    // the record check itself, not checkSlot: what publishes a record is not a hook
    this.scanVerdict = checkRecord(this.buffer, base, position, this.limits);
    if (this.scanVerdict !== RecordVerdict.valid) return facts;
    facts |= slotFact.recordValid;
    if (getU64(this.shadowView, base + 24) > seqPrevious) facts |= slotFact.seqAbove;
    return facts;
  }

  /**
   * Rows D4/D5 where the scan stopped at `position`: the position of the valid record after a
   * run of damaged ones (D5, the run added to `torn` and to tornInRange), or -1 (the scan ends;
   * a damaged record there goes to `torn`).
   */
  protected scanEnd(
    position: number,
    head: number,
    seqPrevious: number,
    torn: FifoPointers['torn'],
  ): number {
    const ringEnd = head + this.slotCount;
    const damaged: FifoPointers['torn'] = []; // recovery only: allocating is fine here
    let next = position;
    while (next < ringEnd && this.damagedAt(next)) {
      damaged.push({ position: next, reason: slotVerdictNames[this.scanVerdict] ?? 'damaged' });
      next++;
    }
    let facts = 0;
    if (damaged.length > 0) {
      facts |= scanEndFact.damaged;
      // damagedAt(next) has just loaded and checked that slot: its verdict is in scanVerdict
      const intact = next < ringEnd && this.scanVerdict === RecordVerdict.valid;
      if (intact && getU64(this.shadowView, this.slotBase(next) + 24) > seqPrevious)
        facts |= scanEndFact.intactFollows;
    }
    switch (scanEndTable.decide(facts).decision) {
      case 'skip': // D5
        for (const entry of damaged) {
          torn.push(entry);
          this.tornInRange.add(entry.position);
        }
        return next;
      case 'end-torn': // D4, reporting the damaged record it ends at
        torn.push(damaged[0] as FifoPointers['torn'][number]);
        return -1;
      default: // D4
        return -1;
    }
  }

  /**
   * The slot holds a damaged record for `position`: tagged, failing the record check, and not
   * an intact record of another position (a stale one from an earlier lap) nor an untagged,
   * never written slot. Leaves the verdict in scanVerdict.
   */
  protected damagedAt(position: number): boolean {
    this.loadSlot(position);
    this.scanVerdict = checkRecord(this.buffer, this.slotBase(position), position, this.limits);
    const verdict = this.scanVerdict;
    return (
      verdict !== RecordVerdict.valid &&
      verdict !== RecordVerdict.badTag &&
      verdict !== RecordVerdict.badPosition
    );
  }

  /** The slot's position word names `position` (read alone first: a stale slot stops cheaply). */
  protected holdsPosition(position: number): boolean {
    return this.device.loadU64(this.slotsOffset + this.slotBase(position) + 16) === position;
  }

  /**
   * The seq the first record past the tail word must exceed: that of the record before it, if
   * its slot still holds it intact; else 0.
   */
  protected seqBefore(tail: number): number {
    return tail === 0 ? 0 : this.intactSeqAt(tail - 1);
  }

  /**
   * Row L2: the seq of the newest published record if its slot still holds it intact, else 0
   * (one slot read). Seqs grow with positions, so it is the largest this FIFO shows.
   */
  newestSeq(): number {
    return this.seqBefore(this.tail);
  }

  /** The seq of the record in `position`'s slot if it is intact and names that position; else 0. */
  protected intactSeqAt(position: number): number {
    if (!this.holdsPosition(position)) return 0;
    this.loadSlot(position);
    const base = this.slotBase(position);
    if (checkRecord(this.buffer, base, position, this.limits) !== RecordVerdict.valid) return 0;
    return getU64(this.shadowView, base + 24);
  }

  /**
   * Row D6: tagged records past the scanned tail in this lap that name their own position are
   * leftovers of appends cut short behind a record that never became durable (never
   * acknowledged). Each one's tag word is zeroed (an untagged slot reads as never written) and
   * the erasures are persisted before any new append: otherwise a new append at the tail, torn
   * by a later cut, would be passed by that boot's scan (row D5) and the leftover after it taken
   * for a published record.
   */
  protected eraseLeftovers(head: number, tail: number): void {
    let erased = 0;
    for (let position = tail + 1; position < head + this.slotCount; position++) {
      if (!this.holdsPosition(position)) continue;
      const offset = this.slotsOffset + this.slotBase(position) + recordOffsets.sourceBytes;
      if (this.device.loadU32(offset + 4) !== recordTag) continue; // erased by an earlier boot
      this.device.storeU64(offset, 0); // the word holding the tag (offset 60)
      this.device.flush(offset, 8);
      erased++;
    }
    if (erased > 0) this.device.fence();
  }

  /** Row D4: the scanned tail persisted before any new append (a later scan starts there). */
  protected repairTail(tail: number): void {
    this.storeCounter(this.tailOffset, WordRole.tail, tail);
    this.device.persist(this.tailOffset, 8);
  }

  /**
   * R1/R2 for the next unexamined published position: loads it (with the following slots, in
   * one device load) and returns its verdict, badOrder if its seq is not above the previous
   * valid record's. Positions are examined exactly once, in order.
   */
  examine(position: number): number {
    if (position < this.examinedUpTo) {
      assert(position >= this.recoveredHead, 'FIFO examine below the recovered range');
      return this.verdicts[position - this.recoveredHead] as number; // examined already (examineAll)
    }
    assert(position === this.examinedUpTo && position < this.tail, 'FIFO examined out of order');
    this.examinedUpTo = position + 1;
    if (position >= this.loadedUpTo) this.loadRun(position);
    let verdict = this.checkSlot(position);
    let facts = slotFact.withinRing; // before the tail word: within one ring of the head (D2)
    let seq = 0;
    if (verdict === SlotVerdict.valid) {
      facts |= slotFact.recordValid;
      seq = getU64(this.shadowView, this.slotBase(position) + 24);
      if (seq > this.examinedSeq) facts |= slotFact.seqAbove;
    }
    if (slotTable.decide(facts).decision === 'deliver') {
      this.examinedSeq = seq; // R1
      this.checkConfirmationWord(position);
    } else if (verdict === SlotVerdict.valid)
      verdict = SlotVerdict.badOrder; // R2, by seq order
    else if (this.tornInRange.has(position)) verdict = SlotVerdict.torn; // D5: reported as torn
    this.verdicts[position - this.recoveredHead] = verdict;
    return verdict;
  }

  /**
   * Row R3: a delivered record's confirmation word (outside its CRC) must pass its own check; one
   * that fails is a media fault: its bits cannot be trusted, so the event goes again to every
   * intended recipient (zeroed in the shadow) and the position is reported, never silently
   * skipped for a recipient whose confirmation the fault invented.
   */
  protected checkConfirmationWord(position: number): void {
    const base = this.slotBase(position);
    const low = this.shadowView.getUint32(base, true);
    const high = this.shadowView.getUint32(base + 4, true);
    const facts = confirmationWordIntact(low, high) ? confirmationFact.confirmationIntact : 0;
    if (confirmationTable.decide(facts).decision === 'trust') return;
    this.shadowView.setUint32(base, 0, true);
    this.shadowView.setUint32(base + 4, 0, true);
    this.confirmationsDamaged.push(position);
  }

  /** False for a recovered position not examined yet (its shadow is not loaded). */
  isExamined(position: number): boolean {
    return position < this.examinedUpTo || position >= this.recoveredHead + this.verdicts.length;
  }

  /** Examines the next recovered position not examined yet (an HA pair's mirror source). */
  examineNext(): void {
    this.examine(this.examinedUpTo);
  }

  /** Examines every recovered position not examined yet (tools; the engine examines lazily). */
  examineAll(): void {
    while (this.examinedUpTo < this.recoveredHead + this.verdicts.length)
      this.examine(this.examinedUpTo);
  }

  /**
   * Loads recovered slots from `position` on (a run, within the ring and the recovered range:
   * the shadow of a record appended since boot is never overwritten).
   */
  protected loadRun(position: number): void {
    const first = position % this.slotCount;
    const recoveredEnd = this.recoveredHead + this.verdicts.length;
    const count = Math.min(fifoLoadRunSlots, recoveredEnd - position, this.slotCount - first);
    const bytes = this.shadow.subarray(first * this.slotBytes, (first + count) * this.slotBytes);
    this.device.loadBytes(this.slotsOffset + first * this.slotBytes, bytes);
    this.loadedUpTo = position + count;
  }

  /** Eager recovery of every record (inspection and tools): recoverPointers, then examine all. */
  recover(options: { repair?: boolean } = {}): FifoRecovery {
    const pointers = this.recoverPointers(options);
    this.examineAll();
    const discarded = this.verdicts.reduce((n, v) => n + (v === SlotVerdict.valid ? 0 : 1), 0);
    return { ...pointers, verdicts: this.verdicts, discarded };
  }

  /** Row D1's fact: what is wrong with the descriptor, or null if it is intact. */
  protected descriptorFault(): string | null {
    const bytes = new Uint8Array(fifoDescriptorBytes);
    this.device.loadBytes(this.sectionOffset, bytes);
    return describeDescriptorFault(bytes, {
      slotBytes: this.slotBytes,
      slotCount: this.slotCount,
      detailsBytesMax: this.limits.detailsBytesMax,
      recipientsMax: this.limits.recipientsMax,
    });
  }

  /**
   * D2: both exact integers below 2^53, and head <= tail <= head + slotCount; or the head word is
   * past the tail word, within one ring, and the slot before it still holds its record intact:
   * a fence carrying both words (the head word moves with every fence) was cut short with only
   * the head durable. The head passes only published records, and a slot is reused only once a
   * durable head is past it, so that record is still there; a damaged head word is caught here
   * as well as before (D3).
   */
  protected pointersValid(head: number, tail: number): boolean {
    if (
      head === wordDamaged ||
      tail === wordDamaged ||
      !Number.isSafeInteger(head) ||
      !Number.isSafeInteger(tail) ||
      head > seqMax ||
      tail > seqMax
    )
      return false;
    if (head <= tail) return tail - head <= this.slotCount;
    return head - tail <= this.slotCount && this.intactSeqAt(head - 1) > 0;
  }

  /** The record check of one loaded slot (a mutant without checksums overrides this). */
  protected checkSlot(position: number): number {
    return checkRecord(this.buffer, this.slotBase(position), position, this.limits);
  }

  /**
   * D3: rebuilds head and tail from the slots when the pointer words are invalid (media fault).
   * Every slot whose record is intact names its own position; the published range is taken as
   * the longest run of consecutive positions with increasing seqs that ends at the newest one,
   * cut at the head word if that alone is plausible. Deterministic in the slot contents, so a
   * second recovery after a cut here finds the same.
   */
  protected salvage(head: number, tail: number): { head: number; tail: number } {
    const seqByPosition = new Map<number, number>();
    let newest = -1;
    this.forEachIntactSlot((position, seq) => {
      seqByPosition.set(position, seq);
      newest = Math.max(newest, position);
    });
    if (newest < 0) {
      const counter = [head, tail].find((value) => value >= 0 && value <= seqMax);
      return { head: counter ?? 0, tail: counter ?? 0 };
    }
    let oldest = newest;
    while (
      seqByPosition.has(oldest - 1) &&
      (seqByPosition.get(oldest - 1) as number) < (seqByPosition.get(oldest) as number)
    ) {
      oldest--;
    }
    // A head word that is plausible on its own still bounds the run: records before it were
    // retired (their slots are stale but intact).
    if (Number.isSafeInteger(head) && head > oldest && head <= newest + 1) oldest = head;
    return { head: oldest, tail: newest + 1 };
  }

  /**
   * Row L1: the highest seq of any intact record in the ring, retired ones included (a slot keeps
   * its record until a newer one, with a higher seq, overwrites it), so a repaired lease starts
   * above every seq the ring still shows, even with nothing pending. Reads every slot.
   */
  highestSeqInSlots(): number {
    let highest = 0;
    this.forEachIntactSlot((_, seq) => (highest = Math.max(highest, seq)));
    return highest;
  }

  /** Every slot holding an intact record that names a position of its own slot (D3, L1). */
  protected forEachIntactSlot(visit: (position: number, seq: number) => void): void {
    for (let slot = 0; slot < this.slotCount; slot++) {
      this.loadSlot(slot);
      const base = this.slotBase(slot);
      if (checkRecord(this.buffer, base, -1, this.limits) !== RecordVerdict.valid) continue;
      const position = getU64(this.shadowView, base + 16);
      if (position % this.slotCount !== slot) continue;
      visit(position, getU64(this.shadowView, base + 24));
    }
  }

  /** Writes salvaged pointers: tail, then head, each persisted. */
  protected repairPointers(head: number, tail: number): void {
    this.storeCounter(this.tailOffset, WordRole.tail, tail);
    this.device.persist(this.tailOffset, 8);
    this.storeCounter(this.headOffset, WordRole.head, head);
    this.device.persist(this.headOffset, 8);
  }
}
