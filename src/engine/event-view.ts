/**
 * The event as a recipient receives it [215, 291]: a flyweight view over the indication queue
 * and the FIFO's shadow slot, reused for every delivery (no per-event objects). It is valid only
 * during the handler call; copy what you keep (`toJSON()`, `details()`), or read the details
 * without copying from `bytes` at [detailsOffset, detailsOffset + detailsBytes).
 */
import { decodeName } from '../events/names.js';
import { decodeOrigin, type OriginHop } from '../events/origin.js';
import {
  getU64,
  recordFlagOrigin,
  recordFlagProducerCounter,
  recordFlagRedelivery,
  recordHeaderBytes,
} from '../events/record.js';
import { severityNames, type SeverityName } from '../events/severity.js';
import type { PersistentFifo } from '../fifo/fifo.js';
import { entryFlagReplayed, type EventIndicationQueue } from './indication-queue.js';
import type { NameTable } from './subscriptions.js';

const notInterned = 0xffff;
const textDecoder = new TextDecoder();

/** A plain copy of an event (allocates). */
export interface EventCopy {
  seq: number;
  time: number;
  severity: SeverityName;
  source: string;
  type: string;
  details: Uint8Array;
  replayed: boolean;
  attempt: number;
  originalSeq: number;
}

export class EventView {
  readonly #queue: EventIndicationQueue;
  readonly #fifos: readonly PersistentFifo[];
  readonly #types: NameTable;
  readonly #sources: NameTable;
  #index = 0;
  #fifo: PersistentFifo;
  #base = 0;
  #attempt = 0;

  constructor(
    queue: EventIndicationQueue,
    fifos: readonly PersistentFifo[],
    types: NameTable,
    sources: NameTable,
  ) {
    this.#queue = queue;
    this.#fifos = fifos;
    this.#types = types;
    this.#sources = sources;
    this.#fifo = fifos[0] as PersistentFifo;
  }

  /** Points the view at queue entry `index` (engine use). */
  point(index: number, attempt: number): this {
    this.#index = index;
    this.#fifo = this.#fifos[this.#queue.fifoIndex[index] as number] as PersistentFifo;
    this.#base = this.#fifo.slotBase(this.#queue.position[index] as number);
    this.#attempt = attempt;
    return this;
  }

  /** Unique across reboots; recipients discard duplicates by it (SPEC 4.5). */
  get seq(): number {
    return this.#queue.seq[this.#index] as number;
  }

  /** When the event was recognised, ms since the epoch [111]. */
  get time(): number {
    return this.#fifo.shadowView.getFloat64(this.#base + 32, true);
  }

  /** syslog level 0 (emerg) .. 7 (debug). */
  get level(): number {
    return this.#fifo.shadow[this.#base + 14] as number;
  }

  get severity(): SeverityName {
    return severityNames[this.level] as SeverityName;
  }

  /** The producing system element [110]. */
  get source(): string {
    const id = this.#queue.sourceId[this.#index] as number;
    return id === notInterned ? this.#decode('source', 0) : (this.#sources.names[id] as string);
  }

  /** Dotted type name, e.g. `disk.failed`. */
  get type(): string {
    const id = this.#queue.typeId[this.#index] as number;
    return id === notInterned ? this.#decode('type', 1) : (this.#types.names[id] as string);
  }

  /** Delivery attempt: 1, then 2.. for re-deliveries after a timeout. */
  get attempt(): number {
    return this.#attempt;
  }

  /** True if the event was recorded before the last reboot and is being replayed [190]. */
  get replayed(): boolean {
    return ((this.#queue.flags[this.#index] as number) & entryFlagReplayed) !== 0;
  }

  /** For a dead letter re-delivered by an operator: its original seq; else 0. */
  get originalSeq(): number {
    if ((this.flags & recordFlagRedelivery) === 0) return 0;
    return getU64(this.#fifo.shadowView, this.#base + 48);
  }

  /** For an event a remote producer sent with its own emit counter: that counter; else 0. */
  get producerCounter(): number {
    if ((this.flags & recordFlagProducerCounter) === 0) return 0;
    return getU64(this.#fifo.shadowView, this.#base + 48);
  }

  /**
   * A relayed event's path through multiplexing recipients (src/mux), first hop first; empty for
   * an event recorded here first (allocates).
   */
  origin(): OriginHop[] {
    if ((this.flags & recordFlagOrigin) === 0) return [];
    return decodeOrigin(this.#fifo.shadow, this.detailsOffset + this.detailsBytes);
  }

  /** The record's flags [111] (recordFlagRedelivery, recordFlagProducerCounter, recordFlagOrigin). */
  get flags(): number {
    return this.#fifo.shadow[this.#base + 15] as number;
  }

  /**
   * The record as stored [111], its CRC intact, the confirmation word excluded from the CRC
   * (zero-copy; valid only during the handler call): what a daemon sends a remote recipient,
   * which checks the CRC end to end (docs/PROTOCOL.md, DELIVER).
   */
  recordBytes(): Uint8Array {
    const length = this.#fifo.shadowView.getUint16(this.#base + 12, true);
    return this.#fifo.shadow.subarray(this.#base, this.#base + length);
  }

  get detailsBytes(): number {
    return this.#fifo.shadowView.getUint16(this.#base + 58, true);
  }

  /** The buffer holding the details (zero-copy; valid only during the handler call). */
  get bytes(): Uint8Array {
    return this.#fifo.shadow;
  }

  get detailsOffset(): number {
    const shadow = this.#fifo.shadow;
    return (
      this.#base +
      recordHeaderBytes +
      (shadow[this.#base + 56] as number) +
      (shadow[this.#base + 57] as number)
    );
  }

  /** A copy of the details (allocates). */
  details(): Uint8Array {
    const at = this.detailsOffset;
    return this.#fifo.shadow.slice(at, at + this.detailsBytes);
  }

  detailsText(): string {
    const at = this.detailsOffset;
    return textDecoder.decode(this.#fifo.shadow.subarray(at, at + this.detailsBytes));
  }

  /** The details parsed as JSON (the `emitJson` convenience). */
  detailsJson(): unknown {
    return JSON.parse(this.detailsText()) as unknown;
  }

  toJSON(): EventCopy {
    return {
      seq: this.seq,
      time: this.time,
      severity: this.severity,
      source: this.source,
      type: this.type,
      details: this.details(),
      replayed: this.replayed,
      attempt: this.attempt,
      originalSeq: this.originalSeq,
    };
  }

  #decode(kind: 'source' | 'type', which: number): string {
    const shadow = this.#fifo.shadow;
    const sourceBytes = shadow[this.#base + 56] as number;
    const at = this.#base + recordHeaderBytes + (which === 0 ? 0 : sourceBytes);
    const length = which === 0 ? sourceBytes : (shadow[this.#base + 57] as number);
    return decodeName(kind, shadow, at, length) ?? '?';
  }
}
