/**
 * One connection to the daemon (docs/PROTOCOL.md): the handshake, then any mix of producers
 * (claimed names whose emits are answered by an ack once durable [213], or a typed refusal) and
 * recipients (subscribed names to which the node's deliveries are pushed [215] within the
 * recipient's window, the credit, and whose confirm frames are its confirmations [216]). A frame
 * that breaks the protocol ends the connection with a goodbye naming why, and nothing it said
 * reaches the node. When the connection ends its recipients are detached (their events stay
 * owed and come again on the next subscription) and its producer names are free again.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Recipient } from '../engine/recipient.js';
import { NodeError } from '../events/errors.js';
import type { Node } from '../node/node.js';
import { FrameStream } from '../wire/frame-stream.js';
import {
  FrameType,
  WireError,
  encodeFrame,
  frameName,
  confirmFlagDurable,
  wireVersion,
  wireVersionMin,
  type Claim,
  type Confirm,
  type Emit,
  type Frame,
  type Subscribe,
} from '../wire/frames.js';
import type { DaemonConfig } from './config.js';
import type { ProducerLedger } from './producer-ledger.js';

/** What every connection of one daemon shares. */
export interface ConnectionContext {
  node: Node;
  config: DaemonConfig;
  ledger: ProducerLedger;
  log: Logger;
  /** The daemon's device id, 16 hex digits. */
  nodeId: string;
  /** Recipient names attached to a live connection. */
  attached: Map<string, Connection>;
  /** The node failed (fail-stop): the daemon stops. */
  onNodeFailed(error: unknown): void;
  onClosed(connection: Connection): void;
}

/** Handles are u16 on the wire: the largest a connection's producers can take. */
const handleMax = 0xffff;

/** Byte offset of the record inside an encoded DELIVER frame (header 5, handle 2, attempt 2). */
const deliverRecordOffset = 9;

export class Connection {
  readonly socket: Socket;
  readonly peer: string;
  #ctx: ConnectionContext;
  #state: 'hello' | 'open' | 'closed' = 'hello';
  #client = '';
  readonly #stream: FrameStream;
  readonly #producers: string[] = [];
  /** Each claimed name's handle (its index in #producers). */
  readonly #handles = new Map<string, number>();
  readonly #recipients: Recipient[] = [];
  #lastReceived = Date.now();
  #lastSent = Date.now();
  /** The socket is corked until the next tick (see #write). */
  #corked = false;
  /** Confirmations whose CONFIRMED waits for the next fence: handle, seq pairs. */
  #durableConfirms: number[] = [];
  readonly #heartbeat: NodeJS.Timeout;

  constructor(socket: Socket, peer: string, ctx: ConnectionContext) {
    this.socket = socket;
    this.peer = peer;
    this.#ctx = ctx;
    this.#stream = new FrameStream(ctx.config.frameBytesMax);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => this.close()); // a reset peer: the close below says the rest
    socket.on('close', () => this.close());
    const period = ctx.config.heartbeatMs;
    this.#heartbeat = setInterval(() => this.#beat(), Math.max(10, period / 2));
    this.#heartbeat.unref();
  }

  get open(): boolean {
    return this.#state !== 'closed';
  }

  /** Ends the connection with a reason the peer can read, then closes it. */
  goodbye(code: string, message: string): void {
    if (this.#state === 'closed') return;
    this.#send({ type: FrameType.goodbye, code, message });
    this.#ctx.log.info(
      { peer: this.peer, client: this.#client, code, message },
      'connection dropped',
    );
    this.socket.end();
    this.close();
  }

  /** The connection is gone: its recipients detached, its producer names released. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearInterval(this.#heartbeat);
    this.socket.destroySoon();
    for (const recipient of this.#recipients) {
      this.#ctx.attached.delete(recipient.name);
      if (this.#ctx.node.phase === 'running') this.#ctx.node.detachRecipient(recipient);
      this.#ctx.log.info({ recipient: recipient.name, peer: this.peer }, 'recipient disconnected');
    }
    this.#ctx.ledger.release(this);
    this.#ctx.onClosed(this);
  }

  #send(frame: Frame): void {
    this.#write(encodeFrame(frame));
  }

  /**
   * Frames written in one burst (the acks of one group commit, the deliveries of one pass) go
   * out in one writev: the socket is corked at the burst's first frame and uncorked once the
   * current callbacks and microtasks are done.
   */
  #write(bytes: Uint8Array): void {
    if (this.#state === 'closed' || this.socket.destroyed) return;
    this.#lastSent = Date.now();
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  #onData(chunk: Buffer): void {
    this.#lastReceived = Date.now();
    let frames: Frame[];
    try {
      frames = this.#stream.push(chunk);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.goodbye(error.code, error.message);
      return;
    }
    for (const frame of frames) {
      if (this.#state === 'closed') return;
      try {
        this.#handle(frame);
      } catch (error) {
        if (error instanceof WireError) this.goodbye(error.code, error.message);
        else if (error instanceof NodeError && error.code === 'NODE_FAILED') {
          this.#ctx.onNodeFailed(error); // fail-stop: the daemon stops; never an uncaught throw
          return;
        } else throw error;
      }
    }
  }

  #handle(frame: Frame): void {
    if (this.#state === 'hello') {
      if (frame.type !== FrameType.hello) unexpected(frame, 'hello first');
      this.#hello(frame.versionMin, frame.versionMax, frame.client);
      return;
    }
    switch (frame.type) {
      case FrameType.claim:
        return this.#claim(frame);
      case FrameType.emit:
        return this.#emit(frame);
      case FrameType.subscribe:
        return this.#subscribe(frame);
      case FrameType.confirm:
        return this.#confirm(frame);
      case FrameType.ping:
        return this.#send({ type: FrameType.pong, nonce: frame.nonce });
      case FrameType.pong:
        return;
      case FrameType.goodbye:
        this.socket.end();
        return this.close();
      default:
        unexpected(frame, 'a client frame');
    }
  }

  #hello(versionMin: number, versionMax: number, client: string): void {
    const version = Math.min(versionMax, wireVersion);
    if (version < Math.max(versionMin, wireVersionMin)) {
      throw new WireError(
        'BAD_VERSION',
        `this daemon speaks versions ${wireVersionMin}..${wireVersion}, the client ${versionMin}..${versionMax}`,
      );
    }
    this.#state = 'open';
    this.#client = client;
    this.#send({
      type: FrameType.welcome,
      version,
      heartbeatMs: this.#ctx.config.heartbeatMs,
      frameBytesMax: this.#ctx.config.frameBytesMax,
      detailsBytesMax: this.#ctx.node.geometry.detailsBytesMax,
      node: this.#ctx.nodeId,
    });
  }

  #claim(frame: Claim): void {
    if (!this.#handles.has(frame.producer) && this.#producers.length > handleMax) {
      this.#refuse(
        frame.requestId,
        'TOO_MANY_PRODUCERS',
        `a connection claims at most ${handleMax + 1} producer names (u16 handles)`,
      );
      return;
    }
    const next = this.#ctx.ledger.claim(frame.producer, this, frame.resume);
    if (next === null) {
      this.#refuse(
        frame.requestId,
        'PRODUCER_BUSY',
        `producer '${frame.producer}' is claimed by another connection`,
      );
      return;
    }
    let handle = this.#handles.get(frame.producer);
    if (handle === undefined) {
      handle = this.#producers.push(frame.producer) - 1;
      this.#handles.set(frame.producer, handle);
    }
    this.#send({ type: FrameType.claimed, requestId: frame.requestId, handle, nextCounter: next });
  }

  #emit(frame: Emit): void {
    const producer = this.#producers[frame.handle];
    if (producer === undefined)
      throw new WireError('BAD_FRAME', `emit: no producer handle ${frame.handle}`);
    const known = frame.counter > 0 ? this.#ctx.ledger.find(producer, frame.counter) : undefined;
    if (known !== undefined) {
      this.#answer(frame.requestId, Promise.resolve(known)); // sent again: the first one's seq
      return;
    }
    let durable: Promise<number>;
    try {
      durable = this.#ctx.node
        .producer(producer)
        .emitAsync(frame.eventType, frame.severity, frame.details, frame.counter);
    } catch (error) {
      this.#answer(frame.requestId, Promise.reject(error));
      return;
    }
    if (frame.counter > 0) this.#ctx.ledger.note(producer, frame.counter, durable);
    this.#answer(frame.requestId, durable);
  }

  /** The ack once durable; a typed refusal; a node failure stops the daemon. */
  #answer(requestId: number, durable: Promise<number>): void {
    durable.then(
      (seq) => this.#send({ type: FrameType.ack, requestId, seq }),
      (error: unknown) => {
        if (error instanceof NodeError && error.code !== 'NODE_FAILED') {
          this.#refuse(requestId, error.code, error.message);
          return;
        }
        this.#refuse(
          requestId,
          'NODE_FAILED',
          error instanceof Error ? error.message : String(error),
        );
        this.#ctx.onNodeFailed(error);
      },
    );
  }

  #refuse(requestId: number, code: string, message: string): void {
    this.#send({
      type: FrameType.refused,
      requestId,
      code,
      message: message.replace(/^nvrelay: /, ''),
    });
  }

  #subscribe(frame: Subscribe): void {
    const ctx = this.#ctx;
    const declared = ctx.config.recipients[frame.recipient];
    if (declared === undefined && ctx.config.strictRecipients) {
      this.#refuse(
        frame.requestId,
        'RECIPIENT_UNKNOWN',
        `recipient '${frame.recipient}' is not in the config`,
      );
      return;
    }
    if (ctx.attached.has(frame.recipient)) {
      this.#refuse(
        frame.requestId,
        'RECIPIENT_BUSY',
        `recipient '${frame.recipient}' is connected elsewhere`,
      );
      return;
    }
    const handle = this.#recipients.length;
    const subscription = declared ?? {
      prefixes: frame.prefixes.length === 0 ? [''] : frame.prefixes,
      severityMax: frame.severityMax,
    };
    let recipient: Recipient;
    try {
      recipient = ctx.node.registerRecipient(
        frame.recipient,
        { prefixes: subscription.prefixes ?? [''], severityMax: subscription.severityMax ?? 7 },
        (event) => this.#deliver(handle, event.attempt, event.recordBytes()),
        {
          retry: declared?.retry ?? ctx.config.retry,
          inFlightMax: declared?.inFlightMax ?? Math.min(frame.window, ctx.config.inFlightMax),
        },
      );
    } catch (error) {
      if (!(error instanceof NodeError) || error.code === 'NODE_FAILED') throw error;
      this.#refuse(frame.requestId, error.code, error.message);
      return;
    }
    this.#recipients.push(recipient);
    ctx.attached.set(recipient.name, this);
    ctx.log.info(
      { recipient: recipient.name, id: recipient.id, peer: this.peer },
      'recipient connected',
    );
    this.#send({
      type: FrameType.subscribed,
      requestId: frame.requestId,
      handle,
      window: recipient.inFlightMax,
    });
  }

  /** Step 215 across the wire: the record as stored, its confirmation word zeroed. */
  #deliver(handle: number, attempt: number, record: Uint8Array): void {
    const bytes = encodeFrame({ type: FrameType.deliver, handle, attempt, record });
    bytes.fill(0, deliverRecordOffset, deliverRecordOffset + 8);
    this.#write(bytes);
  }

  #confirm(frame: Confirm): void {
    const recipient = this.#recipients[frame.handle];
    if (recipient === undefined)
      throw new WireError('BAD_FRAME', `confirm: no recipient handle ${frame.handle}`);
    recipient.confirm(frame.seq); // an unknown or repeated seq is counted and ignored
    if ((frame.flags & confirmFlagDurable) !== 0) this.#answerWhenDurable(frame.handle, frame.seq);
  }

  /**
   * CONFIRMED once the confirmation is durable: the confirmations of one turn share one fence.
   * A repeated or unknown seq is answered too, after the same fence (an earlier confirmation of
   * it may not be durable yet): either way the daemon will not deliver it again.
   */
  #answerWhenDurable(handle: number, seq: number): void {
    if (this.#durableConfirms.push(handle, seq) > 2) return;
    setImmediate(() => {
      const answers = this.#durableConfirms;
      this.#durableConfirms = [];
      if (this.#state === 'closed' || this.#ctx.node.phase !== 'running') return;
      try {
        this.#ctx.node.persistConfirmations();
      } catch (error) {
        this.#ctx.onNodeFailed(error); // fail-stop: nothing is answered
        return;
      }
      for (let k = 0; k < answers.length; k += 2)
        this.#send({
          type: FrameType.confirmed,
          handle: answers[k] as number,
          seq: answers[k + 1] as number,
        });
    });
  }

  #beat(): void {
    const now = Date.now();
    const period = this.#ctx.config.heartbeatMs;
    if (now - this.#lastReceived >= 3 * period) {
      this.goodbye('IDLE_TIMEOUT', `nothing received for ${now - this.#lastReceived} ms`);
      return;
    }
    if (this.#state === 'open' && now - this.#lastSent >= period)
      this.#send({ type: FrameType.ping, nonce: now });
  }
}

function unexpected(frame: Frame, wanted: string): never {
  throw new WireError(
    'UNEXPECTED_FRAME',
    `a ${frameName(frame.type)} frame where ${wanted} belongs`,
  );
}
