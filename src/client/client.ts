/**
 * The client of `nvrelay serve` (exported as `nvrelay/client`; docs/PROTOCOL.md):
 *
 *   const c = await connect('unix:./nvrelay.sock');
 *   const seq = await c.producer('raid').emit('disk.failed', 'err', details); // once durable
 *   await c.subscribe('audit', { prefixes: ['disk.'] }, (event, r) => r.confirm(event.seq));
 *
 * A lost connection is re-established with backoff. Then every producer's unacknowledged emits
 * are sent again with their own counters, which the daemon recognises (no duplicates), and every
 * subscription is made again: the daemon delivers again what the recipient had not confirmed
 * (the RELP idea), so a handler may see an event twice after a reconnect (`event.attempt`, and
 * the seq, tell). A refusal (QUEUE_FULL, EVENT_TOO_LARGE, a bad name) rejects that emit with a
 * ClientError carrying the daemon's code.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  RecordVerdict,
  checkRecord,
  decodeRecord,
  recordBuffer,
  recordFlagRedelivery,
} from '../events/record.js';
import { encodeName } from '../events/names.js';
import {
  severityLevel,
  severityName,
  type Severity,
  type SeverityName,
} from '../events/severity.js';
import { FrameStream } from '../wire/frame-stream.js';
import {
  FrameType,
  WireError,
  encodeFrame,
  confirmFlagDurable,
  frameBytesMaxDefault,
  isTypePrefix,
  wireVersion,
  type Frame,
} from '../wire/frames.js';
import type { OriginHop } from '../events/origin.js';
import { recipientsMax } from '../constants.js';

/** A refusal or a failure, with the daemon's (or the client's) code. */
export class ClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}

export interface ClientTls {
  cert: Buffer | string;
  key: Buffer | string;
  ca: Buffer | string;
  servername?: string;
}

export interface ConnectOptions {
  /** A name for the daemon's log. */
  client?: string;
  tls?: ClientTls;
  /** Backoff between reconnects: first delay and cap, in ms. */
  reconnectMs?: { first: number; max: number };
}

/** A delivered event, its record's checksum verified end to end. */
export interface RemoteEvent {
  seq: number;
  time: number;
  severity: SeverityName;
  source: string;
  type: string;
  details: Uint8Array;
  attempt: number;
  /** For a re-delivered dead letter: its first seq; else 0. */
  originalSeq: number;
  /** A relayed event's path through multiplexing recipients, first hop first; else empty. */
  origin: OriginHop[];
}

export interface RemoteSubscription {
  prefixes?: string[];
  severityMax?: Severity;
  /** Deliveries in flight at once (the credit); the daemon may grant fewer. */
  window?: number;
}

export interface Confirmer {
  confirm(seq: number): void;
  /**
   * Confirms and resolves once the daemon has made the confirmation durable: it will never
   * deliver `seq` to this recipient again (but for a damaged confirmation word, row R3). Sent
   * again after a reconnect until answered; rejected with CLOSED by close(). A multiplexing
   * recipient releases its hold on an event only then (src/mux).
   */
  confirmDurable(seq: number): Promise<void>;
}

export type RemoteHandler = (event: RemoteEvent, recipient: Confirmer) => void;

interface PendingEmit {
  counter: number;
  type: string;
  level: number;
  details: Uint8Array;
  resolve: (seq: number) => void;
  reject: (error: Error) => void;
}

type Waiter = (frame: Frame) => void;

/** An EMIT frame's details length is a u16. */
const detailsWireMax = 0xffff;

/** A name still held by a connection the daemon has not seen end: tried again, 100 ms apart. */
const subscribeBusyTriesMax = 50;

interface SubscriptionEntry {
  name: string;
  subscription: RemoteSubscription;
  handler: RemoteHandler;
  /** The daemon's handle on the current connection; -1 until subscribed. */
  handle: number;
  /** subscribe() has resolved: a reconnect subscribes it again by itself. */
  established: boolean;
  /** Durable confirmations awaiting CONFIRMED, by seq. */
  durable: Map<number, { resolve: () => void; reject: (error: Error) => void }[]>;
  /** The confirmer handed to the handler (one per subscription). */
  confirmer: Confirmer;
}

/** Parses `unix:PATH`, a bare path, `tcp://HOST:PORT` or `tls://HOST:PORT`. */
export function parseAddress(
  url: string,
): { path: string } | { host: string; port: number; tls: boolean } {
  const match = /^(tcp|tls):\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(url);
  if (match !== null) {
    const host = (match[2] as string).replace(/^\[|\]$/g, '');
    return { host, port: Number(match[3]), tls: match[1] === 'tls' };
  }
  if (/^[a-z]+:\/\//.test(url)) throw new ClientError('BAD_ARGUMENT', `not an address: ${url}`);
  return { path: url.startsWith('unix:') ? url.slice(5) : url };
}

export async function connect(url: string, options: ConnectOptions = {}): Promise<Client> {
  const client = new Client(url, options);
  await client.connected();
  return client;
}

export class RemoteProducer {
  readonly name: string;
  readonly #client: Client;
  /** The next counter; known once the daemon answered the claim. */
  nextCounter = 0;
  handle = -1;
  readonly pending = new Map<number, PendingEmit>();
  /** Emits made before the claim was answered. */
  readonly queued: PendingEmit[] = [];

  constructor(client: Client, name: string) {
    this.#client = client;
    this.name = name;
  }

  /** Resolves with the event's seq once it is durable in the daemon's device. */
  emit(type: string, severity: Severity, details?: Uint8Array | string | null): Promise<number> {
    encodeName('type', type);
    const level = severityLevel(severity);
    const bytes =
      typeof details === 'string'
        ? new TextEncoder().encode(details)
        : (details ?? new Uint8Array(0));
    // refused here, not sent: the frame's u16 length could not carry it, and a frame the daemon
    // drops is sent again after the reconnect, for ever
    const limit = this.#client.detailsBytesMax > 0 ? this.#client.detailsBytesMax : detailsWireMax;
    if (bytes.length > Math.min(limit, detailsWireMax))
      return Promise.reject(
        new ClientError(
          'EVENT_TOO_LARGE',
          `details of ${bytes.length} bytes exceed the daemon's detailsBytesMax ${Math.min(limit, detailsWireMax)}`,
        ),
      );
    return new Promise<number>((resolve, reject) => {
      const emit: PendingEmit = { counter: 0, type, level, details: bytes, resolve, reject };
      if (this.handle < 0) this.queued.push(emit);
      else this.#client.sendEmit(this, emit);
    });
  }
}

export class Client {
  readonly url: string;
  readonly #options: ConnectOptions;
  #socket: Socket | null = null;
  #stream = new FrameStream(frameBytesMaxDefault);
  #requestId = 1;
  readonly #waiters = new Map<number, Waiter>();
  readonly #producers = new Map<string, RemoteProducer>();
  readonly #subscriptions: SubscriptionEntry[] = [];
  /** SUBSCRIBEs awaiting their answer: a connection that ends rejects them (CONNECTION_LOST). */
  readonly #subscribing = new Set<(error: ClientError) => void>();
  #closed = false;
  /** The socket corked until the next tick (see #send). */
  #corked: Socket | null = null;
  /** The current `#ready` has resolved (a reconnect then makes a new one). */
  #readyDone = false;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #delay: number;
  #ready: Promise<void>;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  /** How many times the connection was re-established. */
  reconnects = 0;
  detailsBytesMax = 0;
  node = '';

  constructor(url: string, options: ConnectOptions) {
    this.url = url;
    this.#options = options;
    this.#delay = options.reconnectMs?.first ?? 50;
    this.#ready = this.#newReady();
    this.#open();
  }

  #newReady(): Promise<void> {
    this.#readyDone = false;
    const ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = () => {
        this.#readyDone = true;
        resolve();
      };
      this.#rejectReady = reject;
    });
    ready.catch(() => {});
    return ready;
  }

  /** Resolves once the handshake of the current connection is done. */
  connected(): Promise<void> {
    return this.#ready;
  }

  producer(name: string): RemoteProducer {
    encodeName('source', name);
    let producer = this.#producers.get(name);
    if (producer === undefined) {
      producer = new RemoteProducer(this, name);
      this.#producers.set(name, producer);
      if (this.#socket !== null) this.#claim(producer);
    }
    return producer;
  }

  /**
   * A remote recipient, registered by name in the daemon's persistent table. Resolves once
   * subscribed, with the confirmer its handler is given (to confirm outside a delivery).
   */
  async subscribe(
    name: string,
    subscription: RemoteSubscription,
    handler: RemoteHandler,
  ): Promise<Confirmer> {
    encodeName('recipient', name);
    for (const prefix of subscription.prefixes ?? [])
      if (!isTypePrefix(prefix))
        throw new ClientError(
          'BAD_ARGUMENT',
          `not a type prefix: ${JSON.stringify(prefix)} (0..64 of [A-Za-z0-9_.-])`,
        );
    const entry: SubscriptionEntry = {
      name,
      subscription,
      handler,
      handle: -1,
      established: false,
      durable: new Map(),
      confirmer: {
        confirm: (seq) => this.#confirm(entry, seq, 0),
        confirmDurable: (seq) => this.#confirmDurable(entry, seq),
      },
    };
    this.#subscriptions.push(entry);
    await this.#ready;
    for (let busyTries = 1; ;) {
      try {
        await this.#subscribeOne(entry);
        entry.established = true;
        return entry.confirmer;
      } catch (error) {
        if (!(error instanceof ClientError)) throw error;
        if (this.#closed)
          throw error.code === 'CONNECTION_LOST'
            ? new ClientError('CLOSED', 'the client was closed before SUBSCRIBED')
            : error;
        if (error.code === 'RECIPIENT_BUSY') {
          // a previous holder of the name (a process just killed) may not be gone yet
          if (busyTries++ >= subscribeBusyTriesMax) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        } else if (error.code !== 'CONNECTION_LOST') throw error;
        await this.#ready; // the next connection's handshake (or CLOSED)
      }
    }
  }

  /** Closes the connection; emits not acknowledged yet are rejected with CLOSED. */
  close(): void {
    this.#closed = true;
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#socket?.end();
    this.#socket?.destroySoon();
    for (const producer of this.#producers.values()) {
      for (const emit of [...producer.pending.values(), ...producer.queued])
        emit.reject(
          new ClientError('CLOSED', 'the client was closed before the emit was acknowledged'),
        );
      producer.pending.clear();
      producer.queued.length = 0;
    }
    for (const entry of this.#subscriptions) {
      for (const waiters of entry.durable.values())
        for (const waiter of waiters)
          waiter.reject(new ClientError('CLOSED', 'the client was closed before CONFIRMED'));
      entry.durable.clear();
    }
    this.#rejectReady(new ClientError('CLOSED', 'the client was closed'));
  }

  // ---- the connection ----

  #open(): void {
    const address = parseAddress(this.url);
    const socket =
      'path' in address
        ? netConnect({ path: address.path })
        : address.tls
          ? tlsConnect({ host: address.host, port: address.port, ...this.#options.tls })
          : netConnect({ host: address.host, port: address.port });
    this.#socket = socket;
    this.#stream = new FrameStream(frameBytesMaxDefault);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => {}); // 'close' follows and reconnects
    socket.on('close', () => this.#onClose(socket));
    this.#send({
      type: FrameType.hello,
      versionMin: wireVersion, // CONFIRMED (version 2) is relied on
      versionMax: wireVersion,
      client: this.#options.client ?? `pid-${process.pid}`,
    });
    for (const producer of this.#producers.values()) this.#claim(producer);
  }

  #onClose(socket: Socket): void {
    if (this.#socket !== socket) return;
    this.#socket = null;
    this.#waiters.clear();
    for (const producer of this.#producers.values()) producer.handle = -1;
    for (const entry of this.#subscriptions) entry.handle = -1;
    // from here until the next WELCOME, whoever awaits the connection waits for that one
    if (this.#readyDone && !this.#closed) this.#ready = this.#newReady();
    const lost = new ClientError('CONNECTION_LOST', 'the connection ended before SUBSCRIBED');
    for (const reject of this.#subscribing) reject(lost);
    this.#subscribing.clear();
    if (this.#closed) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, this.#options.reconnectMs?.max ?? 2_000);
    // kept referenced: a process waiting for its daemon to come back must not exit meanwhile
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#closed) return;
      this.reconnects++;
      this.#open();
    }, delay);
  }

  /**
   * Frames sent in one burst (the emits of many producers, a pass's confirms) go out in one
   * writev: the socket is corked at the burst's first frame and uncorked once the current
   * callbacks and microtasks are done.
   */
  #send(frame: Frame): void {
    const socket = this.#socket;
    if (socket === null) return;
    if (this.#corked !== socket) {
      this.#corked = socket;
      socket.cork();
      process.nextTick(() => {
        this.#corked = null;
        socket.uncork();
      });
    }
    socket.write(encodeFrame(frame));
  }

  #request(frame: Frame & { requestId: number }, waiter: Waiter): void {
    this.#waiters.set(frame.requestId, waiter);
    this.#send(frame);
  }

  #onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#stream.push(chunk);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.#socket?.destroy();
      return;
    }
    for (const frame of frames) {
      if (this.#closed) return; // a handler closed the client: what was read with it is dropped
      this.#handle(frame);
    }
  }

  #handle(frame: Frame): void {
    switch (frame.type) {
      case FrameType.welcome:
        this.detailsBytesMax = frame.detailsBytesMax;
        this.node = frame.node;
        this.#delay = this.#options.reconnectMs?.first ?? 50;
        this.#resolveReady();
        // those still in subscribe() subscribe on their own once they see this connection
        for (const entry of this.#subscriptions) if (entry.established) this.#resubscribe(entry);
        return;
      case FrameType.claimed:
      case FrameType.ack:
      case FrameType.refused:
      case FrameType.subscribed: {
        const waiter = this.#waiters.get(frame.requestId);
        this.#waiters.delete(frame.requestId);
        waiter?.(frame);
        return;
      }
      case FrameType.deliver:
        return this.#deliver(frame.handle, frame.attempt, frame.record);
      case FrameType.confirmed:
        return this.#confirmed(frame.handle, frame.seq);
      case FrameType.ping:
        return this.#send({ type: FrameType.pong, nonce: frame.nonce });
      case FrameType.goodbye:
        if (frame.code === 'BAD_VERSION') {
          this.#closed = true;
          this.#rejectReady(new ClientError(frame.code, frame.message));
        }
        this.#socket?.destroy();
        return;
      default:
        return;
    }
  }

  // ---- producers ----

  #claim(producer: RemoteProducer): void {
    const requestId = this.#requestId++;
    this.#request(
      { type: FrameType.claim, requestId, producer: producer.name, resume: producer.nextCounter },
      (frame) => {
        if (frame.type === FrameType.refused) {
          for (const emit of [...producer.pending.values(), ...producer.queued])
            emit.reject(new ClientError(frame.code, frame.message));
          producer.pending.clear();
          producer.queued.length = 0;
          return;
        }
        if (frame.type !== FrameType.claimed) return;
        producer.handle = frame.handle;
        producer.nextCounter = Math.max(producer.nextCounter, frame.nextCounter);
        // sent again, in counter order, under their own counters: the daemon knows them
        for (const emit of [...producer.pending.values()].sort((a, b) => a.counter - b.counter))
          this.#sendEmitFrame(producer, emit);
        const queued = producer.queued.splice(0);
        for (const emit of queued) this.sendEmit(producer, emit);
      },
    );
  }

  /** @internal A new emit: its counter, then the frame. */
  sendEmit(producer: RemoteProducer, emit: PendingEmit): void {
    emit.counter = producer.nextCounter++;
    producer.pending.set(emit.counter, emit);
    this.#sendEmitFrame(producer, emit);
  }

  #sendEmitFrame(producer: RemoteProducer, emit: PendingEmit): void {
    const requestId = this.#requestId++;
    this.#request(
      {
        type: FrameType.emit,
        requestId,
        handle: producer.handle,
        severity: emit.level,
        counter: emit.counter,
        eventType: emit.type,
        details: emit.details,
      },
      (frame) => {
        if (producer.pending.get(emit.counter) !== emit) return;
        if (frame.type !== FrameType.ack && frame.type !== FrameType.refused) {
          // not an answer to an emit: the daemon broke the protocol. The emit stays pending
          // and goes again on the next connection (its counter makes it recorded once).
          this.#socket?.destroy();
          return;
        }
        producer.pending.delete(emit.counter);
        if (frame.type === FrameType.ack) emit.resolve(frame.seq);
        else emit.reject(new ClientError(frame.code, frame.message));
      },
    );
  }

  // ---- recipients ----

  #subscribeOne(entry: SubscriptionEntry): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const requestId = this.#requestId++;
      const sub = entry.subscription;
      this.#subscribing.add(reject);
      this.#request(
        {
          type: FrameType.subscribe,
          requestId,
          recipient: entry.name,
          severityMax: sub.severityMax === undefined ? 7 : severityLevel(sub.severityMax),
          window: Math.min(Math.max(sub.window ?? 64, 1), 0xffff),
          prefixes: sub.prefixes ?? [],
        },
        (frame) => {
          this.#subscribing.delete(reject);
          if (frame.type === FrameType.subscribed) {
            entry.handle = frame.handle;
            // durable confirmations the last connection left unanswered, sent again
            for (const seq of entry.durable.keys()) this.#confirm(entry, seq, confirmFlagDurable);
            resolve();
          } else if (frame.type === FrameType.refused)
            reject(new ClientError(frame.code, frame.message));
          else {
            // not an answer to a subscription: the daemon broke the protocol; the next
            // connection is asked again
            reject(new ClientError('CONNECTION_LOST', 'SUBSCRIBE answered with another frame'));
            this.#socket?.destroy();
          }
        },
      );
    });
  }

  /**
   * After a reconnect: the subscription made again. The daemon may not have seen the old
   * connection end yet (RECIPIENT_BUSY): tried again until it has.
   */
  #resubscribe(entry: SubscriptionEntry): void {
    this.#subscribeOne(entry).catch((error: unknown) => {
      if (this.#closed || !(error instanceof ClientError) || error.code !== 'RECIPIENT_BUSY')
        return;
      setTimeout(() => {
        if (this.#socket !== null && !this.#closed) this.#resubscribe(entry);
      }, 100).unref();
    });
  }

  #deliver(handle: number, attempt: number, record: Uint8Array): void {
    const entry = this.#subscriptions.find((s) => s.handle === handle);
    if (entry === undefined) return;
    const limits = {
      slotBytes: Math.ceil(record.length / 64) * 64,
      detailsBytesMax: this.detailsBytesMax,
      recipientsMax,
    };
    // one copy, into whole 8-byte-aligned lines, as the record checks read it
    const padded = new Uint8Array(limits.slotBytes);
    padded.set(record);
    const position = Number(new DataView(padded.buffer).getBigUint64(16, true));
    if (checkRecord(recordBuffer(padded), 0, position, limits) !== RecordVerdict.valid) {
      this.#socket?.destroy(); // garbage on the wire: never delivered; the reconnect re-delivers
      return;
    }
    const decoded = decodeRecord(padded, 0);
    const event: RemoteEvent = {
      seq: decoded.seq,
      time: decoded.time,
      severity: severityName(decoded.severity),
      source: decoded.source,
      type: decoded.type,
      details: decoded.details,
      attempt,
      originalSeq: (decoded.flags & recordFlagRedelivery) !== 0 ? decoded.originalSeq : 0,
      origin: decoded.origin ?? [],
    };
    entry.handler(event, entry.confirmer);
  }

  #confirm(entry: SubscriptionEntry, seq: number, flags: number): void {
    if (entry.handle >= 0)
      this.#send({ type: FrameType.confirm, handle: entry.handle, flags, seq });
  }

  #confirmDurable(entry: SubscriptionEntry, seq: number): Promise<void> {
    if (this.#closed) return Promise.reject(new ClientError('CLOSED', 'the client was closed'));
    return new Promise<void>((resolve, reject) => {
      const waiters = entry.durable.get(seq);
      if (waiters !== undefined) waiters.push({ resolve, reject });
      else {
        entry.durable.set(seq, [{ resolve, reject }]);
        this.#confirm(entry, seq, confirmFlagDurable); // else sent on the next SUBSCRIBED
      }
    });
  }

  #confirmed(handle: number, seq: number): void {
    const entry = this.#subscriptions.find((s) => s.handle === handle);
    const waiters = entry?.durable.get(seq);
    if (entry === undefined || waiters === undefined) return;
    entry.durable.delete(seq);
    for (const waiter of waiters) waiter.resolve();
  }
}
