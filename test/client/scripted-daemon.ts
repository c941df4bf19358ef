/**
 * A daemon that is only a script: it answers the handshake, claims, emits and subscriptions as
 * a real one would, unless a test says otherwise, and keeps every frame a client sent. For
 * what a real daemon never or rarely does (refusals, garbage, a BAD_VERSION, a dropped
 * connection at a chosen moment) in tests of src/client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { connect, type Client, type ConnectOptions } from '../../src/client/client.js';
import { FrameStream } from '../../src/wire/frame-stream.js';
import {
  FrameType,
  encodeFrame,
  frameBytesMaxDefault,
  wireVersion,
  type Frame,
} from '../../src/wire/frames.js';

export interface ScriptedConnection {
  socket: Socket;
  /** Every frame this connection sent, in order. */
  frames: Frame[];
  send(frame: Frame): void;
}

/** What the daemon does with a frame; return true when the test's script has answered it. */
export type Script = (frame: Frame, connection: ScriptedConnection) => boolean | void;

/** Refuses frames of `type` with `code`: the first `times` of them (default every one). */
export function refusing(type: number, code: string, times = Infinity): Script {
  let left = times;
  return (frame, connection) => {
    if (frame.type !== type || !('requestId' in frame) || left <= 0) return false;
    left--;
    connection.send({
      type: FrameType.refused,
      requestId: frame.requestId,
      code,
      message: `refused by the script: ${code}`,
    });
    return true;
  };
}

/**
 * A test file's daemons and clients, each closed (clients first) after the test that made it.
 * A client reconnects within 10-40 ms unless `options` say otherwise.
 */
export function scriptedPeers(): {
  daemon(tcp?: boolean): Promise<ScriptedDaemon>;
  client(d: ScriptedDaemon, options?: ConnectOptions): Promise<Client>;
  /** Closed after the test too, in reverse order. */
  cleanups: (() => unknown)[];
} {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    cleanups,
    async daemon(tcp = false) {
      const started = await ScriptedDaemon.start(tcp);
      cleanups.push(() => started.close());
      return started;
    },
    async client(d, options) {
      const c = await connect(d.address, options ?? { reconnectMs: { first: 10, max: 40 } });
      cleanups.push(() => c.close());
      return c;
    },
  };
}

export class ScriptedDaemon {
  readonly connections: ScriptedConnection[] = [];
  script: Script = () => false;
  readonly #server: Server;
  readonly #dir: string;
  readonly address: string;
  #seq = 100;

  private constructor(server: Server, dir: string, address: string) {
    this.#server = server;
    this.#dir = dir;
    this.address = address;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Listening on a Unix socket, or on 127.0.0.1 with `tcp`. */
  static async start(tcp = false): Promise<ScriptedDaemon> {
    const dir = mkdtempSync(join(tmpdir(), 'nvrelay-scripted-'));
    const server = createServer();
    const path = join(dir, 'scripted.sock');
    await new Promise<void>((resolve) =>
      tcp ? server.listen(0, '127.0.0.1', resolve) : server.listen(path, resolve),
    );
    const port = (server.address() as { port?: number }).port;
    return new ScriptedDaemon(server, dir, tcp ? `tcp://127.0.0.1:${port}` : `unix:${path}`);
  }

  /** All frames of one type, over every connection so far. */
  sent(type: number): Frame[] {
    return this.connections.flatMap((c) => c.frames.filter((frame) => frame.type === type));
  }

  /** Waits (bounded) until `condition` holds. */
  async until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #accept(socket: Socket): void {
    const stream = new FrameStream(frameBytesMaxDefault);
    const connection: ScriptedConnection = {
      socket,
      frames: [],
      send: (frame) => {
        if (!socket.destroyed) socket.write(encodeFrame(frame));
      },
    };
    this.connections.push(connection);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      for (const frame of stream.push(chunk)) {
        connection.frames.push(frame);
        if (this.script(frame, connection) !== true) this.#answer(frame, connection);
      }
    });
  }

  /** What a daemon that has nothing against the client answers. */
  #answer(frame: Frame, connection: ScriptedConnection): void {
    switch (frame.type) {
      case FrameType.hello:
        return connection.send({
          type: FrameType.welcome,
          version: wireVersion,
          heartbeatMs: 60_000,
          frameBytesMax: frameBytesMaxDefault,
          detailsBytesMax: 1024,
          node: '0123456789abcdef',
        });
      case FrameType.claim:
        return connection.send({
          type: FrameType.claimed,
          requestId: frame.requestId,
          handle: 0,
          nextCounter: frame.resume,
        });
      case FrameType.emit:
        return connection.send({
          type: FrameType.ack,
          requestId: frame.requestId,
          seq: this.#seq++,
        });
      case FrameType.subscribe:
        return connection.send({
          type: FrameType.subscribed,
          requestId: frame.requestId,
          handle: 0,
          window: frame.window,
        });
      default:
        return;
    }
  }
}
