/**
 * The life of the simulated HA pair [193] (./ha-run.ts drives it): boot behind a giveback,
 * power cuts with a post-crash image the persistency model allows, self-fence, lost NVRAM,
 * takeover of the partner's stream under a lease, and the mirror links coming and going.
 *
 * Order of a return (giveback): a node whose stream the partner took over asks the partner
 * for its mirror heads; the partner first stops its takeover and releases the lease; the
 * heads are applied to the returning node's device (giveBack) BEFORE Node.boot; then the node
 * acquires its own lease again and starts. A node whose NVRAM was replaced returns only once
 * the partner took its stream over completely; the partner's mirror is then formatted again.
 */
import { NodeError } from '../../src/events/errors.js';
import { Takeover } from '../../src/ha/takeover.js';
import { PartnerMirror } from '../../src/ha/partner-mirror.js';
import { MirrorSource } from '../../src/ha/mirror-source.js';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import { Node } from '../../src/node/node.js';
import { NvramError, type PersistencyModel } from '../../src/nvram/index.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { imagesAtCut } from '../explore/candidates.js';
import { Prng } from '../prng.js';
import { SimCoordinator } from './coordinator.js';
import type { HaMark } from './ha-check.js';
import { MirrorChannel } from './interconnect.js';
import { pairProtocol, type PairProtocol, type TakeoverGrant } from './pair-protocol.js';
import { PairNode, leaves, resetMirror, takenOverSeqs } from './pair-node.js';

export interface HaRunOptions {
  seed: number;
  /** Emits, spread over both nodes. */
  events: number;
  model: PersistencyModel;
  /** Images visited per cut: one of them is chosen by the seed. */
  imagesPerCut: number;
  /** The pair's decisions (a mutant breaks one). */
  protocol?: PairProtocol;
}

/** Leases last this long on the simulated clock; heartbeats come far more often. */
export const leaseTtlMs = 400;
/** Nothing is redelivered by a timeout: every redelivery comes from a fault. */
const retry = { timeoutMs: 2 ** 30, backoffFactor: 1, timeoutMaxMs: 2 ** 30, attemptsMax: 1_000 };
/** The wall-clock timers of src/ha never fire in a run: the script does their work. */
const never = 2 ** 31 - 1;

export class HaPair {
  readonly options: HaRunOptions;
  readonly protocol: PairProtocol;
  readonly prng: Prng;
  readonly clock = { time: 1_000_000, now: (): number => this.clock.time };
  readonly coordinator = new SimCoordinator(() => this.clock.time, leaseTtlMs);
  readonly nodes: PairNode[] = [new PairNode('A', 0, 0xa1n), new PairNode('B', 1, 0xb2n)];
  /** channels[i] carries node i's updates to its partner's mirror. */
  readonly channels = [new MirrorChannel(0, 1), new MirrorChannel(1, 0)];
  readonly marks: HaMark[] = [];
  /** The token of the takeover that offered each (node, seq) hop: the delivery's. */
  readonly takeoverTokens = new Map<string, bigint>();

  constructor(options: HaRunOptions) {
    this.options = options;
    this.protocol = options.protocol ?? pairProtocol;
    this.prng = new Prng(options.seed);
  }

  partnerOf(sim: PairNode): PairNode {
    return this.nodes[1 - sim.index] as PairNode;
  }

  // ---- returning: giveback, lease, boot ----

  /** Tries to bring a node that is down back; false if it must wait (for its partner). */
  comeBack(sim: PairNode): boolean {
    try {
      if (sim.nvramLost ? !this.#handOverLost(sim) : !this.#giveBackIfTaken(sim)) return false;
      const grant = this.coordinator.acquire(sim.name, sim.name);
      if (grant === null) return false;
      this.#boot(sim);
      if (!sim.up) return true;
      sim.grant = grant;
      this.connect(sim);
      this.connect(this.partnerOf(sim));
    } catch (error) {
      if (!this.cutFired(sim)) throw error;
    }
    return true;
  }

  /** The partner took this node's stream over: it gives back, heads applied before the boot. */
  #giveBackIfTaken(sim: PairNode): boolean {
    const last = this.coordinator.last(sim.name);
    if (last === null || last.holder === sim.name) return true;
    const partner = this.partnerOf(sim);
    if (partner.nvramLost) return true; // its mirror is gone: everything here replays
    if (!partner.up) return false; // its mirror is the only record of what it took
    // what a takeover recorded (this one, or one before the partner's last boot) is released
    // from the mirror before the heads are read
    partner.releasing ??=
      partner.takeover?.run ??
      Takeover.releasing(partner.mux as Multiplexer, partner.mirror as PartnerMirror);
    partner.releasing?.quiesce();
    if ((partner.releasing?.unreleased ?? 0) > 0) return false;
    if (partner.releasing !== partner.takeover?.run) partner.releasing?.stop();
    partner.releasing = null;
    this.stopTakeover(partner);
    const mirror = partner.mirror as PartnerMirror;
    if (mirror.partner !== sim.id) return true; // nothing of this node's in that mirror
    const handover = mirror.handover();
    const seqs = takenOverSeqs(sim.device, handover);
    this.protocol.giveBack(sim.device, handover);
    this.marks.push({ kind: 'giveback', node: sim.name, id: sim.id, seqs });
    return true;
  }

  /** New NVRAM: back once the partner holds every event the old one had (its takeover done). */
  #handOverLost(sim: PairNode): boolean {
    const partner = this.partnerOf(sim);
    const takeover = partner.takeover;
    if (!partner.up || takeover?.grant.stream !== sim.name || !takeover.done) return false;
    this.stopTakeover(partner);
    resetMirror(partner.device);
    partner.mirror = new PartnerMirror(
      partner.device,
      (partner.node as Node).geometry,
      'typescript',
    );
    this.channels[sim.index]?.cut(0);
    sim.nvramLost = false;
    this.marks.push({ kind: 'fault', node: partner.name, what: 'mirror reset' });
    return true;
  }

  /** Boot [231], the mirror, the mirror source, the multiplexer, the recipients; start. */
  #boot(sim: PairNode): void {
    this.marks.push({ kind: 'boot', node: sim.name, id: sim.id, epoch: sim.incarnation });
    try {
      const node = Node.boot(sim.device, {
        scheduling: 'manual',
        clock: this.clock,
        retry,
        checksum: 'typescript',
      });
      sim.node = node;
      sim.mirror = new PartnerMirror(sim.device, node.geometry, 'typescript');
      sim.mux = new Multiplexer(node, { onError: (error) => this.defect(sim, error) });
      for (const leaf of leaves) this.#register(sim, node, leaf);
      node.start();
      // after start: start() records recovery's reports with synchronous emits, which a
      // mirrored node refuses (MIRROR_UNAVAILABLE); the next resync mirrors them
      sim.source = new MirrorSource(node, { mode: 'required', stateSyncMs: never });
    } catch (error) {
      if (this.cutFired(sim)) return;
      if (error instanceof NodeError || error instanceof NvramError) {
        this.marks.push({ kind: 'refused', node: sim.name, code: error.code });
        sim.forget();
        return;
      }
      throw error;
    }
    sim.rebootIn = -1;
    const inbound = this.channels[1 - sim.index] as MirrorChannel;
    inbound.receiver = (update) => (sim.mirror as PartnerMirror).apply(update);
  }

  #register(sim: PairNode, node: Node, leaf: (typeof leaves)[number]): void {
    node.registerRecipient(leaf.name, { prefixes: [...leaf.prefixes] }, (event, recipient) => {
      if (event.source === 'ctl') this.#delivered(sim, leaf.name, event);
      if (leaf.late) sim.late.push({ recipient, seq: event.seq });
      else recipient.confirm(event.seq);
    });
  }

  #delivered(
    sim: PairNode,
    recipient: string,
    event: {
      seq: number;
      type: string;
      details(): Uint8Array;
      origin(): { node: string; seq: number }[];
    },
  ): void {
    const origin = event.origin();
    const first = origin[0] ?? { node: sim.id, seq: event.seq };
    const last = origin.at(-1);
    const takenOver = last !== undefined;
    const stream = last?.node ?? sim.id;
    const token = takenOver
      ? this.takeoverTokens.get(`${last.node}:${last.seq}`)
      : sim.grant?.token;
    const streamName = stream === sim.id ? sim.name : this.partnerOf(sim).name;
    this.marks.push({
      kind: 'delivered',
      by: sim.name,
      recipient,
      key: Buffer.from(event.details()).toString('hex'),
      type: event.type,
      node: first.node,
      seq: first.seq,
      stream,
      takenOver,
      token: token?.toString() ?? null,
      latest: this.coordinator.last(streamName)?.token.toString() ?? null,
    });
  }

  // ---- going down ----

  /** The node stops with everything volatile; it tries to come back a few steps later. */
  down(sim: PairNode, what: string): void {
    this.marks.push({ kind: 'fault', node: sim.name, what });
    sim.forget();
    this.channels[sim.index]?.senderDied();
    this.channels[1 - sim.index]?.receiverDied();
    const partner = this.partnerOf(sim);
    partner.source?.disconnected(`${sim.name} ${what}`);
    sim.incarnation++;
    // a short absence, or one long enough for the partner to take the stream over
    sim.rebootIn = this.prng.below(3) === 0 ? 30 + this.prng.below(30) : 2 + this.prng.below(16);
  }

  /** If `sim`'s device lost power: down, on an image the model allows at that cut. */
  cutFired(sim: PairNode): boolean {
    if (!sim.device.poweredOff) return false;
    const images = imagesAtCut(
      sim.device,
      this.options.model,
      this.options.imagesPerCut,
      this.options.seed,
    );
    const survivors = images.survivors[this.prng.below(images.survivors.length)];
    const image = sim.device.buildImage(survivors as Float64Array);
    sim.device.close();
    sim.device = TracedNvram.fromImage(image);
    this.down(sim, 'cut');
    return true;
  }

  /** Self-fence: the lease is lost, the node stops (its durable state is what it left). */
  fence(sim: PairNode): void {
    const image = sim.device.buildDurableImage();
    sim.device.close();
    sim.device = TracedNvram.fromImage(image);
    this.down(sim, 'fenced');
  }

  /** The NVRAM is lost (the battery failed): a freshly formatted device, a new node id. */
  loseNvram(sim: PairNode): void {
    sim.device.close();
    sim.replaceDevice();
    sim.nvramLost = true;
    this.down(sim, 'nvram-lost');
  }

  // ---- takeover and the mirror links ----

  /** The partner's lease expired: take its stream over under a grant of this node's. */
  takeOver(sim: PairNode): void {
    const partner = this.partnerOf(sim);
    if (!sim.up || sim.node?.phase !== 'running') return;
    if (sim.takeover !== null) {
      this.#retryTakeover(sim);
      return;
    }
    const taken = this.protocol.takeoverGrant(this.coordinator, partner.name, sim.name);
    if (taken === null) return;
    this.marks.push({ kind: 'fault', node: sim.name, what: `takeover of ${partner.name}` });
    this.#startTakeover(sim, taken);
  }

  #startTakeover(sim: PairNode, { grant, held }: TakeoverGrant): void {
    const mirror = sim.mirror as PartnerMirror;
    if (mirror.partner !== null)
      for (const event of mirror.pending()) {
        const hop = `${mirror.partner}:${event.record.seq}`;
        if (!this.takeoverTokens.has(hop)) this.takeoverTokens.set(hop, grant.token);
      }
    const run = new Takeover(sim.mux as Multiplexer, mirror, {
      token: grant.token,
      held,
      retryMs: never,
    });
    const running = {
      run,
      grant,
      held,
      done: false,
      refused: (sim.mux as Multiplexer).counters.refused,
    };
    sim.takeover = running;
    void run.run().then((report) => {
      if (!report.fenced) running.done = true;
    });
  }

  /**
   * Events this node refused (its pool full) are offered again by a new run, same grant (the
   * takeover's own retry is a wall-clock timer, which never fires here). A new run offers again
   * what the last one released behind a refused event: a fault, for the check.
   */
  #retryTakeover(sim: PairNode): void {
    const running = sim.takeover;
    if (running === null || running.done) return;
    if (!running.held()) {
      this.stopTakeover(sim);
      return;
    }
    const refused = (sim.mux as Multiplexer).counters.refused;
    if (refused === running.refused) return;
    this.marks.push({ kind: 'fault', node: sim.name, what: 'takeover restarted' });
    running.run.stop();
    this.#startTakeover(sim, running);
  }

  stopTakeover(sim: PairNode): void {
    const running = sim.takeover;
    if (running === null) return;
    running.run.stop();
    this.coordinator.release(running.grant);
    sim.takeover = null;
  }

  /** A node's MirrorSource that is down connects again if the interconnect lets it. */
  connect(sim: PairNode): void {
    const source = sim.source;
    const channel = this.channels[sim.index] as MirrorChannel;
    if (source === null || source.up || !channel.open) return;
    source.connected(this.protocol.port(channel)).catch(() => {});
  }

  defect(sim: PairNode, error: unknown): void {
    if (sim.node?.phase === 'failed' || sim.device.poweredOff) return;
    this.marks.push({ kind: 'defect', node: sim.name, message: String(error) });
  }
}
