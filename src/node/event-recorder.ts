/**
 * Steps 212-214 [110-141]: an admitted event is encoded in a reserved slot's shadow [212],
 * persisted to its FIFO, which publishes it [213], and queued for distribution [214]. One append
 * path serves every kind of emit: `append` persists each record on its own (one persist per
 * event), `appendToGroup` stores and flushes the record now and leaves the fence to the group
 * commit (`commitGroup`: one fence for every record of the group, SPEC 4.4).
 *
 * Publish order is seq order: a lone append first commits an open group, so a record never
 * becomes durable ahead of a lower seq in the same FIFO.
 */
import { assert } from '../events/assert.js';
import { recordFlagOrigin, recordFlagProducerCounter, writeRecord } from '../events/record.js';
import type { ClockCell } from '../engine/clock.js';
import type { EventIndicationQueue } from '../engine/indication-queue.js';
import type { NameTable, TypeTable } from '../engine/subscriptions.js';
import type { PersistentFifo } from '../fifo/fifo.js';
import { GroupCommit } from './group-commit.js';
import type { SeqLease } from './seq-lease.js';

/** What a record carries beyond its names and details. */
export interface AppendOptions {
  flags: number;
  /** For a re-delivered dead letter: its first seq; else 0. */
  originalSeq: number;
  /** One recipient id the event is for alone (a re-delivery), or -1: by subscription. */
  intendedRecipient: number;
  /** A relayed event's origin trail, encoded (flag recordFlagOrigin), or null. */
  origin?: Uint8Array | null;
  /**
   * Recipient ids cleared from the subscriptions' mask (a partner's event taken over [193]:
   * those that had confirmed it on the partner), as the mask's low and high 32 bits.
   */
  exceptLow?: number;
  exceptHigh?: number;
}

export const appendBySubscription: AppendOptions = Object.freeze({
  flags: 0,
  originalSeq: 0,
  intendedRecipient: -1,
});

/** A remote producer's emit with its own counter, stored at the record's offset 48. */
export function producerCounted(counter: number): AppendOptions {
  return { flags: recordFlagProducerCounter, originalSeq: counter, intendedRecipient: -1 };
}

/** A relayed event (src/mux): its origin trail stored after the details. */
export function relayed(origin: Uint8Array, exceptLow = 0, exceptHigh = 0): AppendOptions {
  return {
    flags: recordFlagOrigin,
    originalSeq: 0,
    intendedRecipient: -1,
    origin,
    exceptLow,
    exceptHigh,
  };
}

export class EventRecorder {
  readonly fifos: readonly PersistentFifo[];
  readonly queue: EventIndicationQueue;
  readonly types: TypeTable;
  readonly sources: NameTable;
  readonly time: ClockCell;
  readonly lease: SeqLease;
  /** The node's counters: `emitted` counts events queued [214]. */
  readonly counters: { emitted: number };
  /** Called after an event is queued (auto scheduling arranges a drain). */
  onQueued: () => void = () => {};
  #group: GroupCommit | null = null;
  /** The group whose asynchronous fence is in flight (pipelined group commit), or null. */
  #fencing: GroupCommit | null = null;
  /** A commit was asked for while a fence was in flight: issued when it completes. */
  #commitWanted = false;
  /** Told an error of an asynchronous fence, or of what its completion did: fail-stop. */
  onFenceFailed: (error: unknown) => void = () => {};
  /** Told each group once it is durable, before its emitters are (the crash lab's marks). */
  onGroupDurable: (group: GroupCommit) => void = () => {};
  /**
   * Tells a durable group's emitters. A node of an HA pair (src/ha) first waits for its
   * partner's mirror to hold the group [193]; such a node refuses the synchronous emit.
   */
  acknowledge: (group: GroupCommit) => void = (group) => group.resolve();
  /** True once `acknowledge` may wait (a synchronous emit could not). */
  acknowledgesLater = false;

  constructor(
    fifos: readonly PersistentFifo[],
    queue: EventIndicationQueue,
    types: TypeTable,
    sources: NameTable,
    time: ClockCell,
    lease: SeqLease,
    counters: { emitted: number },
  ) {
    this.fifos = fifos;
    this.queue = queue;
    this.types = types;
    this.sources = sources;
    this.time = time;
    this.lease = lease;
    this.counters = counters;
  }

  /** True while a group commit has records stored but not yet durable. */
  get groupOpen(): boolean {
    return this.#group !== null || this.#fencing !== null;
  }

  /** One record persisted (which publishes it [213]) and queued [214]; returns its seq. */
  append(
    fifoIndex: number,
    sourceId: number,
    typeId: number,
    level: number,
    details: Uint8Array | null,
    options: AppendOptions = appendBySubscription,
  ): number {
    if (this.#group !== null || this.#fencing !== null) this.commitGroup(); // keep publish order = seq order
    const fifo = this.fifos[fifoIndex] as PersistentFifo;
    const position = fifo.reserve();
    const seq = this.#encode(fifo, position, sourceId, typeId, level, details, options);
    fifo.commitAppend(position); // step 213: the record persisted (publishes it), then the tail hint
    this.#enqueue(fifoIndex, position, seq, typeId, sourceId);
    return seq;
  }

  /** One record stored and flushed into the open group; resolves once the group is durable. */
  appendToGroup(
    fifoIndex: number,
    sourceId: number,
    typeId: number,
    level: number,
    details: Uint8Array | null,
    options: AppendOptions = appendBySubscription,
  ): Promise<number> {
    const fifo = this.fifos[fifoIndex] as PersistentFifo;
    if (this.#group === null) this.#group = new GroupCommit(fifoIndex, fifo.reserved);
    const group = this.#group;
    assert(group.fifoIndex === fifoIndex, 'group commit spans two FIFOs');
    const position = fifo.reserve();
    const seq = this.#encode(fifo, position, sourceId, typeId, level, details, options);
    fifo.writeRecord(position); // stored and flushed; the group's one fence makes it durable
    group.add(seq, typeId, sourceId);
    return group.promise.then(() => seq);
  }

  /**
   * Group commit: one fence for the records (it publishes them), then queue them all. A group
   * whose asynchronous fence is still in flight is settled first, by this same fence (it covers
   * everything flushed before it). If the fence throws, the groups' promises are rejected with
   * `failure(error)` and the error is rethrown: the caller fails the node (their records were
   * never published to the queue).
   */
  commitGroup(failure: (error: unknown) => Error = (error) => error as Error): void {
    const fencing = this.#fencing;
    this.#fencing = null; // its completion, when it comes, finds it settled
    if (fencing !== null) this.#commitNow(fencing, failure);
    const group = this.#group;
    this.#group = null;
    if (group !== null) this.#commitNow(group, failure);
  }

  #commitNow(group: GroupCommit, failure: (error: unknown) => Error): void {
    const fifo = this.fifos[group.fifoIndex] as PersistentFifo;
    try {
      fifo.commitGroup(group.from + group.count);
    } catch (error) {
      group.reject(failure(error));
      throw error; // the node fails: abandonGroup rejects an open group's emitters
    }
    this.#publish(group);
  }

  /**
   * Pipelined group commit (docs/ARCHITECTURE.md, "Pipelined fence"): the open group's fence is
   * issued asynchronously, and the next group is stored and flushed while it runs; its emitters
   * hear once it completes, and the next group's fence is issued then. One fence in flight at a
   * time, so groups complete in seq order.
   */
  commitGroupPipelined(failure: (error: unknown) => Error = (error) => error as Error): void {
    if (this.#fencing !== null) {
      this.#commitWanted = this.#group !== null;
      return;
    }
    const group = this.#group;
    if (group === null) return;
    this.#group = null;
    this.#fencing = group;
    const fifo = this.fifos[group.fifoIndex] as PersistentFifo;
    try {
      fifo.issueGroupFence(group.from + group.count, (error) =>
        this.#fenced(group, error, failure),
      );
    } catch (error) {
      this.#fencing = null;
      group.reject(failure(error));
      throw error;
    }
  }

  /** An asynchronous group fence completed (on the event loop, outside any caller). */
  #fenced(group: GroupCommit, error: Error | null, failure: (error: unknown) => Error): void {
    try {
      if (error !== null) throw error;
      if (this.#fencing !== group) return; // a synchronous commit settled it meanwhile
      this.#fencing = null;
      this.#publish(group);
      if (this.#commitWanted) {
        this.#commitWanted = false;
        this.commitGroupPipelined(failure);
      }
    } catch (caught) {
      if (this.#fencing === group) {
        this.#fencing = null;
        group.reject(failure(caught));
      }
      this.onFenceFailed(caught);
    }
  }

  /** The group is durable: its events enter the queue [214], then its emitters hear. */
  #publish(group: GroupCommit): void {
    for (let k = 0; k < group.count; k++) {
      this.#enqueue(
        group.fifoIndex,
        group.from + k,
        group.seqs[k] as number,
        group.typeIds[k] as number,
        group.sourceIds[k] as number,
      );
    }
    this.onGroupDurable(group);
    this.acknowledge(group);
  }

  /** Fail-stop: an open group is never committed; its emitters get `error`. */
  abandonGroup(error: Error): void {
    const group = this.#group;
    const fencing = this.#fencing;
    this.#group = this.#fencing = null;
    group?.reject(error);
    fencing?.reject(error);
  }

  /** Step 212: the record in the slot's shadow; returns its seq. */
  #encode(
    fifo: PersistentFifo,
    position: number,
    sourceId: number,
    typeId: number,
    level: number,
    details: Uint8Array | null,
    options: AppendOptions,
  ): number {
    const seq = this.lease.take();
    let low = this.types.masksLo[typeId * 8 + level] as number;
    let high = this.types.masksHi[typeId * 8 + level] as number;
    const alone = options.intendedRecipient;
    if (alone >= 0) {
      low = alone < 32 ? 1 << alone : 0;
      high = alone < 32 ? 0 : 1 << (alone - 32);
    }
    low &= ~(options.exceptLow ?? 0);
    high &= ~(options.exceptHigh ?? 0);
    const base = fifo.slotBase(position);
    this.#stampTime(fifo.shadowView, base);
    writeRecord(
      fifo.buffer,
      base,
      position,
      seq,
      level,
      options.flags,
      low,
      high,
      options.originalSeq,
      this.sources.bytes[sourceId] as Uint8Array,
      this.types.bytes[typeId] as Uint8Array,
      details,
      options.origin ?? null,
    );
    return seq;
  }

  /** [111] The time the event was recognised, written into the record (offset 32). */
  #stampTime(view: DataView, base: number): void {
    this.time.read();
    view.setFloat64(base + 32, this.time.cell[0] as number, true);
  }

  /** Step 214: the published event enters the indication queue. */
  #enqueue(
    fifoIndex: number,
    position: number,
    seq: number,
    typeId: number,
    sourceId: number,
  ): void {
    const fifo = this.fifos[fifoIndex] as PersistentFifo;
    const base = fifo.slotBase(position);
    const low = fifo.shadowView.getInt32(base + 40, true);
    const high = fifo.shadowView.getInt32(base + 44, true);
    this.queue.push(fifoIndex, position, seq, low, high, 0, 0, typeId, sourceId, 0);
    this.counters.emitted++;
    this.onQueued();
  }
}
