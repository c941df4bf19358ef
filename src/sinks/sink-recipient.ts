/**
 * One sink as a recipient of the node [170]: the handler copies each delivered event into the
 * sink's queue; what a turn of the event loop delivered leaves as one batch (one write and
 * fdatasync, one HTTP request, one pipeline, one RELP window), one batch in flight at a time;
 * each event is confirmed [216] when the transport says the next system holds it, dead-lettered
 * (reason `refused`) when it refuses it for good, and otherwise left to the recipient's retry
 * policy [215], which delivers it again after its timeout with backoff.
 *
 * A delivery of an event already queued or being sent (a retry that overtook a slow send) is
 * skipped: the send in progress decides its fate.
 */
import type { Logger } from 'pino';
import type { EventView } from '../engine/event-view.js';
import type { Recipient, RetryPolicy } from '../engine/recipient.js';
import { NodeError } from '../events/errors.js';
import type { Node } from '../node/node.js';
import type { Subscription } from '../node/options.js';
import {
  outcomes,
  reasonOf,
  type SinkEvent,
  type SinkOutcome,
  type SinkTransport,
} from './sink.js';

export interface SinkRecipientOptions {
  /** Its recipient name. */
  name: string;
  /** jsonl, webhook, redis-stream, relp. */
  kind: string;
  subscription: Subscription;
  retry?: Partial<RetryPolicy>;
  inFlightMax?: number;
  /** Events per send at most. */
  batchMax: number;
  transport: SinkTransport;
  /** The node's id, 16 hex digits (the events' identity with their seq). */
  nodeId: string;
  log: Logger;
  /** Log lines may carry event details (--log-details). */
  logDetails: boolean;
}

/** up: the last send was held; down: it failed (events wait for their next attempt). */
export type SinkState = 'starting' | 'up' | 'down' | 'closed';

export interface SinkStatus {
  name: string;
  kind: string;
  target: string;
  state: SinkState;
  lastError: string | null;
  /** Copied, waiting for a batch. */
  queued: number;
  /** In the batch being sent. */
  sending: number;
  counters: SinkRecipient['counters'];
}

export class SinkRecipient {
  readonly name: string;
  readonly kind: string;
  readonly recipient: Recipient;
  readonly transport: SinkTransport;
  readonly counters = {
    /** Events handed to the transport (again after a retry). */
    sent: 0,
    batches: 0,
    held: 0,
    retried: 0,
    refused: 0,
    /** Deliveries skipped because the event was already queued or being sent. */
    skipped: 0,
  };
  state: SinkState = 'starting';
  lastError: string | null = null;

  readonly #options: SinkRecipientOptions;
  readonly #queue: SinkEvent[] = [];
  /** Seqs queued or being sent. */
  readonly #held = new Set<number>();
  #sending: SinkEvent[] = [];
  #send: Promise<void> | null = null;
  #flushSoon = false;
  #closed = false;

  constructor(node: Node, options: SinkRecipientOptions) {
    this.#options = options;
    this.name = options.name;
    this.kind = options.kind;
    this.transport = options.transport;
    this.recipient = node.registerRecipient(
      options.name,
      options.subscription,
      (event) => this.#take(event),
      {
        ...(options.retry !== undefined ? { retry: options.retry } : {}),
        ...(options.inFlightMax !== undefined ? { inFlightMax: options.inFlightMax } : {}),
      },
    );
  }

  status(): SinkStatus {
    return {
      name: this.name,
      kind: this.kind,
      target: this.transport.target,
      state: this.state,
      lastError: this.lastError,
      queued: this.#queue.length,
      sending: this.#sending.length,
      counters: { ...this.counters },
    };
  }

  /** Stops taking events (those owed stay on the device), waits for the send, closes. */
  async close(): Promise<void> {
    this.#closed = true;
    this.state = 'closed';
    this.#queue.length = 0;
    await this.#send;
    await this.transport.close();
  }

  #take(event: EventView): void {
    if (this.#closed) return; // not confirmed: it stays owed on the device
    if (this.#held.has(event.seq)) {
      this.counters.skipped++;
      return;
    }
    this.#held.add(event.seq);
    this.#queue.push({
      node: this.#options.nodeId,
      seq: event.seq,
      time: event.time,
      level: event.level,
      severity: event.severity,
      source: event.source,
      type: event.type,
      details: event.details(),
      replayed: event.replayed,
      attempt: event.attempt,
      origin: event.origin(),
    });
    if (!this.#flushSoon && this.#send === null) {
      this.#flushSoon = true;
      setImmediate(() => {
        this.#flushSoon = false;
        this.#flush();
      });
    }
  }

  /** Sends the next batch if none is in flight. */
  #flush(): void {
    if (this.#closed || this.#send !== null || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#options.batchMax);
    this.#sending = batch;
    this.counters.sent += batch.length;
    this.counters.batches++;
    this.#send = this.transport
      .send(batch)
      .catch((error: unknown) => outcomes(batch, { kind: 'retry', reason: reasonOf(error) }))
      .then((results) => this.#settle(batch, results))
      .finally(() => {
        for (const event of batch) this.#held.delete(event.seq);
        this.#sending = [];
        this.#send = null;
        this.#flush();
      });
  }

  #settle(batch: readonly SinkEvent[], results: readonly SinkOutcome[]): void {
    let heldAny = false;
    let failure: string | null = null;
    for (let k = 0; k < batch.length; k++) {
      const event = batch[k] as SinkEvent;
      const result = results[k] ?? { kind: 'retry', reason: 'no outcome from the transport' };
      try {
        if (result.kind === 'held') {
          this.recipient.confirm(event.seq); // false if dead-lettered meanwhile: counted there
          this.counters.held++;
          heldAny = true;
        } else if (result.kind === 'retry') {
          this.counters.retried++;
          failure ??= result.reason;
        } else this.#refuse(event, result.code, result.reason);
      } catch (error) {
        if (error instanceof NodeError && error.code === 'NODE_FAILED') return; // fail-stop
        throw error;
      }
    }
    if (failure !== null && !heldAny) this.#down(failure);
    else if (heldAny) this.#up();
  }

  #refuse(event: SinkEvent, code: number, reason: string): void {
    this.counters.refused++;
    const deadLettered = this.recipient.refuse(event.seq, code);
    const fields: Record<string, unknown> = { sink: this.name, seq: event.seq, code, reason };
    if (this.#options.logDetails) fields['details'] = Buffer.from(event.details).toString();
    this.#options.log.warn(
      fields,
      deadLettered
        ? 'sink refused the event: dead-lettered'
        : 'sink refused the event: not dead-lettered (section full, or not in flight): retried',
    );
  }

  #down(reason: string): void {
    this.lastError = reason;
    if (this.state === 'down') return;
    this.state = 'down';
    this.#options.log.warn(
      { sink: this.name, target: this.transport.target, reason },
      'sink down: its events wait for their next attempt',
    );
  }

  #up(): void {
    if (this.state === 'up') return;
    const was = this.state;
    this.state = 'up';
    this.#options.log.info({ sink: this.name, target: this.transport.target, was }, 'sink up');
  }
}
