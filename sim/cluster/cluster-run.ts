/**
 * One run of the cluster (./topology.ts): every node on its own traced device, joined by
 * in-memory links (./sim-link.ts), driven by a seeded script of steps, each step the work of
 * one node (an emit, a group commit, a drain, frames moved over a link) or of the network (a
 * connection lost, time passing). A power cut armed on one device fires at its instruction: that
 * node dies with everything in flight on its links, the others keep running, and a few steps
 * later it reboots on a post-crash image the persistency model allows. Then the cluster runs
 * until quiescent and the history is checked end to end (./cluster-check.ts).
 *
 * Deterministic: the same options and cuts give the same instructions on every device, so the
 * explorer (./explore-cluster.ts) learns each device's instruction count from one clean run and
 * cuts each of them in later runs.
 */
import type { Recipient } from '../../src/engine/recipient.js';
import { NodeError } from '../../src/events/errors.js';
import { Multiplexer, type MultiplexerOptions } from '../../src/mux/multiplexer.js';
import { formatNode, nodeLayout } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import { NvramError, type PersistencyModel } from '../../src/nvram/index.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { imagesAtCut } from '../explore/candidates.js';
import { Prng } from '../prng.js';
import type { ClusterMark } from './cluster-check.js';
import { SimLink } from './sim-link.js';
import {
  clusterLimits,
  clusterNodes,
  eventTypes,
  intendedLeaves,
  nodeIdOf,
  type NodeSpec,
} from './topology.js';

/** A power cut: instruction `instruction` of device `device`'s `incarnation`-th boot image. */
export interface ClusterCut {
  device: number;
  incarnation: number;
  instruction: number;
  /** Which of the images the model allows there (index into the visited ones). */
  image: number;
}

export interface ClusterRunOptions {
  seed: number;
  /** Emits at the origin. */
  events: number;
  model: PersistencyModel;
  /** Images visited per cut: all when the model allows at most this many, else a sample. */
  imagesPerCut: number;
  /** The multiplexing recipient's class (a mutant subclasses it). */
  Multiplexer?: new (node: Node, options: MultiplexerOptions) => Multiplexer;
}

export interface ClusterRunResult {
  marks: ClusterMark[];
  /** Instructions each device ran, per incarnation. */
  instructions: number[][];
  /** Cuts that fired, with the number of images the model allowed at each. */
  fired: { cut: ClusterCut; allowed: number }[];
  framesLost: number;
  /** Held or waiting events left in each mux at the end (0 once quiescent). */
  leftHeld: number;
}

const retry = { timeoutMs: 300, backoffFactor: 2, timeoutMaxMs: 1_200, attemptsMax: 1_000 };
/** Script steps before the run is driven to quiescence. */
const stepsPerEvent = 10;
const quiescentRoundsMax = 80;

/** Formatted images, one per node, made once per process. */
let formatted: Uint8Array[] | null = null;
function formattedImages(): Uint8Array[] {
  formatted ??= clusterNodes.map((spec) => {
    const limits = { ...clusterLimits, detailsBytesMax: spec.detailsBytesMax };
    const layout = nodeLayout(limits);
    const device = TracedNvram.format(layout.sizeBytes, layout.sections, {
      deviceId: spec.deviceId,
    });
    formatNode(device, limits);
    const image = device.buildDurableImage();
    device.close();
    return image;
  });
  return formatted;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

class SimNode {
  readonly spec: NodeSpec;
  readonly index: number;
  device: TracedNvram;
  incarnation = 0;
  node: Node | null = null;
  mux: Multiplexer | null = null;
  /** This node's recipient for the mux downstream of it, if any. */
  downstream: Recipient | null = null;
  readonly late: { recipient: Recipient; seq: number }[] = [];
  /** Steps left before a dead node reboots. */
  rebootIn = -1;

  constructor(spec: NodeSpec, index: number, image: Uint8Array) {
    this.spec = spec;
    this.index = index;
    this.device = TracedNvram.fromImage(image.slice(), { boot: false });
  }

  get up(): boolean {
    return this.node !== null;
  }
}

export class ClusterRun {
  readonly options: ClusterRunOptions;
  readonly nodes: SimNode[];
  readonly links: SimLink[] = [];
  readonly marks: ClusterMark[] = [];
  readonly #cuts: ClusterCut[];
  readonly #fired: { cut: ClusterCut; allowed: number }[] = [];
  readonly #instructions: number[][];
  readonly #prng: Prng;
  readonly #clock = { time: 1_000_000, now: (): number => this.#clock.time };
  #emitted = 0;

  constructor(options: ClusterRunOptions, cuts: readonly ClusterCut[] = []) {
    this.options = options;
    this.#cuts = [...cuts];
    this.#prng = new Prng(options.seed);
    const images = formattedImages();
    this.nodes = clusterNodes.map((spec, i) => new SimNode(spec, i, images[i] as Uint8Array));
    this.#instructions = this.nodes.map(() => []);
    for (const sim of this.nodes) {
      if (sim.spec.upstream !== null) this.links.push(new SimLink(sim.spec.upstream, sim.index));
      this.#arm(sim);
    }
  }

  async run(): Promise<ClusterRunResult> {
    for (const sim of this.nodes) this.#boot(sim);
    await this.#settle();
    const steps = this.options.events * stepsPerEvent;
    for (let step = 0; step < steps; step++) {
      this.#step();
      await this.#settle();
    }
    await this.#quiesce();
    for (const sim of this.nodes) {
      this.#instructions[sim.index]?.push(sim.device.instructionCount);
    }
    let leftHeld = 0;
    for (const sim of this.nodes) leftHeld += (sim.mux?.held ?? 0) + (sim.mux?.waiting ?? 0);
    return {
      marks: this.marks,
      instructions: this.#instructions,
      fired: this.#fired,
      framesLost: this.links.reduce((n, link) => n + link.lost, 0),
      leftHeld,
    };
  }

  // ---- boots and power cuts ----

  #arm(sim: SimNode): void {
    const cut = this.#cuts.find((c) => c.device === sim.index && c.incarnation === sim.incarnation);
    if (cut !== undefined) sim.device.setPowerCut(cut.instruction);
  }

  /** Boot [231], the node's recipients, start; then its links come up. */
  #boot(sim: SimNode): void {
    const epoch = sim.incarnation;
    this.marks.push({ kind: 'boot', node: sim.spec.name, epoch });
    try {
      const node = Node.boot(sim.device, {
        scheduling: 'manual',
        clock: this.#clock,
        retry,
        checksum: 'typescript',
      });
      sim.node = node;
      if (sim.spec.upstream !== null) {
        const Mux = this.options.Multiplexer ?? Multiplexer;
        sim.mux = new Mux(node, {
          onError: (error) => this.#defect(sim, error),
          onRefused: (_link, seq, error) =>
            this.marks.push({
              kind: 'not-recorded',
              node: sim.spec.name,
              seq,
              code: (error as { code?: string }).code ?? String(error),
            }),
        });
      }
      for (const leaf of sim.spec.leaves) {
        node.registerRecipient(
          leaf.name,
          { prefixes: [...leaf.prefixes], severityMax: leaf.severityMax },
          (event, recipient) => {
            this.marks.push({
              kind: 'delivered',
              leaf: `${sim.spec.name}/${leaf.name}`,
              seq: event.seq,
              source: event.source,
              type: event.type,
              level: event.level,
              details: Buffer.from(event.details()).toString('hex'),
              origin: event.origin(),
            });
            if (leaf.late) sim.late.push({ recipient, seq: event.seq });
            else recipient.confirm(event.seq);
          },
        );
      }
      const link = this.links.find((l) => l.upstream === sim.index);
      if (link !== undefined) {
        sim.downstream = node.registerRecipient(
          'mux',
          { prefixes: [''], severityMax: 7 },
          (event) =>
            link.deliver({
              seq: event.seq,
              severity: event.severity,
              source: event.source,
              type: event.type,
              details: event.details(),
              origin: event.origin(),
            }),
          { retry, inFlightMax: 16 },
        );
        node.detachRecipient(sim.downstream); // until its link connects
      }
      node.start();
    } catch (error) {
      if (this.#cutFired(sim)) return;
      if (error instanceof NodeError || error instanceof NvramError) {
        this.marks.push({ kind: 'refused', node: sim.spec.name, code: error.code });
        sim.node = null;
        return;
      }
      throw error;
    }
    this.#connectLinks();
  }

  /** Links whose two ends are up and not yet connected: connected. */
  #connectLinks(): void {
    for (const link of this.links) {
      const upstream = this.nodes[link.upstream] as SimNode;
      const mux = this.nodes[link.mux] as SimNode;
      if (link.connected || !upstream.up || !mux.up) continue;
      try {
        // the daemon's side: the mux's recipient attached again (what it owes comes again)
        const node = upstream.node as Node;
        const recipient = upstream.downstream as Recipient;
        node.registerRecipient('mux', { prefixes: [''], severityMax: 7 }, recipient.handler);
        link.connect();
        (mux.mux as Multiplexer)
          .link('up', mux.spec.mode)
          .connected(nodeIdOf(upstream.spec), link.confirmer);
      } catch (error) {
        if (!this.#cutFired(upstream) && !this.#cutFired(mux)) throw error;
      }
    }
  }

  #disconnectLinks(sim: SimNode): void {
    for (const link of this.links)
      if (link.upstream === sim.index || link.mux === sim.index) this.#disconnect(link);
  }

  /** A lost connection: the upstream detaches the mux's recipient, the mux's link forgets it. */
  #disconnect(link: SimLink): boolean {
    if (!link.connected) return false;
    link.disconnect();
    const upstream = this.nodes[link.upstream] as SimNode;
    if (upstream.up && upstream.node?.phase === 'running')
      upstream.node.detachRecipient(upstream.downstream as Recipient);
    const mux = this.nodes[link.mux] as SimNode;
    if (mux.up) mux.mux?.link('up', mux.spec.mode).disconnected();
    return true;
  }

  /** If `sim`'s device lost power: the node is gone, and reboots a few steps later. */
  #cutFired(sim: SimNode): boolean {
    if (!sim.device.poweredOff) return false;
    const cut = this.#cuts.find((c) => c.device === sim.index && c.incarnation === sim.incarnation);
    const images = imagesAtCut(
      sim.device,
      this.options.model,
      this.options.imagesPerCut,
      this.options.seed,
    );
    if (cut !== undefined) this.#fired.push({ cut, allowed: images.count });
    const survivors = images.survivors[Math.min(cut?.image ?? 0, images.survivors.length - 1)];
    const image = sim.device.buildImage(survivors as Float64Array);
    this.#instructions[sim.index]?.push(sim.device.instructionCount);
    this.marks.push({ kind: 'cut', node: sim.spec.name, epoch: sim.incarnation });
    sim.device.close();
    sim.node = null;
    sim.mux = null;
    sim.downstream = null;
    sim.late.length = 0;
    this.#disconnectLinks(sim);
    for (const link of this.links) if (link.mux === sim.index) link.muxDied();
    sim.incarnation++;
    sim.device = TracedNvram.fromImage(image);
    this.#arm(sim);
    sim.rebootIn = this.#prng.below(4);
    return true;
  }

  #defect(sim: SimNode, error: unknown): void {
    if (sim.node?.phase === 'failed' || sim.device.poweredOff) return; // the cut, seen after the turn
    this.marks.push({ kind: 'defect', node: sim.spec.name, message: String(error) });
  }

  /** After a step: promise callbacks run, then every device that lost power is handled. */
  async #settle(): Promise<void> {
    await turn();
    for (const sim of this.nodes) if (sim.up) this.#cutFired(sim);
  }

  // ---- the script ----

  #step(): void {
    for (const sim of this.nodes) {
      if (sim.up || sim.rebootIn < 0) continue;
      if (sim.rebootIn-- === 0) this.#boot(sim);
    }
    const prng = this.#prng;
    const choice = prng.below(100);
    const sim = this.nodes[prng.below(this.nodes.length)] as SimNode;
    const link = this.links[prng.below(this.links.length)] as SimLink;
    try {
      if (choice < 18) this.#emit();
      else if (choice < 30) this.#commit(sim);
      else if (choice < 50) this.#drain(sim, prng.below(2) === 0);
      else if (choice < 72) this.#flushDown(link, 1 + prng.below(3));
      else if (choice < 92) this.#flushUp(link, 1 + prng.below(3));
      else if (choice < 97) this.#clock.time += 250;
      else this.#drop(link);
    } catch (error) {
      for (const node of this.nodes) if (node.up && this.#cutFired(node)) return;
      throw error;
    }
  }

  #emit(): void {
    const origin = this.nodes[0] as SimNode;
    if (!origin.up || this.#emitted >= this.options.events) return;
    const k = ++this.#emitted;
    const type = eventTypes[this.#prng.below(eventTypes.length)] as string;
    const level = 2 + this.#prng.below(5);
    const details = new Uint8Array(8);
    new DataView(details.buffer).setUint32(0, k, true);
    const hex = Buffer.from(details).toString('hex');
    this.marks.push({
      kind: 'attempt',
      key: hex,
      type,
      level,
      intended: intendedLeaves(type, level),
    });
    try {
      (origin.node as Node)
        .producer('raid')
        .emitAsync(type, level as 2, details)
        .then(
          (seq) => this.marks.push({ kind: 'acked', key: hex, seq }),
          () => {}, // a cut in the group's fence: never acknowledged
        );
    } catch (error) {
      if (!(error instanceof NodeError) || error.code === 'NODE_FAILED') throw error;
      this.marks.push({ kind: 'rejected', key: hex, code: error.code });
    }
  }

  #commit(sim: SimNode): void {
    if (sim.up) (sim.node as Node).commit();
  }

  #drain(sim: SimNode, confirmLate: boolean): void {
    if (!sim.up) return;
    if (confirmLate) for (const { recipient, seq } of sim.late.splice(0)) recipient.confirm(seq);
    (sim.node as Node).drain();
    sim.mux?.settle();
  }

  #flushDown(link: SimLink, count: number): number {
    const mux = this.nodes[link.mux] as SimNode;
    if (!link.connected || !mux.up) return 0;
    const frames = link.down.splice(0, count);
    const upstreamLink = (mux.mux as Multiplexer).link('up', mux.spec.mode);
    for (const frame of frames) {
      if (frame.kind === 'deliver') upstreamLink.receive(frame.event);
      else link.answered(frame.seq);
    }
    return frames.length;
  }

  #flushUp(link: SimLink, count: number): number {
    const upstream = this.nodes[link.upstream] as SimNode;
    if (!link.connected || !upstream.up) return 0;
    const seqs = link.confirmAt(upstream.downstream as Recipient, count);
    if (seqs.length === 0) return 0;
    (upstream.node as Node).persistConfirmations(); // then CONFIRMED (docs/PROTOCOL.md)
    for (const seq of seqs) link.down.push({ kind: 'confirmed', seq });
    return seqs.length;
  }

  #drop(link: SimLink): void {
    if (!this.#disconnect(link)) return;
    const upstream = this.nodes[link.upstream] as SimNode;
    const mux = this.nodes[link.mux] as SimNode;
    this.marks.push({ kind: 'dropped', link: `${upstream.spec.name}->${mux.spec.name}` });
    this.#connectLinks(); // the client reconnects at once
  }

  /** Every node up, every frame moved, every late confirmation given, until nothing changes. */
  async #quiesce(): Promise<void> {
    let idleRounds = 0;
    for (let round = 0; round < quiescentRoundsMax && idleRounds < 3; round++) {
      const before = this.marks.length;
      let moved = 0;
      try {
        for (const sim of this.nodes) if (!sim.up) this.#boot(sim);
        for (const sim of this.nodes) this.#commit(sim);
        await this.#settle();
        for (const sim of this.nodes) this.#drain(sim, true);
        await this.#settle();
        for (const link of this.links) moved += this.#flushDown(link, 1_000);
        await this.#settle();
        for (const link of this.links) moved += this.#flushUp(link, 1_000);
        await this.#settle();
      } catch (error) {
        let handled = false;
        for (const sim of this.nodes) if (sim.up && this.#cutFired(sim)) handled = true;
        if (!handled) throw error;
      }
      this.#clock.time += 2_000; // retries fall due
      idleRounds = moved === 0 && this.marks.length === before ? idleRounds + 1 : 0;
    }
  }
}
