/**
 * The persistent dead-letter section [141]: events a recipient did not confirm after the
 * configured number of attempts, with the reason. A dead letter is never lost: it stays here,
 * visible to `inspect`, until an operator re-delivers it (Node.redeliverDeadLetters).
 *
 * | off | size | field | |
 * |---:|---:|---|---|
 * | 0 | 32 | descriptor | magic `NVRDLQ01`, version, entryCount, slotBytes, detailsBytesMax, recipientsMax, reserved, crc32c over [0, 28) |
 * | 64 + i e | 8 | state | 0 free, 1 held; one atomic word, stored after the rest is durable |
 * | + 8 | 4 | crc32c | over [12, 64) of the entry |
 * | + 12 | 4 | recipientId | |
 * | + 16 | 8 | seq | |
 * | + 24 | 8 | deadLetteredAt | ms, float64 |
 * | + 32 | 4 | reason | persistent code, below |
 * | + 36 | 4 | attempts | |
 * | + 40 | 4 | detail | the refusing recipient's code for reason 3 (a sink's: the HTTP status, the RELP code); 0 otherwise |
 * | + 64 | slotBytes | record | a copy of the FIFO slot (its own CRC) |
 *
 * where e = entryBytes = 64 + slotBytes. Persist order of a dead-lettering: entry, then state,
 * then (by the engine) the recipient's bit in the FIFO confirmation word. A cut between them
 * leaves the event undelivered to that recipient, so it is delivered again and may be
 * dead-lettered again: `add` finds the existing entry instead of making a second one.
 *
 * Reason codes (persistent: a code is never renumbered or reused; an entry with a code this
 * version does not know fails its check, row X1):
 *
 * | code | name | when |
 * |---:|---|---|
 * | 1 | attempts-exhausted | the recipient did not confirm after retry.attemptsMax attempts |
 * | 2 | recipient-retired | the recipient was retired (Node.retireRecipient, or absent past the grace period); attempts is 0 |
 * | 3 | refused | the recipient refused the event for good (`Recipient.refuse`: a sink whose next system answered a permanent error); detail holds its code |
 */
import { pageBytes } from '../constants.js';
import { crc32c } from '../events/crc32c.js';
import { NodeError } from '../events/errors.js';
import {
  RecordVerdict,
  checkRecord,
  decodeRecord,
  getU64,
  allocateRecordBuffer,
  setU64,
  type ChecksumEngine,
  type EventRecord,
  type RecordBuffer,
  type RecordLimits,
} from '../events/record.js';
import type { NvramDevice } from '../nvram/device.js';

export const deadLetterMagic = 'NVRDLQ01';
const descriptorBytes = 32;
const entriesOffset = 64;
const entryHeaderBytes = 64;

/** Indexed by the persistent reason code (0 is never stored). */
export const deadLetterReasons = [
  'none',
  'attempts-exhausted',
  'recipient-retired',
  'refused',
] as const;
export type DeadLetterReason = (typeof deadLetterReasons)[number];
export const reasonAttemptsExhausted = 1;
export const reasonRecipientRetired = 2;
export const reasonRefused = 3;

const stateFree = 0;
const stateHeld = 1;
const stateDamaged = 2;

export interface DeadLetterGeometry {
  entryCount: number;
  slotBytes: number;
  detailsBytesMax: number;
  recipientsMax: number;
}

export interface DeadLetter {
  /** Entry index in the section. */
  index: number;
  recipientId: number;
  seq: number;
  reason: DeadLetterReason;
  attempts: number;
  /** The refusing recipient's code (reason `refused`), else 0. */
  detail: number;
  deadLetteredAt: number;
  record: EventRecord;
}

export function deadLetterSectionBytes(geometry: DeadLetterGeometry): number {
  const bytes = entriesOffset + geometry.entryCount * (entryHeaderBytes + geometry.slotBytes);
  return Math.ceil(bytes / pageBytes) * pageBytes;
}

function encodeDescriptor(geometry: DeadLetterGeometry): Uint8Array {
  const bytes = new Uint8Array(descriptorBytes);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 8; i++) bytes[i] = deadLetterMagic.charCodeAt(i);
  view.setUint32(8, 1, true);
  view.setUint32(12, geometry.entryCount, true);
  view.setUint32(16, geometry.slotBytes, true);
  view.setUint32(20, geometry.detailsBytesMax, true);
  view.setUint32(24, geometry.recipientsMax, true);
  view.setUint32(28, crc32c(bytes, 0, 28), true);
  return bytes;
}

export class DeadLetterStore {
  readonly device: NvramDevice;
  readonly name: string;
  readonly entryCount: number;
  readonly entryBytes: number;
  readonly limits: RecordLimits;
  readonly #geometry: DeadLetterGeometry;
  readonly #entries: number;
  /** Volatile copy of every entry (for listing without device loads). */
  readonly #buffer: RecordBuffer;
  readonly #shadow: Uint8Array;
  readonly #shadowView: DataView;
  readonly #states: Uint8Array;
  /** The bytes [8, entryBytes) of an entry being written. */
  readonly #scratch: Uint8Array;
  readonly #scratchView: DataView;

  constructor(
    device: NvramDevice,
    sectionName: string,
    geometry: DeadLetterGeometry,
    checksum: ChecksumEngine = 'webassembly',
  ) {
    const section = device.section(sectionName);
    if (section.length < deadLetterSectionBytes(geometry)) {
      throw new NodeError('NODE_BAD_LAYOUT', `nvrelay: section '${sectionName}' is too small`);
    }
    this.device = device;
    this.name = sectionName;
    this.#geometry = geometry;
    this.entryCount = geometry.entryCount;
    this.entryBytes = entryHeaderBytes + geometry.slotBytes;
    this.limits = geometry;
    this.#entries = section.offset + entriesOffset;
    this.#buffer = allocateRecordBuffer(this.entryCount * this.entryBytes, checksum);
    this.#shadow = this.#buffer.bytes;
    this.#shadowView = this.#buffer.view;
    this.#states = new Uint8Array(this.entryCount);
    this.#scratch = new Uint8Array(this.entryBytes - 8);
    this.#scratchView = new DataView(this.#scratch.buffer);
  }

  static format(device: NvramDevice, sectionName: string, geometry: DeadLetterGeometry): void {
    const section = device.section(sectionName);
    device.storeBytes(section.offset, encodeDescriptor(geometry));
    device.persist(section.offset, descriptorBytes);
  }

  /** Validates the descriptor and every held entry. Read-only; returns the damaged count. */
  recover(): { held: number; damaged: number } {
    const descriptor = new Uint8Array(descriptorBytes);
    this.device.loadBytes(this.#entries - entriesOffset, descriptor);
    const expected = encodeDescriptor(this.#geometry);
    if (!descriptor.every((byte, i) => byte === expected[i])) {
      throw new NodeError(
        'NODE_CORRUPT',
        `nvrelay: dead-letter section '${this.name}': bad descriptor`,
      );
    }
    let held = 0;
    let damaged = 0;
    for (let index = 0; index < this.entryCount; index++) {
      const state = this.device.loadU64(this.#entries + index * this.entryBytes);
      if (state === stateFree) continue;
      const entry = this.#shadow.subarray(index * this.entryBytes, (index + 1) * this.entryBytes);
      this.device.loadBytes(this.#entries + index * this.entryBytes, entry);
      // row X1: free / held and intact / anything else is damaged (left untouched, reported)
      if (state === stateHeld && this.#entryValid(index)) {
        this.#states[index] = stateHeld;
        held++;
      } else {
        this.#states[index] = stateDamaged;
        damaged++;
      }
    }
    return { held, damaged };
  }

  #entryValid(index: number): boolean {
    const base = index * this.entryBytes;
    const view = this.#shadowView;
    if (view.getUint32(base + 8, true) !== crc32c(this.#shadow, base + 12, entryHeaderBytes - 12)) {
      return false;
    }
    const recipientId = view.getUint32(base + 12, true);
    const reason = view.getUint32(base + 32, true);
    const record = base + entryHeaderBytes;
    return (
      recipientId < this.limits.recipientsMax &&
      reason >= 1 &&
      reason < deadLetterReasons.length &&
      checkRecord(this.#buffer, record, -1, this.limits) === RecordVerdict.valid &&
      getU64(view, record + 24) === getU64(view, base + 16)
    );
  }

  /** Entries free for new dead letters. */
  free(): number {
    let count = 0;
    for (let index = 0; index < this.entryCount; index++) {
      if (this.#states[index] === stateFree) count++;
    }
    return count;
  }

  held(): number {
    let count = 0;
    for (let index = 0; index < this.entryCount; index++) {
      if (this.#states[index] === stateHeld) count++;
    }
    return count;
  }

  damaged(): number {
    return this.#states.reduce((count, state) => count + (state === stateDamaged ? 1 : 0), 0);
  }

  /**
   * Records a dead letter durably: `record` is the FIFO slot of the event. False if the section
   * is full (the caller keeps the event in flight: never lost).
   */
  add(
    recipientId: number,
    seq: number,
    record: Uint8Array,
    attempts: number,
    now: number,
    reason: number,
    detail = 0,
  ): boolean {
    if (this.find(recipientId, seq) >= 0) return true;
    const index = this.#states.indexOf(stateFree);
    if (index < 0) return false;
    const scratch = this.#scratch;
    const view = this.#scratchView;
    scratch.fill(0);
    view.setUint32(4, recipientId, true); // entry offsets minus the 8-byte state word
    setU64(view, 8, seq);
    view.setFloat64(16, now, true);
    view.setUint32(24, reason, true);
    view.setUint32(28, attempts, true);
    view.setUint32(32, detail, true);
    scratch.set(record, entryHeaderBytes - 8);
    view.setUint32(0, crc32c(scratch, 4, entryHeaderBytes - 12), true);
    const offset = this.#entries + index * this.entryBytes;
    this.device.storeBytes(offset + 8, scratch);
    this.device.persist(offset + 8, scratch.length);
    this.device.storeU64(offset, stateHeld); // publish only a complete, durable entry
    this.device.persist(offset, 8);
    const base = index * this.entryBytes;
    this.#shadow.set(scratch, base + 8);
    this.#shadowView.setUint32(base, stateHeld, true);
    this.#states[index] = stateHeld;
    return true;
  }

  /** Index of the held entry for (recipient, seq), or -1. */
  find(recipientId: number, seq: number): number {
    for (let index = 0; index < this.entryCount; index++) {
      if (this.#states[index] !== stateHeld) continue;
      const base = index * this.entryBytes;
      if (
        this.#shadowView.getUint32(base + 12, true) === recipientId &&
        getU64(this.#shadowView, base + 16) === seq
      ) {
        return index;
      }
    }
    return -1;
  }

  list(): DeadLetter[] {
    const letters: DeadLetter[] = [];
    for (let index = 0; index < this.entryCount; index++) {
      if (this.#states[index] !== stateHeld) continue;
      const base = index * this.entryBytes;
      const view = this.#shadowView;
      letters.push({
        index,
        recipientId: view.getUint32(base + 12, true),
        seq: getU64(view, base + 16),
        deadLetteredAt: view.getFloat64(base + 24, true),
        reason: deadLetterReasons[view.getUint32(base + 32, true)] ?? 'none',
        attempts: view.getUint32(base + 36, true),
        detail: view.getUint32(base + 40, true),
        record: decodeRecord(this.#shadow, base + entryHeaderBytes),
      });
    }
    return letters;
  }

  /** Frees an entry (after its re-delivery is durable). */
  remove(index: number): void {
    if (this.#states[index] !== stateHeld) return;
    const offset = this.#entries + index * this.entryBytes;
    this.device.storeU64(offset, stateFree);
    this.device.persist(offset, 8);
    this.#states[index] = stateFree;
  }
}
