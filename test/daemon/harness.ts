/**
 * A daemon in this process on a temp device, and raw connections to it: bytes and frames sent
 * as they are, frames read back with the wire's own FrameStream. For tests of the daemon, its
 * protocol and its clients (the client itself: src/client).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../../src/daemon/config.js';
import { Daemon, type TlsFiles } from '../../src/daemon/daemon.js';
import { inspectNode, type NodeInspection } from '../../src/node/inspect.js';
import { TracedNvram } from '../../src/nvram/index.js';
import { FrameStream } from '../../src/wire/frame-stream.js';
import {
  FrameType,
  WireError,
  encodeFrame,
  frameBytesMaxDefault,
  wireVersion,
  type Frame,
  type Welcome,
} from '../../src/wire/frames.js';

/** The built CLI (`npm run build` first). */
export const cliMain = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface TestDaemon {
  daemon: Daemon;
  dir: string;
  device: string;
  socket: string;
  /** Stops the daemon (idempotent); the temp dir stays until `remove`. */
  stop(): Promise<void>;
  /** Stops the daemon and removes the temp dir. */
  remove(): Promise<void>;
}

export interface StartOptions {
  /** The config file's content (validated by parseConfig). */
  config?: unknown;
  listen?: { host: string; port: number };
  tls?: TlsFiles;
  /** A temp dir to use (default: a new one). */
  dir?: string;
  /** Default 'process'. */
  durability?: 'process' | 'power';
  pipelinedFence?: boolean;
}

/** A daemon on `<dir>/d.nvram`, listening on `<dir>/d.sock`; durability 'process' unless asked, silent. */
export async function startDaemon(options: StartOptions = {}): Promise<TestDaemon> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'nvrelay-daemon-'));
  const device = join(dir, 'd.nvram');
  const socket = join(dir, 'd.sock');
  const daemon = await Daemon.start({
    device,
    durability: options.durability ?? 'process',
    ...(options.pipelinedFence !== undefined ? { pipelinedFence: options.pipelinedFence } : {}),
    config: parseConfig(options.config ?? {}),
    log: pino({ level: 'silent' }),
    socket,
    ...(options.listen !== undefined ? { listen: options.listen } : {}),
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
  });
  const stop = (): Promise<void> => daemon.stop();
  return {
    daemon,
    dir,
    device,
    socket,
    stop,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The node's persistent state as a reboot would find it, read from a copy of the file. */
export function inspectDeviceFile(path: string): NodeInspection {
  const device = TracedNvram.fromImage(new Uint8Array(readFileSync(path)), { boot: false });
  try {
    return inspectNode(device);
  } finally {
    device.close();
  }
}

export type RawTarget = { path: string } | { host: string; port: number; tls?: ConnectionOptions };

/** Rejects after `ms` with `what` unless `promise` settles first. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * One connection, spoken to byte by byte. Every frame the daemon sends is kept in `frames`, in
 * order; a frame the daemon sends that does not decode is kept in `garbage` (a daemon bug).
 */
export class RawConnection {
  readonly socket: Socket;
  readonly frames: Frame[] = [];
  garbage: WireError | null = null;
  /** Resolves when the socket has closed (either side). */
  readonly closed: Promise<void>;
  isClosed = false;
  readonly #stream = new FrameStream(frameBytesMaxDefault);
  #wake: (() => void) | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (this.garbage === null) {
        try {
          this.frames.push(...this.#stream.push(chunk));
        } catch (error) {
          if (!(error instanceof WireError)) throw error;
          this.garbage = error;
        }
      }
      this.#notify();
    });
    socket.on('error', () => {}); // 'close' follows
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.#notify();
        resolve();
      }),
    );
  }

  /** Connects (a Unix socket path, TCP, or TLS with `tls` options); rejects if it cannot. */
  static open(target: RawTarget, timeoutMs = 5_000): Promise<RawConnection> {
    return within(
      new Promise<RawConnection>((resolve, reject) => {
        let socket: Socket;
        if ('path' in target) socket = netConnect({ path: target.path });
        else if (target.tls !== undefined)
          socket = tlsConnect({ host: target.host, port: target.port, ...target.tls });
        else socket = netConnect({ host: target.host, port: target.port });
        const connectEvent =
          'path' in target || target.tls === undefined ? 'connect' : 'secureConnect';
        socket.once('error', reject);
        socket.once(connectEvent, () => {
          socket.off('error', reject);
          resolve(new RawConnection(socket));
        });
      }),
      timeoutMs,
      'connect',
    );
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Writes bytes as they are (nothing if the socket is gone). */
  send(bytes: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  sendFrame(frame: Frame): void {
    this.send(encodeFrame(frame));
  }

  /**
   * The first frame at index >= `from` that `match` accepts, waiting for it; null if the socket
   * closes first. Rejects after `timeoutMs`.
   */
  async waitFor(
    match: (frame: Frame) => boolean,
    { from = 0, timeoutMs = 5_000 }: { from?: number; timeoutMs?: number } = {},
  ): Promise<Frame | null> {
    const deadline = Date.now() + timeoutMs;
    let at = from;
    for (;;) {
      for (; at < this.frames.length; at++) {
        const frame = this.frames[at] as Frame;
        if (match(frame)) return frame;
      }
      if (this.isClosed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a frame`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The handshake: HELLO, then the WELCOME (throws if a goodbye or a close comes instead). */
  async hello(client = 'test'): Promise<Welcome> {
    const from = this.frames.length;
    this.sendFrame({
      type: FrameType.hello,
      versionMin: wireVersion,
      versionMax: wireVersion,
      client,
    });
    const frame = await this.waitFor(
      (f) => f.type === FrameType.welcome || f.type === FrameType.goodbye,
      { from },
    );
    if (frame?.type !== FrameType.welcome)
      throw new Error(`no welcome: ${frame === null ? 'closed' : JSON.stringify(frame)}`);
    return frame;
  }

  /** The frame answering request `requestId` (null if the socket closes first). */
  answer(requestId: number): Promise<Frame | null> {
    return this.waitFor((frame) => 'requestId' in frame && frame.requestId === requestId);
  }

  /** SUBSCRIBE `recipient` (every severity and type, `window` deliveries); resolves with the answer. */
  subscribe(requestId: number, recipient: string, window = 8): Promise<Frame | null> {
    this.sendFrame({
      type: FrameType.subscribe,
      requestId,
      recipient,
      severityMax: 7,
      window,
      prefixes: [],
    });
    return this.answer(requestId);
  }

  /** The goodbye frames received so far. */
  goodbyes(): Frame[] {
    return this.frames.filter((frame) => frame.type === FrameType.goodbye);
  }

  /** Ends our side and waits (bounded) for the socket to close. */
  async end(timeoutMs = 5_000): Promise<void> {
    this.socket.end();
    await within(this.closed, timeoutMs, 'the connection to close after end()');
  }

  destroy(): void {
    this.socket.destroy();
  }
}
