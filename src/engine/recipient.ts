/**
 * A recipient [170, 172] as the distribution engine sees it: its subscription, its handler and
 * its own cursor and in-flight window [160], so that a slow recipient never blocks another's
 * deliveries (it can only hold the FIFO head back, and so eventually cause QueueFull).
 *
 * The window is a ring of `inFlightMax` deliveries awaiting confirmation, pre-allocated at
 * registration; a confirmation may arrive in any order (it marks its entry done; done entries
 * leave from the front).
 */
import type { EventView } from './event-view.js';
import type { Subscriber } from './subscriptions.js';

/** Called once per delivery attempt. `event` is a reused view, valid only during the call. */
export type RecipientHandler = (event: EventView, recipient: Recipient) => void;

export interface RetryPolicy {
  /** Time to wait for a confirmation before the first re-delivery. */
  timeoutMs: number;
  /** Each further wait is this many times longer (exponential backoff)... */
  backoffFactor: number;
  /** ...up to this. */
  timeoutMaxMs: number;
  /** Deliveries before the event is dead-lettered for this recipient. */
  attemptsMax: number;
}

/** What the engine does on a recipient's behalf; implemented by DistributionEngine. */
export interface ConfirmationSink {
  confirm(recipient: Recipient, seq: number): boolean;
  refuse(recipient: Recipient, seq: number, code: number): boolean;
}

export class Recipient implements Subscriber {
  readonly id: number;
  readonly name: string;
  /** Which half of the u64 masks holds this recipient's bit (0: low, 1: high), and the bit. */
  readonly word: number;
  readonly bit: number;
  prefixes: readonly string[];
  severityMax: number;
  handler: RecipientHandler;
  readonly retry: RetryPolicy;
  readonly inFlightMax: number;

  /**
   * False while a remote recipient's connection is gone (src/daemon): it stays a subscriber, so
   * events emitted meanwhile are intended for it and stay owed, but nothing is delivered, retried
   * or dead-lettered until it attaches again.
   */
  attached = true;
  /** Next indication-queue counter to look at. */
  cursor = 0;
  // The in-flight window (ring over counters windowHead..windowTail).
  windowHead = 0;
  windowTail = 0;
  readonly windowCounter: Float64Array;
  readonly windowSeq: Float64Array;
  readonly windowDeadline: Float64Array;
  /** When each entry was first delivered (the confirm-latency metric). */
  readonly windowDeliveredAt: Float64Array;
  readonly windowAttempts: Uint16Array;
  readonly windowDone: Uint8Array;
  /** No in-flight delivery times out before this (may be early; never late). */
  nextDeadline = Infinity;

  delivered = 0;
  redelivered = 0;
  confirmed = 0;
  confirmsIgnored = 0;
  deadLettered = 0;
  handlerErrors = 0;

  readonly #sink: ConfirmationSink;

  constructor(
    sink: ConfirmationSink,
    id: number,
    name: string,
    subscription: { prefixes: readonly string[]; severityMax: number },
    handler: RecipientHandler,
    retry: RetryPolicy,
    inFlightMax: number,
  ) {
    this.#sink = sink;
    this.id = id;
    this.name = name;
    this.word = id < 32 ? 0 : 1;
    this.bit = 1 << (id & 31);
    this.prefixes = subscription.prefixes;
    this.severityMax = subscription.severityMax;
    this.handler = handler;
    this.retry = retry;
    this.inFlightMax = inFlightMax;
    this.windowCounter = new Float64Array(inFlightMax);
    this.windowSeq = new Float64Array(inFlightMax);
    this.windowDeadline = new Float64Array(inFlightMax);
    this.windowDeliveredAt = new Float64Array(inFlightMax);
    this.windowAttempts = new Uint16Array(inFlightMax);
    this.windowDone = new Uint8Array(inFlightMax);
  }

  /**
   * Confirms receipt of event `seq` [216, 293], now or later, in any order. True if the event
   * was awaiting this recipient's confirmation; false for an unknown, repeated or late one
   * (e.g. after the event was dead-lettered), which is counted and otherwise ignored; false
   * after the node closed (nothing is recorded: the event stays owed, the next boot replays it).
   */
  confirm(seq: number): boolean {
    return this.#sink.confirm(this, seq);
  }

  /**
   * Refuses event `seq` for good: it is dead-lettered now with reason `refused` and `code` (a
   * sink's: the HTTP status of a 4xx). True if it was in flight and is now a durable dead letter;
   * false otherwise, and after the node closed.
   */
  refuse(seq: number, code: number): boolean {
    return this.#sink.refuse(this, seq, code);
  }

  inFlight(): number {
    let count = 0;
    for (let c = this.windowHead; c < this.windowTail; c++) {
      if (this.windowDone[c % this.inFlightMax] === 0) count++;
    }
    return count;
  }
}
