/**
 * The interconnect between the two daemons of an HA pair [193] (frames: ./interconnect-frames.ts).
 * Each daemon listens (InterconnectServer: the partner's updates applied to this node's mirror,
 * a giveback answered) and connects to its partner (InterconnectLink: this node's updates sent,
 * the MirrorPort of its MirrorSource). Plain TCP on loopback only, as the daemon's own listener.
 *
 * An update that is not answered within `ackTimeoutMs` drops the connection: the emits waiting
 * for it are then refused ('required') or acknowledged degraded ('preferred'), never left
 * hanging; the link reconnects with backoff and the mirror is resynchronised from the head.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameStream } from '../wire/frame-stream.js';
import type { NodeGeometry } from '../node/layout.js';
import {
  InterconnectType,
  decodeInterconnect,
  encodeInterconnect,
  interconnectFrameBytesMax,
  type InterconnectFrame,
  type PairFrame,
} from './interconnect-frames.js';
import type { MirrorPort, MirrorSource } from './mirror-source.js';
import type { Handover, MirrorAck, MirrorUpdate } from './mirror-update.js';
import type { PartnerMirror } from './partner-mirror.js';

export interface InterconnectAddress {
  host: string;
  port: number;
}

/** What a daemon says about itself when it connects: a pair is two nodes of one geometry. */
export function pairFrame(node: string, geometry: NodeGeometry): PairFrame {
  return {
    type: InterconnectType.pair,
    node,
    recipientsMax: geometry.recipientsMax,
    detailsBytesMax: geometry.detailsBytesMax,
    bootSlots: geometry.bootSlots,
    runtimeSlots: geometry.runtimeSlots,
  };
}

function sameGeometry(a: PairFrame, b: PairFrame): boolean {
  return (
    a.recipientsMax === b.recipientsMax &&
    a.detailsBytesMax === b.detailsBytesMax &&
    a.bootSlots === b.bootSlots &&
    a.runtimeSlots === b.runtimeSlots
  );
}

export interface InterconnectServerOptions {
  mirror: PartnerMirror;
  /** This node's PAIR frame (its id and geometry). */
  self: PairFrame;
  log: Logger;
  /** The partner asks for its stream back: resolves with the mirror's handover. */
  onGivebackAsk: (node: string) => Promise<Handover>;
}

/** The listening side: the partner's updates applied here, in order, one connection at a time. */
export class InterconnectServer {
  readonly #server: Server;
  readonly #options: InterconnectServerOptions;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, options: InterconnectServerOptions) {
    this.#server = server;
    this.#options = options;
  }

  static listen(
    address: InterconnectAddress,
    options: InterconnectServerOptions,
  ): Promise<InterconnectServer> {
    const server = createServer();
    const listener = new InterconnectServer(server, options);
    server.on('connection', (socket) => listener.#accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve(listener);
      });
    });
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const stream = new FrameStream(interconnectFrameBytesMax, decodeInterconnect);
    let paired = false;
    const drop = (reason: string): void => {
      this.#options.log.warn({ reason }, 'interconnect: partner connection dropped');
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of stream.push(chunk)) {
          if (!paired) {
            paired = this.#pair(socket, frame);
            if (!paired) return;
            continue;
          }
          this.#handle(socket, frame);
        }
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'BAD_FRAME';
        socket.write(
          encodeInterconnect({
            type: InterconnectType.refused,
            code,
            message: (error as Error).message,
          }),
        );
        drop(code);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
  }

  /** The first frame must be PAIR, from the mirror's partner (or a first one) of one geometry. */
  #pair(socket: Socket, frame: InterconnectFrame): boolean {
    const { mirror, self } = this.#options;
    const refuse = (code: string, message: string): false => {
      socket.end(encodeInterconnect({ type: InterconnectType.refused, code, message }));
      return false;
    };
    if (frame.type !== InterconnectType.pair)
      return refuse('UNEXPECTED_FRAME', 'the first interconnect frame must be PAIR');
    if (frame.node === self.node) return refuse('MIRROR_PARTNER', 'a node cannot mirror itself');
    if (!sameGeometry(frame, self))
      return refuse('MIRROR_PARTNER', 'the two nodes of a pair must have the same limits');
    if (mirror.partner !== null && mirror.partner !== frame.node)
      return refuse('MIRROR_PARTNER', `this node mirrors ${mirror.partner}, not ${frame.node}`);
    socket.write(encodeInterconnect(self));
    return true;
  }

  #handle(socket: Socket, frame: InterconnectFrame): void {
    if (frame.type === InterconnectType.update) {
      const ack = this.#options.mirror.apply(frame.update); // persist order H, synchronous
      socket.write(
        encodeInterconnect({ type: InterconnectType.updated, id: frame.id, tails: ack.tails }),
      );
      return;
    }
    if (frame.type === InterconnectType.givebackAsk) {
      this.#options.onGivebackAsk(frame.node).then(
        (handover) =>
          socket.write(encodeInterconnect({ type: InterconnectType.giveback, handover })),
        (error: unknown) =>
          socket.end(
            encodeInterconnect({
              type: InterconnectType.refused,
              code: 'GIVEBACK_REFUSED',
              message: (error as Error).message,
            }),
          ),
      );
      return;
    }
    throw Object.assign(new Error(`unexpected interconnect frame 0x${frame.type.toString(16)}`), {
      code: 'UNEXPECTED_FRAME',
    });
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

export interface InterconnectLinkOptions {
  partner: InterconnectAddress;
  self: PairFrame;
  source: MirrorSource;
  log: Logger;
  /** An update unanswered this long drops the connection (ms; default 2000). */
  ackTimeoutMs?: number;
  /** First reconnect delay (ms; default 100), doubled up to `reconnectMaxMs`. */
  reconnectMs?: number;
  /**
   * The longest reconnect delay (ms; default 500): a partner back from a reboot is mirrored
   * again within half a second, since under 'required' every moment without the link is a
   * refused emit, and an attempt on loopback costs little.
   */
  reconnectMaxMs?: number;
}

/** The connecting side: this node's MirrorSource's port to the partner's mirror. */
export class InterconnectLink implements MirrorPort {
  readonly #options: InterconnectLinkOptions;
  #socket: Socket | null = null;
  #nextId = 1;
  readonly #waiting = new Map<
    number,
    { resolve: (ack: MirrorAck) => void; reject: (e: Error) => void }
  >();
  #timer: NodeJS.Timeout | null = null;
  #backoff: number;
  #closed = false;

  constructor(options: InterconnectLinkOptions) {
    this.#options = options;
    this.#backoff = options.reconnectMs ?? 100;
    this.#connect();
  }

  #connect(): void {
    if (this.#closed) return;
    const { partner, self, log } = this.#options;
    const socket = createConnection({ host: partner.host, port: partner.port });
    socket.setNoDelay(true);
    const stream = new FrameStream(interconnectFrameBytesMax, decodeInterconnect);
    let paired = false;
    socket.on('connect', () => socket.write(encodeInterconnect(self)));
    socket.on('data', (chunk: Buffer) => {
      let frames: InterconnectFrame[];
      try {
        frames = stream.push(chunk);
      } catch (error) {
        log.warn({ err: error }, 'interconnect: bad frame from the partner');
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (frame.type === InterconnectType.refused) {
          log.error({ code: frame.code, reason: frame.message }, 'interconnect: partner refused');
          socket.destroy();
          return;
        }
        if (!paired && frame.type === InterconnectType.pair) {
          paired = true;
          this.#socket = socket;
          this.#backoff = this.#options.reconnectMs ?? 100;
          log.info({ partner: frame.node }, 'interconnect: mirroring to the partner');
          this.#options.source.connected(this).catch(() => {});
        } else if (frame.type === InterconnectType.updated) this.#answered(frame.id, frame.tails);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#lost(socket));
  }

  #answered(id: number, tails: number[]): void {
    const waiting = this.#waiting.get(id);
    if (waiting === undefined) return;
    this.#waiting.delete(id);
    waiting.resolve({ tails });
  }

  #lost(socket: Socket): void {
    if (this.#socket === socket) this.#socket = null;
    const error = new Error('the interconnect to the partner is down');
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
    this.#options.source.disconnected(error.message);
    if (this.#closed) return;
    this.#timer = setTimeout(() => this.#connect(), this.#backoff);
    this.#timer.unref();
    this.#backoff = Math.min(this.#backoff * 2, this.#options.reconnectMaxMs ?? 500);
  }

  /** MirrorPort: one UPDATE, resolved by its UPDATED (or rejected when the link drops). */
  send(update: MirrorUpdate): Promise<MirrorAck> {
    const socket = this.#socket;
    if (socket === null) return Promise.reject(new Error('the interconnect is not connected'));
    const id = this.#nextId++;
    return new Promise<MirrorAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#options.log.warn({ id }, 'interconnect: an update unanswered: reconnecting');
        socket.destroy();
      }, this.#options.ackTimeoutMs ?? 2000);
      timer.unref();
      this.#waiting.set(id, {
        resolve: (ack) => {
          clearTimeout(timer);
          resolve(ack);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      socket.write(encodeInterconnect({ type: InterconnectType.update, id, update }));
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#socket?.destroy();
  }
}

/** Asks the partner at `address` for this node's stream back: the partner mirror's handover. */
export function askGiveback(
  address: InterconnectAddress,
  self: PairFrame,
  timeoutMs: number,
): Promise<Handover> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: address.host, port: address.port });
    const stream = new FrameStream(interconnectFrameBytesMax, decodeInterconnect);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the partner did not answer the giveback within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.on('connect', () => {
      socket.write(encodeInterconnect(self));
      socket.write(encodeInterconnect({ type: InterconnectType.givebackAsk, node: self.node }));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of stream.push(chunk)) {
          if (frame.type === InterconnectType.giveback) {
            clearTimeout(timer);
            socket.end();
            resolve(frame.handover);
            return;
          }
          if (frame.type === InterconnectType.refused)
            fail(new Error(`the partner refused the giveback: ${frame.code}: ${frame.message}`));
        }
      } catch (error) {
        fail(error as Error);
      }
    });
    socket.on('error', fail);
  });
}
