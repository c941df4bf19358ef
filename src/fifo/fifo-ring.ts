/**
 * A persistent event FIFO's ring [140, 141] in one NVRAM section (layout in ./layout.ts): the
 * section's geometry and offsets, the volatile shadow of its slots, the pointers as the runtime
 * and recovery keep them, and the few device accesses both halves share. Recovery (rows D1-D5,
 * R1-R3) is RecoverableFifo (./recoverable-fifo.ts); the runtime's persist orders are
 * PersistentFifo (./fifo.ts).
 *
 * The shadow: the record is encoded there, stored to the device from there, and delivered from
 * there (no per-event device loads or allocations).
 */
import { fifoSlotsMax, recipientsMax } from '../constants.js';
import { assert } from '../events/assert.js';
import { WordRole, decodeCounterWord, encodeCounterWord } from '../events/checked-word.js';
import { NodeError } from '../events/errors.js';
import {
  allocateRecordBuffer,
  type ChecksumEngine,
  type RecordBuffer,
  type RecordLimits,
} from '../events/record.js';
import type { NvramDevice } from '../nvram/device.js';
import {
  encodeFifoDescriptor,
  fifoDescriptorBytes,
  fifoOffsets,
  fifoSectionBytes,
  type FifoGeometry,
} from './layout.js';

/** Rings up to this many slots get every slot's view at boot (no allocation after boot). */
export const slotViewsEagerMax = 65_536;

/** Rings up to this many slots keep the durable tail word within one record of the tail. */
export const tailLagSmallRingSlots = 64;

/**
 * The most the durable tail word may trail the tail, in slots, in a large ring: recovery scans
 * (and checksums) that many records past it (row D4), and a media fault in one of them ends that
 * scan, so the records after it are not delivered; one group commit's worth bounds both. The
 * tail word rides every fence that moves the head anyway (same page), so this flush only costs a
 * page when nothing is being retired.
 */
export const tailLagSlotsMax = 64;

/** Confirmations one FIFO defers to its next fence before storing them at once. */
export const confirmationsDeferredMax = 4096;

/** Slots read from the device in one load while examining (bounds the load, not the boot). */
export const fifoLoadRunSlots = 256;

export class FifoRing {
  readonly device: NvramDevice;
  readonly name: string;
  readonly slotBytes: number;
  readonly slotCount: number;
  readonly limits: RecordLimits;
  /** Absolute device offsets. */
  readonly sectionOffset: number;
  readonly headOffset: number;
  readonly tailOffset: number;
  readonly slotsOffset: number;

  /** Volatile mirror of every slot; slot i at i * slotBytes (three views of one buffer). */
  readonly buffer: RecordBuffer;
  readonly shadow: Uint8Array;
  readonly shadowView: DataView;
  /** One view per slot, made at boot, so a store never allocates a subarray. */
  /**
   * One view per slot, so a store never allocates a subarray: made at boot for rings up to
   * slotViewsEagerMax slots, else on a slot's first use (a large ring boots fast).
   */
  protected readonly slotViews: (Uint8Array | undefined)[];
  protected readonly confirmScratch = new Uint8Array(8);
  protected readonly confirmScratchView = new DataView(this.confirmScratch.buffer);
  /** One pointer word as stored or loaded (checked words are stored as one 8-byte word). */
  protected readonly counterScratch = new Uint8Array(8);
  /** Recovery: positions whose confirmation word failed its check (row R3), not reported yet. */
  readonly confirmationsDamaged: number[] = [];
  /**
   * Positions whose confirmation word changed since this FIFO's last fence (repeats allowed);
   * the fence stores those the head word does not pass. When full, they are stored at once.
   */
  protected readonly confirmationsDeferred: Float64Array;
  protected deferredCount = 0;

  /** Oldest position not yet retired (volatile; the next fence of this FIFO persists it). */
  head = 0;
  /** The head as last made durable: slots before it may be reused. */
  persistedHead = 0;
  /** One past the newest published position [213] (its record durable). */
  tail = 0;
  /** The tail word as last made durable: recovery scans from it (<= tail). */
  durableTail = 0;
  /**
   * No tail word is stored past a torn record recovery passed (row D5) until the head is past
   * it: every record below the durable tail word stays intact, so a later boot never finds a
   * damaged one there, which it could only take for a media fault. Infinity: no cap.
   */
  tailWordCap = Infinity;
  /** A tail word stored and flushed, durable at this FIFO's next fence; -1 if none. */
  protected tailFlushed = -1;
  /** The same for the head word. */
  protected headFlushed = -1;
  /** One past the newest reserved position (>= tail while a group commit is open). */
  reserved = 0;
  /** Confirmations received since this FIFO's last fence (not durable yet). */
  confirmationsUnfenced = false;
  /** Recovery: published positions below this were examined; below loadedUpTo, loaded. */
  protected examinedUpTo = 0;
  protected loadedUpTo = 0;
  /** Recovery: seq of the last valid record examined (seqs must increase, row R1). */
  protected examinedSeq = 0;
  /** Recovery: the range [recoveredHead, + verdicts.length) published at boot, and verdicts. */
  protected recoveredHead = 0;
  protected verdicts = new Uint8Array(0);
  /** Recovery: the record check of the slot scanFacts last read (-1: none read). */
  protected scanVerdict = -1;
  /** Recovery: positions of damaged records the scan passed (row D5), examined as torn. */
  protected tornInRange = new Set<number>();

  constructor(
    device: NvramDevice,
    sectionName: string,
    geometry: FifoGeometry,
    checksum: ChecksumEngine = 'webassembly',
  ) {
    assert(geometry.slotCount >= 1 && geometry.slotCount <= fifoSlotsMax, 'slotCount out of range');
    assert(geometry.slotBytes % 64 === 0, 'slotBytes must be whole lines');
    assert(geometry.recipientsMax >= 1 && geometry.recipientsMax <= recipientsMax, 'recipientsMax');
    const section = device.section(sectionName);
    if (section.length < fifoSectionBytes(geometry)) {
      throw new NodeError(
        'NODE_BAD_LAYOUT',
        `nvrelay: section '${sectionName}' has ${section.length} bytes, a FIFO of ` +
          `${geometry.slotCount} x ${geometry.slotBytes}-byte slots needs ${fifoSectionBytes(geometry)}`,
      );
    }
    this.device = device;
    this.name = sectionName;
    this.slotBytes = geometry.slotBytes;
    this.slotCount = geometry.slotCount;
    this.limits = {
      slotBytes: geometry.slotBytes,
      detailsBytesMax: geometry.detailsBytesMax,
      recipientsMax: geometry.recipientsMax,
    };
    this.sectionOffset = section.offset;
    this.headOffset = section.offset + fifoOffsets.head;
    this.tailOffset = section.offset + fifoOffsets.tail;
    this.slotsOffset = section.offset + fifoOffsets.slots;
    this.buffer = allocateRecordBuffer(this.slotCount * this.slotBytes, checksum);
    this.shadow = this.buffer.bytes;
    this.shadowView = this.buffer.view;
    this.slotViews = new Array<Uint8Array | undefined>(this.slotCount);
    this.confirmationsDeferred = new Float64Array(
      Math.min(this.slotCount, confirmationsDeferredMax),
    );
    if (this.slotCount <= slotViewsEagerMax) {
      for (let slot = 0; slot < this.slotCount; slot++)
        this.slotViews[slot] = this.makeSlotView(slot);
    }
  }

  /** Writes the descriptor and zero pointers, each persisted (format time, not restartable). */
  static format(device: NvramDevice, sectionName: string, geometry: FifoGeometry): void {
    const section = device.section(sectionName);
    const word = new Uint8Array(8);
    encodeCounterWord(0, WordRole.head, word);
    device.storeBytes(section.offset + fifoOffsets.head, word);
    encodeCounterWord(0, WordRole.tail, word);
    device.storeBytes(section.offset + fifoOffsets.tail, word);
    device.storeU64(section.offset + fifoOffsets.owner, 0);
    device.persist(section.offset, fifoOffsets.slots);
    device.storeBytes(section.offset, encodeFifoDescriptor(geometry));
    device.persist(section.offset, fifoDescriptorBytes);
  }

  /** Byte offset of a position's slot in the shadow. */
  slotBase(position: number): number {
    return (position % this.slotCount) * this.slotBytes;
  }

  /** The shadow of a position's slot (valid until the slot is reused). */
  slotView(position: number): Uint8Array {
    const slot = position % this.slotCount;
    return this.slotViews[slot] ?? (this.slotViews[slot] = this.makeSlotView(slot));
  }

  protected makeSlotView(slot: number): Uint8Array {
    return this.shadow.subarray(slot * this.slotBytes, (slot + 1) * this.slotBytes);
  }

  /** Positions that can be reserved now: a slot is free once the durable head is past it. */
  free(): number {
    return this.slotCount - (this.reserved - this.persistedHead);
  }

  /** Published events not yet retired. */
  pending(): number {
    return this.tail - this.head;
  }

  /** Loads one slot from the device into the shadow. */
  protected loadSlot(position: number): void {
    this.device.loadBytes(this.slotsOffset + this.slotBase(position), this.slotView(position));
  }

  /** A pointer word's value, or wordDamaged if its check fails. */
  protected loadCounter(offset: number, role: WordRole): number {
    this.device.loadBytes(offset, this.counterScratch);
    return decodeCounterWord(this.counterScratch, role);
  }

  /** Stores a pointer word with its check: one aligned 8-byte store, so one atomic word. */
  protected storeCounter(offset: number, role: WordRole, value: number): void {
    encodeCounterWord(value, role, this.counterScratch);
    this.device.storeBytes(offset, this.counterScratch);
  }
}
