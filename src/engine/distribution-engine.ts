/**
 * The event distribution engine [160, 215-217]: walks the indication queue [150] once per
 * recipient (each with its own cursor and in-flight window), delivers, records confirmations
 * persistently, re-delivers after a timeout with exponential backoff, dead-letters after the
 * last attempt, and retires completely handled events from the queue head [217, 220].
 *
 * A drain pass allocates nothing: typed arrays, one reused EventView, index loops.
 * After `drain()` returns, every confirmation received before it is durable (one fence).
 */
import { AssertionError, assert } from '../events/assert.js';
import { NvramError } from '../nvram/errors.js';
import type { PersistentFifo } from '../fifo/fifo.js';
import { reasonAttemptsExhausted, reasonRefused, type DeadLetterStore } from './dead-letter.js';
import type { ClockCell } from './clock.js';
import { EventView } from './event-view.js';
import { entryFlagUnexamined, type EventIndicationQueue } from './indication-queue.js';
import type { ConfirmationSink, Recipient } from './recipient.js';
import { RecoveredEntryLoader } from './recovered-entry.js';
import type { NameTable, TypeTable } from './subscriptions.js';

export type { Clock } from './clock.js';

export interface EngineCounters {
  delivered: number;
  redelivered: number;
  confirmed: number;
  confirmsIgnored: number;
  retired: number;
  deadLettered: number;
  /** Dead-lettering was due but the section was full; the event stays in flight. */
  deadLetterFull: number;
  handlerErrors: number;
}

/** Errors a handler may not swallow: the device failed (e.g. power cut) or an invariant broke. */
function isFatal(error: unknown): boolean {
  return error instanceof NvramError || error instanceof AssertionError;
}

export class DistributionEngine implements ConfirmationSink {
  readonly queue: EventIndicationQueue;
  readonly fifos: readonly PersistentFifo[];
  readonly types: TypeTable;
  readonly sources: NameTable;
  readonly deadLetters: DeadLetterStore;
  readonly time: ClockCell;
  readonly view: EventView;
  /** Recipients by id; `active` are those with a handler this boot, in registration order. */
  readonly recipients: (Recipient | undefined)[];
  readonly active: Recipient[] = [];
  /** Off until initialisation completes: nothing is delivered before every replay is queued. */
  delivering = false;
  /**
   * Fence the pass's confirmations before drain returns (the manual-scheduling contract).
   * Auto scheduling turns it off and fences once the turn is over, unless the next group
   * commit's fence has covered them already (one msync fewer per group in 'power' durability).
   */
  fenceAtPassEnd = true;
  readonly counters: EngineCounters = {
    delivered: 0,
    redelivered: 0,
    confirmed: 0,
    confirmsIgnored: 0,
    retired: 0,
    deadLettered: 0,
    deadLetterFull: 0,
    handlerErrors: 0,
  };
  /**
   * Fail-stop: set by the node when a device operation failed; every later drain and
   * confirmation throws it, and a handler that swallowed it does not keep a pass going.
   */
  failure: Error | null = null;
  /** Set by the node's close(): a confirmation or refusal after it records nothing (false). */
  closed = false;
  /** A device operation failed inside a confirmation: the node stops; returns what to throw. */
  onFailure: (error: unknown) => Error = (error) => error as Error;
  /** Called after an event is dead-lettered for a recipient (its attempts ran out). */
  onDeadLetter: (recipient: Recipient, seq: number) => void = () => {};
  /** Told each in-window confirmation's delay since the first delivery, in ms (metrics). */
  onConfirmLatency: ((recipient: Recipient, ms: number) => void) | null = null;
  /** Called when a confirmation outside a drain pass leaves work for the next pass. */
  onConfirmed: () => void = () => {};
  /** Called when examining a recovered record discards it (row R2): it is never delivered. */
  onDiscard: (fifo: PersistentFifo, position: number, verdict: number) => void = () => {};
  #draining = false;
  /** The pass's clock reading, in a typed cell: a float64 passed as an argument is boxed. */
  readonly #now: Float64Array;
  readonly #loader: RecoveredEntryLoader;

  constructor(
    queue: EventIndicationQueue,
    fifos: readonly PersistentFifo[],
    types: TypeTable,
    sources: NameTable,
    deadLetters: DeadLetterStore,
    time: ClockCell,
    recipientsMax: number,
  ) {
    this.queue = queue;
    this.fifos = fifos;
    this.types = types;
    this.sources = sources;
    this.deadLetters = deadLetters;
    this.time = time;
    this.#now = time.cell;
    this.view = new EventView(queue, fifos, types, sources);
    this.#loader = new RecoveredEntryLoader(
      queue,
      fifos,
      types,
      sources,
      (fifo, position, verdict) => this.onDiscard(fifo, position, verdict),
    );
    this.recipients = new Array<Recipient | undefined>(recipientsMax).fill(undefined);
  }

  /** Adds a recipient; its cursor starts at the queue head, so it gets what it still owes. */
  activate(recipient: Recipient): void {
    assert(this.recipients[recipient.id] === undefined, 'recipient activated twice');
    this.recipients[recipient.id] = recipient;
    recipient.cursor = this.queue.head;
    this.active.push(recipient);
  }

  /**
   * A remote recipient's connection is gone: its in-flight deliveries are forgotten (they stay
   * owed: their bits are not set), and nothing reaches it until `attach`.
   */
  detach(recipient: Recipient): void {
    recipient.attached = false;
    recipient.windowHead = recipient.windowTail;
    recipient.nextDeadline = Infinity;
  }

  /**
   * It is back (a new connection, a new handler): everything it still owes a confirmation for is
   * delivered again from the queue's head, in order (the RELP idea), then new events.
   */
  attach(recipient: Recipient, handler: Recipient['handler']): void {
    recipient.handler = handler;
    recipient.cursor = this.queue.head;
    recipient.attached = true;
  }

  /**
   * One pass: timeouts and new deliveries for every recipient [215], then retirement [217].
   * Returns true if anything was delivered or retired. Re-entrant calls (from a handler) return.
   */
  drain(): boolean {
    if (this.failure !== null) throw this.failure;
    if (this.#draining) return false;
    this.#draining = true;
    try {
      const before = this.counters.delivered + this.counters.redelivered + this.counters.retired;
      if (this.delivering) {
        this.time.read();
        const active = this.active;
        for (let k = 0; k < active.length; k++) {
          const recipient = active[k] as Recipient;
          if (!recipient.attached) continue;
          if (recipient.nextDeadline <= (this.#now[0] as number)) this.processTimeouts(recipient);
          this.deliverNew(recipient);
        }
      }
      this.retire();
      return this.counters.delivered + this.counters.redelivered + this.counters.retired > before;
    } finally {
      this.#draining = false;
    }
  }

  /** True while a drain pass runs (a confirmation then needs no extra pass). */
  get draining(): boolean {
    return this.#draining;
  }

  /** Delivers queue entries this recipient still owes a confirmation for, up to its window. */
  protected deliverNew(recipient: Recipient): void {
    const queue = this.queue;
    const capacity = queue.capacity;
    const intended = recipient.word === 0 ? queue.intendedLo : queue.intendedHi;
    const confirmed = recipient.word === 0 ? queue.confirmedLo : queue.confirmedHi;
    const bit = recipient.bit;
    let counter = recipient.cursor < queue.head ? queue.head : recipient.cursor;
    while (
      counter < queue.tail &&
      recipient.windowTail - recipient.windowHead < recipient.inFlightMax
    ) {
      const i = counter % capacity;
      counter++;
      if (((queue.flags[i] as number) & entryFlagUnexamined) !== 0) this.load(i);
      if (((intended[i] as number) & bit) === 0 || ((confirmed[i] as number) & bit) !== 0) continue;
      recipient.cursor = counter;
      this.deliver(recipient, counter - 1, i);
    }
    recipient.cursor = counter;
  }

  /** Rows R1/R2 for a recovered entry, the first time the engine reaches it (./recovered-entry.ts). */
  protected load(i: number): void {
    this.#loader.load(i);
  }

  /**
   * Entry `i` examined now if a boot recovered it and nothing examined it yet, as the engine
   * does on reaching it (for readers of the queue outside a pass: the metrics). A device error
   * fails the engine (fail-stop).
   */
  examine(i: number): void {
    if (((this.queue.flags[i] as number) & entryFlagUnexamined) === 0) return;
    try {
      this.load(i);
    } catch (error) {
      throw this.onFailure(error);
    }
  }

  /** Step 215: a first delivery; the window entry exists before the handler can confirm. */
  protected deliver(recipient: Recipient, counter: number, i: number): void {
    const slot = recipient.windowTail % recipient.inFlightMax;
    const deadline = (this.#now[0] as number) + recipient.retry.timeoutMs;
    recipient.windowCounter[slot] = counter;
    recipient.windowSeq[slot] = this.queue.seq[i] as number;
    recipient.windowDeadline[slot] = deadline;
    recipient.windowDeliveredAt[slot] = this.#now[0] as number;
    recipient.windowAttempts[slot] = 1;
    recipient.windowDone[slot] = 0;
    recipient.windowTail++;
    if (deadline < recipient.nextDeadline) recipient.nextDeadline = deadline;
    recipient.delivered++;
    this.counters.delivered++;
    this.invoke(recipient, i, 1);
  }

  protected invoke(recipient: Recipient, i: number, attempt: number): void {
    try {
      recipient.handler(this.view.point(i, attempt), recipient);
    } catch (error) {
      if (isFatal(error) || this.failure !== null) throw error;
      recipient.handlerErrors++; // counts as unconfirmed: retried after the timeout
      this.counters.handlerErrors++;
    }
    if (this.failure !== null) throw this.failure; // the handler swallowed NODE_FAILED
  }

  /** Re-delivers timed-out events with backoff; dead-letters after the last attempt. */
  protected processTimeouts(recipient: Recipient): void {
    const now = this.#now[0] as number;
    const size = recipient.inFlightMax;
    let next = Infinity;
    for (let c = recipient.windowHead; c < recipient.windowTail; c++) {
      const slot = c % size;
      if (recipient.windowDone[slot] === 1) continue;
      if ((recipient.windowDeadline[slot] as number) <= now) {
        const attempts = recipient.windowAttempts[slot] as number;
        if (attempts >= recipient.retry.attemptsMax) {
          if (this.deadLetter(recipient, slot)) continue;
          recipient.windowDeadline[slot] = now + recipient.retry.timeoutMaxMs;
        } else {
          recipient.windowAttempts[slot] = attempts + 1;
          recipient.windowDeadline[slot] = now + this.backoff(recipient, attempts + 1);
          recipient.redelivered++;
          this.counters.redelivered++;
          this.invoke(
            recipient,
            (recipient.windowCounter[slot] as number) % this.queue.capacity,
            attempts + 1,
          );
        }
      }
      if (recipient.windowDone[slot] === 0 && (recipient.windowDeadline[slot] as number) < next) {
        next = recipient.windowDeadline[slot] as number;
      }
    }
    recipient.nextDeadline = next;
    this.popDone(recipient);
  }

  /** The wait before attempt `attempt` times out: timeout x factor^(attempt-1), capped. */
  protected backoff(recipient: Recipient, attempt: number): number {
    const retry = recipient.retry;
    return Math.min(
      retry.timeoutMs * Math.pow(retry.backoffFactor, attempt - 1),
      retry.timeoutMaxMs,
    );
  }

  /** After the last attempt: a durable dead letter, then the recipient's bit counts as handled. */
  protected deadLetter(
    recipient: Recipient,
    slot: number,
    reason = reasonAttemptsExhausted,
    detail = 0,
  ): boolean {
    const i = (recipient.windowCounter[slot] as number) % this.queue.capacity;
    const fifo = this.fifos[this.queue.fifoIndex[i] as number] as PersistentFifo;
    const position = this.queue.position[i] as number;
    const added = this.deadLetters.add(
      recipient.id,
      this.queue.seq[i] as number,
      fifo.slotView(position),
      recipient.windowAttempts[slot] as number,
      this.#now[0] as number,
      reason,
      detail,
    );
    if (!added) {
      this.counters.deadLetterFull++;
      return false;
    }
    this.settle(recipient, slot);
    recipient.deadLettered++;
    this.counters.deadLettered++;
    this.onDeadLetter(recipient, this.queue.seq[i] as number);
    return true;
  }

  /**
   * Retirement of a recipient that is not registered (Node.retireRecipient): every queued event
   * still owed to `id` (intended for it, its bit not set; recovered entries are examined first,
   * in order) is dead-lettered with `reason`, each copy durable before its bit is set as by a
   * confirmation [216]; then the events now completely handled retire [217] and one fence makes
   * the bits and the head durable. When the dead-letter section fills, the rest stay owed
   * (`left` of them) and what was dead-lettered stays.
   */
  deadLetterOwed(id: number, reason: number): { deadLettered: number; left: number } {
    if (this.failure !== null) throw this.failure;
    assert(
      this.recipients[id] === undefined,
      'dead-lettering the events of a registered recipient',
    );
    const queue = this.queue;
    const intended = id < 32 ? queue.intendedLo : queue.intendedHi;
    const confirmed = id < 32 ? queue.confirmedLo : queue.confirmedHi;
    const bit = 1 << (id & 31);
    this.time.read();
    const now = this.#now[0] as number;
    let deadLettered = 0;
    let left = 0;
    for (let counter = queue.head; counter < queue.tail; counter++) {
      const i = counter % queue.capacity;
      if (((queue.flags[i] as number) & entryFlagUnexamined) !== 0) this.load(i);
      if (((intended[i] as number) & bit) === 0 || ((confirmed[i] as number) & bit) !== 0) continue;
      const fifo = this.fifos[queue.fifoIndex[i] as number] as PersistentFifo;
      const position = queue.position[i] as number;
      if (
        left > 0 ||
        !this.deadLetters.add(id, queue.seq[i] as number, fifo.slotView(position), 0, now, reason)
      ) {
        left++;
        this.counters.deadLetterFull++;
        continue;
      }
      this.settleEntry(i, id, fifo, position);
      deadLettered++;
      this.counters.deadLettered++;
    }
    this.retire();
    this.confirmationsDurable(); // one fence (none left if the pass-end fence carried them)
    return { deadLettered, left };
  }

  /** settle for a queue entry and a recipient id with no window (a retired recipient). */
  protected settleEntry(i: number, id: number, fifo: PersistentFifo, position: number): void {
    const queue = this.queue;
    const base = fifo.slotBase(position);
    const bit = 1 << (id & 31);
    if (id < 32) {
      queue.confirmedLo[i] = (queue.confirmedLo[i] as number) | bit;
      fifo.shadowView.setInt32(base, queue.confirmedLo[i] as number, true);
    } else {
      queue.confirmedHi[i] = (queue.confirmedHi[i] as number) | bit;
      fifo.shadowView.setInt32(base + 4, queue.confirmedHi[i] as number, true);
    }
    fifo.deferConfirmation(position);
  }

  /** Step 216: a recipient's confirmation of `seq`, from the handler or later. */
  confirm(recipient: Recipient, seq: number): boolean {
    if (this.failure !== null) throw this.failure;
    if (this.closed) return false; // nothing can become durable any more: it stays owed
    const slot = this.#inFlight(recipient, seq);
    let confirmed = false;
    if (slot >= 0) {
      if (this.onConfirmLatency !== null) {
        this.time.read();
        const ms = (this.#now[0] as number) - (recipient.windowDeliveredAt[slot] as number);
        this.onConfirmLatency(recipient, ms);
      }
      try {
        this.settle(recipient, slot); // may store deferred confirmation words (a full list)
      } catch (error) {
        throw this.onFailure(error);
      }
      this.popDone(recipient);
      confirmed = true;
    } else confirmed = this.confirmOwed(recipient, seq);
    if (!confirmed) {
      recipient.confirmsIgnored++;
      this.counters.confirmsIgnored++;
      return false;
    }
    recipient.confirmed++;
    this.counters.confirmed++;
    if (!this.#draining) this.onConfirmed();
    return true;
  }

  /**
   * A recipient refuses `seq` for good (a sink whose next system answered a permanent error): it
   * is dead-lettered now, reason `refused` with the recipient's code, in the persist order of a
   * dead-lettering after the last attempt. False if it is not in flight, or if the dead-letter
   * section is full (then it stays in flight and is retried: never lost).
   */
  refuse(recipient: Recipient, seq: number, code: number): boolean {
    if (this.failure !== null) throw this.failure;
    if (this.closed) return false;
    const slot = this.#inFlight(recipient, seq);
    if (slot < 0) return false;
    this.time.read();
    try {
      if (!this.deadLetter(recipient, slot, reasonRefused, code)) return false;
    } catch (error) {
      throw this.onFailure(error);
    }
    this.popDone(recipient);
    if (!this.#draining) this.onConfirmed();
    return true;
  }

  /** The window slot of `seq` awaiting `recipient`'s confirmation, or -1. */
  #inFlight(recipient: Recipient, seq: number): number {
    const size = recipient.inFlightMax;
    for (let c = recipient.windowHead; c < recipient.windowTail; c++) {
      const slot = c % size;
      if (recipient.windowDone[slot] === 0 && recipient.windowSeq[slot] === seq) return slot;
    }
    return -1;
  }

  /**
   * A confirmation of an event owed to the recipient but not in flight: a remote recipient that
   * reconnected confirms again what it was delivered before, possibly before the event comes
   * again (docs/PROTOCOL.md, CONFIRM). Its bit is set as by any confirmation, so it is not
   * delivered again. Entries not yet examined are examined in order up to the seq (recovery
   * examines a FIFO's records in order). False if the event is not owed (confirmed before,
   * dead-lettered, retired, or unknown).
   */
  protected confirmOwed(recipient: Recipient, seq: number): boolean {
    const queue = this.queue;
    const intended = recipient.word === 0 ? queue.intendedLo : queue.intendedHi;
    const confirmed = recipient.word === 0 ? queue.confirmedLo : queue.confirmedHi;
    for (let counter = queue.head; counter < queue.tail; counter++) {
      const i = counter % queue.capacity;
      if (((queue.flags[i] as number) & entryFlagUnexamined) !== 0) this.load(i);
      if (queue.seq[i] !== seq) continue;
      if (((intended[i] as number) & recipient.bit) === 0) return false;
      if (((confirmed[i] as number) & recipient.bit) !== 0) return false;
      const fifo = this.fifos[queue.fifoIndex[i] as number] as PersistentFifo;
      try {
        this.settleEntry(i, recipient.id, fifo, queue.position[i] as number);
      } catch (error) {
        throw this.onFailure(error);
      }
      return true;
    }
    return false;
  }

  /**
   * Sets the recipient's bit in the queue and in the shadow of the slot's confirmation word; the
   * FIFO's next fence stores the word, unless its head word passes the event by then.
   */
  protected settle(recipient: Recipient, slot: number): void {
    recipient.windowDone[slot] = 1;
    const queue = this.queue;
    const i = (recipient.windowCounter[slot] as number) % queue.capacity;
    const fifo = this.fifos[queue.fifoIndex[i] as number] as PersistentFifo;
    const position = queue.position[i] as number;
    const base = fifo.slotBase(position);
    if (recipient.word === 0) {
      queue.confirmedLo[i] = (queue.confirmedLo[i] as number) | recipient.bit;
      fifo.shadowView.setInt32(base, queue.confirmedLo[i] as number, true);
    } else {
      queue.confirmedHi[i] = (queue.confirmedHi[i] as number) | recipient.bit;
      fifo.shadowView.setInt32(base + 4, queue.confirmedHi[i] as number, true);
    }
    fifo.deferConfirmation(position);
  }

  protected popDone(recipient: Recipient): void {
    while (
      recipient.windowHead < recipient.windowTail &&
      recipient.windowDone[recipient.windowHead % recipient.inFlightMax] === 1
    ) {
      recipient.windowHead++;
    }
  }

  /**
   * Steps 217/220: retire handled events from the queue head, and each FIFO's head with them
   * (volatile; the FIFO's next fence persists it).
   */
  protected retire(): void {
    const queue = this.queue;
    while (queue.head < queue.tail) {
      const i = queue.head % queue.capacity;
      if (((queue.flags[i] as number) & entryFlagUnexamined) !== 0) this.load(i);
      if (!this.isCompletelyHandled(i)) break;
      (this.fifos[queue.fifoIndex[i] as number] as PersistentFifo).retire(
        queue.position[i] as number,
      );
      queue.head++;
      this.counters.retired++;
    }
    if (this.fenceAtPassEnd) this.confirmationsDurable(); // auto: once the turn is over
  }

  /** True if some FIFO holds confirmations not yet fenced. */
  confirmationsPending(): boolean {
    for (let f = 0; f < this.fifos.length; f++) {
      if ((this.fifos[f] as PersistentFifo).confirmationsUnfenced) return true;
    }
    return false;
  }

  /**
   * Makes every confirmation received so far durable: each FIFO stores its words first, so the
   * first fence carries them all and the others find nothing left to write.
   */
  confirmationsDurable(): void {
    for (let f = 0; f < this.fifos.length; f++) (this.fifos[f] as PersistentFifo).prepareFence();
    for (let f = 0; f < this.fifos.length; f++)
      (this.fifos[f] as PersistentFifo).confirmationsDurable();
  }

  /**
   * For an event in `recipient`'s in-flight window: whether every other intended recipient has
   * confirmed it (or had it dead-lettered), and whether there was any other. Null if `seq` is
   * not in the window. A multiplexing recipient's end-to-end mode waits on this before it
   * confirms upstream (src/mux, step 256).
   */
  othersHandled(recipient: Recipient, seq: number): { handled: boolean; others: boolean } | null {
    const slot = this.#inFlight(recipient, seq);
    if (slot < 0) return null;
    const queue = this.queue;
    const i = (recipient.windowCounter[slot] as number) % queue.capacity;
    const lo = recipient.word === 0 ? ~recipient.bit : -1;
    const hi = recipient.word === 1 ? ~recipient.bit : -1;
    const intendedLo = (queue.intendedLo[i] as number) & lo;
    const intendedHi = (queue.intendedHi[i] as number) & hi;
    return {
      handled:
        ((queue.confirmedLo[i] as number) & lo) === intendedLo &&
        ((queue.confirmedHi[i] as number) & hi) === intendedHi,
      others: intendedLo !== 0 || intendedHi !== 0,
    };
  }

  /** Flow point 220 (a mutant that retires early overrides this). */
  protected isCompletelyHandled(i: number): boolean {
    return this.queue.handled(i);
  }

  /** Earliest retry deadline over all recipients (Infinity if nothing is in flight). */
  nextDeadline(): number {
    let next = Infinity;
    for (let k = 0; k < this.active.length; k++) {
      const recipient = this.active[k] as Recipient;
      if (recipient.windowHead < recipient.windowTail && recipient.nextDeadline < next) {
        next = recipient.nextDeadline;
      }
    }
    return next;
  }
}
