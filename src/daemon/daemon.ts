/**
 * `nvrelay serve`: one node on one device, reached over a Unix socket (mode 0600) and, only if
 * asked, TCP: plaintext on a loopback address only, TLS with client certificates elsewhere.
 * Producers and recipients in other processes speak docs/PROTOCOL.md (./connection.ts); the
 * guarantee crosses the process boundary unchanged: an acknowledged emit is delivered to every
 * intended recipient until that recipient confirms it, through a kill -9 or a power cut of any
 * process [110, 160, 170-172].
 *
 * Start: open the device (formatting it if absent, taking its lock), boot [231], rebuild the
 * producer ledger from the pending records, register the config's recipients (detached until
 * they connect, so events meant for them are kept), start. Stop (SIGTERM/SIGINT): stop
 * accepting, answer the frames in hand (the open group commits), say goodbye, close the node
 * (final fence) and the device. A device error stops the node (fail-stop) and the daemon with it.
 */
import { chmodSync, existsSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, isIP, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { NodeError } from '../events/errors.js';
import { detailsBytesMaxDefault } from '../constants.js';
import { originBytes, originHopsMax } from '../events/origin.js';
import { openNodeDevice } from '../node/device-file.js';
import { Node } from '../node/node.js';
import type { DirectNvram, Durability } from '../nvram/index.js';
import type { Client, ClientTls } from '../client/client.js';
import { Multiplexer } from '../mux/multiplexer.js';
import { connectUpstream } from '../mux/remote-upstream.js';
import type { SinkTransport } from '../sinks/sink.js';
import { SinkRecipient } from '../sinks/sink-recipient.js';
import { openTransport } from '../sinks/transports.js';
import type { DaemonConfig, UpstreamConfig } from './config.js';
import { ProducerLedger } from './producer-ledger.js';
import { Connection, type ConnectionContext } from './connection.js';
import type { OperationsServer } from '../operations/server.js';
import { pairLayout } from '../ha/layout.js';
import { PairService } from '../ha/pair-service.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

export interface DaemonOptions {
  device: string;
  durability: Durability;
  config: DaemonConfig;
  log: Logger;
  /** Unix socket path (default ./nvrelay.sock); null: none. */
  socket: string | null;
  /** TCP address, only if asked. */
  listen?: { host: string; port: number };
  tls?: TlsFiles;
  /** Log lines may carry event details (a refused event's, a dead letter's). */
  logDetails?: boolean;
  /** NodeOptions.pipelinedFence: group fences issued asynchronously. */
  pipelinedFence?: boolean;
  /** The operations endpoint (metrics, status page: src/operations), only if asked. */
  operations?: { host: string; port: number };
}

export class Daemon {
  readonly node: Node;
  readonly device: DirectNvram;
  readonly log: Logger;
  /** The multiplexing recipient, if the config names upstreams (src/mux). */
  readonly mux: Multiplexer | null = null;
  /** The config's sinks (src/sinks), recipients inside the daemon. */
  readonly sinks: SinkRecipient[] = [];
  /** This node's part of an HA pair, if the config names a partner (src/ha). */
  readonly pair: PairService | null;
  readonly #upstreams: Client[] = [];
  readonly #servers: Server[] = [];
  readonly #connections = new Set<Connection>();
  readonly #ctx: ConnectionContext;
  readonly #socketPath: string | null;
  #operations: OperationsServer | null = null;
  #stopping: Promise<void> | null = null;
  /** Resolves when the daemon has stopped (after stop(), or a node failure). */
  readonly stopped: Promise<number>;
  #resolveStopped!: (code: number) => void;

  /** Opens the device, boots the node, listens; throws a typed error if it cannot. */
  static async start(options: DaemonOptions): Promise<Daemon> {
    if (options.listen !== undefined) checkTcp(options.listen.host, options.tls);
    if (options.socket !== null) await freeSocketPath(options.socket);
    // the sinks' secrets and files are read before the device is opened: a mistake leaves it alone
    const transports = new Map<string, SinkTransport>();
    for (const [name, sink] of Object.entries(options.config.sinks))
      transports.set(name, openTransport(name, sink));
    const { device, formatted } = openNodeDevice(options.device, {
      durability: options.durability,
      // a mux's device (and a pair's: takeover records with a trail), formatted here, has room
      // for a full origin trail beside the details
      ...(needsTrail(options.config)
        ? { detailsBytesMax: detailsBytesMaxDefault + originBytes(originHopsMax) }
        : {}),
      // a node of an HA pair has the partner sections [193]
      ...(options.config.partner !== undefined ? { layout: pairLayout } : {}),
    });
    let daemon: Daemon;
    let pair: PairService | null = null;
    try {
      // giveback and this node's lease before the boot replays anything (src/ha/pair.ts)
      if (options.config.partner !== undefined)
        pair = await PairService.prepare(options.config.partner, device, options.log);
      daemon = new Daemon(device, options, transports, pair);
    } catch (error) {
      await pair?.stop();
      device.close();
      throw error;
    }
    options.log.info(
      {
        device: options.device,
        formatted,
        durability: options.durability,
        recovery: summary(daemon.node),
      },
      'started',
    );
    try {
      await daemon.#listen(options);
      await daemon.pair?.start();
      if (options.operations !== undefined) {
        // loaded only when asked: a daemon without the endpoint never loads prom-client
        const { start } = await import('../operations/server.js');
        daemon.#operations = await start(daemon, options.operations);
        options.log.info({ address: daemon.#operations.address }, 'operations endpoint');
      }
    } catch (error) {
      await daemon.stop(); // a port in use: the device is closed and unlocked again
      throw error;
    }
    daemon.#connectUpstreams();
    return daemon;
  }

  /** The operations endpoint, if it was asked for. */
  get operations(): OperationsServer | null {
    return this.#operations;
  }

  /**
   * Each upstream in the background: the client retries with backoff until the upstream is up,
   * and the events held for it wait (src/mux).
   */
  #connectUpstreams(): void {
    const mux = this.mux;
    if (mux === null) return;
    for (const [name, upstream] of Object.entries(this.#ctx.config.upstreams)) {
      const link = mux.link(name, upstream.mode);
      let tls: ClientTls | undefined;
      try {
        tls = upstreamTls(upstream);
      } catch (error) {
        this.log.error({ upstream: name, err: error }, 'upstream TLS files unreadable');
        continue;
      }
      connectUpstream(link, { ...upstream, ...(tls !== undefined ? { tls } : {}) }).then(
        (client) => {
          if (this.#stopping !== null) client.close();
          else this.#upstreams.push(client);
          this.log.info(
            { upstream: name, node: client.node, mode: upstream.mode },
            'upstream connected',
          );
          // a hop of trail must fit beside anything the upstream holds (docs/CONFIG.md)
          const needed = client.detailsBytesMax + originBytes(1);
          if (needed > this.node.geometry.detailsBytesMax)
            this.log.warn(
              { upstream: name, needed, detailsBytesMax: this.node.geometry.detailsBytesMax },
              'this device is too small for some upstream events: they will be refused (EVENT_TOO_LARGE)',
            );
        },
        (error: unknown) =>
          this.log.error({ upstream: name, err: error }, 'upstream refused the subscription'),
      );
    }
  }

  private constructor(
    device: DirectNvram,
    options: DaemonOptions,
    transports: ReadonlyMap<string, SinkTransport>,
    pair: PairService | null,
  ) {
    this.device = device;
    this.pair = pair;
    this.log = options.log;
    this.#socketPath = options.socket;
    this.stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
    const config = options.config;
    this.node = Node.boot(device, {
      // each group's msync overlapping the next group's work (docs/ARCHITECTURE.md), if asked
      pipelinedFence: options.pipelinedFence ?? false,
      retry: config.retry,
      inFlightMax: config.inFlightMax,
      ...(config.absentRecipientGraceMs !== undefined
        ? { absentRecipientGraceMs: config.absentRecipientGraceMs }
        : {}),
      onFailure: (error) => this.#nodeFailed(error),
    });
    const ledger = ProducerLedger.recover(this.node);
    for (const [name, declared] of Object.entries(config.recipients)) {
      const recipient = this.node.registerRecipient(
        name,
        { prefixes: declared.prefixes ?? [''], severityMax: declared.severityMax ?? 'debug' },
        () => {},
        {
          ...(declared.retry ? { retry: declared.retry } : {}),
          ...(declared.inFlightMax ? { inFlightMax: declared.inFlightMax } : {}),
        },
      );
      this.node.detachRecipient(recipient); // until it connects: its events are kept for it
    }
    const nodeId = device.header.deviceId.toString(16).padStart(16, '0');
    for (const [name, sink] of Object.entries(config.sinks))
      this.sinks.push(
        new SinkRecipient(this.node, {
          name,
          kind: sink.kind,
          subscription: {
            prefixes: sink.prefixes ?? [''],
            severityMax: sink.severityMax ?? 'debug',
          },
          ...(sink.retry !== undefined ? { retry: sink.retry } : {}),
          ...(sink.inFlightMax !== undefined ? { inFlightMax: sink.inFlightMax } : {}),
          batchMax: sink.batchMax,
          transport: transports.get(name) as SinkTransport,
          nodeId,
          log: options.log,
          logDetails: options.logDetails ?? false,
        }),
      );
    this.node.engine.onDeadLetter = (recipient, seq) =>
      this.log.warn({ recipient: recipient.name, seq }, 'dead letter');
    if (hasUpstreams(config) || pair !== null)
      this.mux = new Multiplexer(this.node, {
        onRefused: (link, seq, error) =>
          this.log.warn({ upstream: link.name, seq, err: error }, 'upstream event not recorded'),
        onError: (error) => {
          if (this.node.phase === 'failed') return; // fail-stop has already stopped the daemon
          this.log.fatal({ err: error }, 'multiplexer defect: stopping');
          void this.stop('NODE_FAILED');
        },
      });
    if (pair !== null) {
      pair.attach(this.node, this.mux as Multiplexer);
      pair.onOwnLeaseLost = () => void this.stop('LEASE_LOST');
    }
    this.node.start();
    this.#ctx = {
      node: this.node,
      config,
      ledger,
      log: options.log,
      nodeId,
      attached: new Map(),
      onNodeFailed: (error) => this.#nodeFailed(error),
      onClosed: (connection) => this.#connections.delete(connection),
    };
  }

  /** Live connections. */
  get connections(): number {
    return this.#connections.size;
  }

  async #listen(options: DaemonOptions): Promise<void> {
    if (options.socket !== null) {
      const server = createServer((socket) => this.#accept(socket, `unix:${options.socket}`));
      const previous = process.umask(0o177); // the socket file is created 0600
      try {
        await listen(server, { path: options.socket });
      } finally {
        process.umask(previous);
      }
      chmodSync(options.socket, 0o600);
      this.#servers.push(server);
      this.log.info({ socket: options.socket }, 'listening');
    }
    if (options.listen !== undefined) {
      const tls = options.tls;
      const server =
        tls === undefined
          ? createServer((socket) => this.#accept(socket, remote(socket)))
          : createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, (socket) =>
              this.#accept(socket, remote(socket)),
            );
      await listen(server, { host: options.listen.host, port: options.listen.port });
      this.#servers.push(server);
      const address = server.address();
      this.log.info({ address, tls: tls !== undefined }, 'listening');
    }
  }

  /** The TCP port actually bound (port 0 asks the system for one). */
  get port(): number | null {
    for (const server of this.#servers) {
      const address = server.address();
      if (address !== null && typeof address === 'object') return address.port;
    }
    return null;
  }

  #accept(socket: Socket, peer: string): void {
    if (this.#stopping !== null) {
      socket.destroy();
      return;
    }
    this.#connections.add(new Connection(socket, peer, this.#ctx));
  }

  /** Stops accepting, answers what is in hand, says goodbye, closes node and device. */
  stop(reason = 'SHUTDOWN'): Promise<void> {
    this.#stopping ??= this.#stop(reason);
    return this.#stopping;
  }

  async #stop(reason: string): Promise<void> {
    await this.#operations?.close(); // first: no scrape reads a node that is closing
    for (const server of this.#servers) server.close();
    for (const client of this.#upstreams) client.close();
    this.mux?.close();
    await closeSinks(this.sinks, this.log);
    if (this.node.phase === 'running') {
      this.node.commit(); // the frames in hand: their group is committed, their acks sent
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const connection of [...this.#connections])
      connection.goodbye(reason, 'the daemon is stopping');
    await this.pair?.stop(); // after the last acks: then the partner may take over [193]
    const failed = this.node.phase === 'failed';
    this.node.close(); // final fence (nothing more on a failed node)
    this.device.close();
    if (this.#socketPath !== null && existsSync(this.#socketPath)) unlinkSync(this.#socketPath);
    this.log.info({ reason }, 'stopped');
    this.#resolveStopped(failed ? 1 : 0);
  }

  #nodeFailed(error: unknown): void {
    this.log.fatal({ err: error }, 'node failed: stopping (reopen the device to recover)');
    void this.stop('NODE_FAILED');
  }
}

/** Records may carry an origin trail: a multiplexing recipient's, or a pair's taken over. */
function needsTrail(config: DaemonConfig): boolean {
  return hasUpstreams(config) || config.partner !== undefined;
}

/** The config names upstreams: the daemon is a multiplexing recipient (src/mux). */
function hasUpstreams(config: DaemonConfig): boolean {
  return Object.keys(config.upstreams).length > 0;
}

/**
 * Waits for each sink's send in progress (its outcome still settles events), then closes its
 * transport; a sink that does not finish within 2 s is left (its events stay owed).
 */
async function closeSinks(sinks: readonly SinkRecipient[], log: Logger): Promise<void> {
  await Promise.all(
    sinks.map(async (sink) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, 2_000, 'late')));
      const result = await Promise.race([sink.close().then(() => 'closed' as const), late]);
      clearTimeout(timer);
      if (result === 'late') log.warn({ sink: sink.name }, 'sink did not close within 2 s');
    }),
  );
}

function summary(node: Node): Record<string, unknown> {
  const stats = node.stats();
  return {
    replayed: node.recovery.replayed,
    reports: node.recovery.events.map((event) => event.type),
    pending: stats.fifos.reduce((n, fifo) => n + fifo.pending, 0),
    deadLetters: stats.deadLetters.held,
  };
}

function listen(
  server: Server,
  address: { path: string } | { host: string; port: number },
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function remote(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

/** The PEM files an upstream's tls section names, read now. */
function upstreamTls(upstream: UpstreamConfig): ClientTls | undefined {
  if (upstream.tls === undefined) return undefined;
  return {
    cert: readFileSync(upstream.tls.cert),
    key: readFileSync(upstream.tls.key),
    ca: readFileSync(upstream.tls.ca),
  };
}

/** Plaintext TCP on a loopback address only; anywhere else TLS with client certificates. */
export function checkTcp(host: string, tls: TlsFiles | undefined): void {
  if (tls !== undefined) return;
  if (host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')))
    return;
  throw new NodeError(
    'BAD_ARGUMENT',
    `nvrelay: plaintext TCP is allowed on a loopback address only, not ${host}: give --tls-cert, --tls-key and --tls-ca`,
  );
}

/**
 * A socket path left by a daemon that died is removed; one a live daemon listens on is refused
 * (two daemons on one device already meet the device lock).
 */
async function freeSocketPath(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!lstatSync(path).isSocket())
    throw new NodeError('BAD_ARGUMENT', `nvrelay: ${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection({ path }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
  if (alive)
    throw new NodeError('BAD_ARGUMENT', `nvrelay: a daemon is already listening on ${path}`);
  unlinkSync(path);
}
