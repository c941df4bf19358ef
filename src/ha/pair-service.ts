/**
 * The HA pair inside `nvrelay serve` (config `partner`, docs/CONFIG.md): the daemon calls it at
 * three points, so the pair's parts stay in src/ha and the daemon stays a daemon.
 *
 *  prepare  after the device is open, before the node boots: the giveback if the partner holds
 *           or last held this stream, then this node's own lease (./pair.ts);
 *  attach   after the boot, before the node starts: the partner mirror, the mirror source (the
 *           node's emits acknowledged only once mirrored), the multiplexer's link for takeover;
 *  start    after the daemon listens: the interconnect (listener and link) and the watch on the
 *           partner's stream.
 */
import type { Logger } from 'pino';
import type { PartnerConfig } from '../daemon/config.js';
import type { Multiplexer } from '../mux/multiplexer.js';
import { readNodeGeometry } from '../node/layout.js';
import type { Node } from '../node/node.js';
import type { NvramDevice } from '../nvram/device.js';
import { EtcdLeases } from './etcd-lease.js';
import { FileLeases } from './file-lease.js';
import {
  InterconnectLink,
  InterconnectServer,
  askGiveback,
  pairFrame,
  type InterconnectAddress,
} from './interconnect.js';
import type { PairFrame } from './interconnect-frames.js';
import type { LeaseKeeper, StreamLeases } from './lease.js';
import { MirrorSource } from './mirror-source.js';
import { HaPair, acquireWaiting, prepareGiveback } from './pair.js';
import { PartnerMirror } from './partner-mirror.js';

/** How long a giveback request waits for the partner's answer before it is asked again (ms). */
const givebackAnswerMs = 5_000;

export function parseAddress(text: string): InterconnectAddress {
  const at = text.lastIndexOf(':');
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(text.slice(at + 1)) };
}

export function openLeases(config: PartnerConfig): StreamLeases {
  return config.lease.kind === 'file'
    ? new FileLeases(config.lease.path, { ttlMs: config.leaseTtlMs })
    : new EtcdLeases({ hosts: config.lease.endpoints, ttlMs: config.leaseTtlMs });
}

export class PairService {
  readonly config: PartnerConfig;
  readonly self: string;
  readonly selfFrame: PairFrame;
  readonly leases: StreamLeases;
  readonly log: Logger;
  own: LeaseKeeper | null = null;
  mirror: PartnerMirror | null = null;
  source: MirrorSource | null = null;
  pair: HaPair | null = null;
  #server: InterconnectServer | null = null;
  #link: InterconnectLink | null = null;
  /** This node's own lease was lost: the daemon stops (self-fence). */
  onOwnLeaseLost: () => void = () => {};

  private constructor(config: PartnerConfig, device: NvramDevice, log: Logger) {
    this.config = config;
    this.self = device.header.deviceId.toString(16).padStart(16, '0');
    this.selfFrame = pairFrame(this.self, readNodeGeometry(device));
    this.leases = openLeases(config);
    this.log = log.child({ pair: this.self });
  }

  /** Boot step (before Node.boot): giveback whenever owed, until this node's own lease is held. */
  static async prepare(
    config: PartnerConfig,
    device: NvramDevice,
    log: Logger,
  ): Promise<PairService> {
    const service = new PairService(config, device, log);
    try {
      const partner = parseAddress(config.address);
      service.own = await acquireWaiting(
        service.leases,
        service.self,
        service.self,
        () => service.#ownLost(),
        service.log,
        // while this node waits for its own lease, the partner may take the stream over: it
        // is asked for it back before each try (a no-op unless it holds or last held it)
        () =>
          prepareGiveback({
            device,
            leases: service.leases,
            self: service.self,
            ask: () => askGiveback(partner, service.selfFrame, givebackAnswerMs),
            log: service.log,
          }).then(() => {}),
      );
      service.log.info({ token: String(service.own.grant.token) }, 'own stream lease held');
    } catch (error) {
      await service.leases.close();
      throw error;
    }
    return service;
  }

  #ownLost(): void {
    this.log.fatal('the lease on this node stream was lost: stopping (self-fence)');
    this.onOwnLeaseLost();
  }

  /** After the boot, before node.start(): mirror, mirror source, takeover's multiplexer link. */
  attach(node: Node, mux: Multiplexer): void {
    this.mirror = new PartnerMirror(node.device, node.geometry);
    this.source = new MirrorSource(node, {
      mode: this.config.mirror,
      onDegraded: (degraded, reason) => {
        if (degraded) this.log.error({ reason }, 'mirror link down: running without the mirror');
        else this.log.info('mirror link up');
      },
    });
    this.pair = new HaPair({
      self: this.self,
      leases: this.leases,
      mux,
      mirror: this.mirror,
      log: this.log,
    });
  }

  /** After the daemon listens: the interconnect both ways, and the partner watch. */
  async start(): Promise<void> {
    const mirror = this.mirror as PartnerMirror;
    const pair = this.pair as HaPair;
    this.#server = await InterconnectServer.listen(parseAddress(this.config.listen), {
      mirror,
      self: this.selfFrame,
      log: this.log,
      onGivebackAsk: (node) => pair.giveback(node),
    });
    this.#link = new InterconnectLink({
      partner: parseAddress(this.config.address),
      self: this.selfFrame,
      source: this.source as MirrorSource,
      log: this.log,
    });
    pair.start(this.own as LeaseKeeper);
  }

  /** The interconnect's listening port (0 before start). */
  get port(): number {
    return this.#server?.port ?? 0;
  }

  async stop(): Promise<void> {
    this.#link?.close();
    this.source?.close();
    await this.#server?.close();
    await this.pair?.close();
    if (this.pair === null) await this.own?.release().catch(() => {});
    await this.leases.close();
  }
}
