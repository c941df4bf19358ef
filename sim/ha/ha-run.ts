/**
 * One seeded run of the HA pair [193] (the VOPR idea: a whole pair, its interconnect and its
 * coordinator in one deterministic process, faults injected by the seed, the history checked
 * end to end by ./ha-check.ts). Each step is the work of one node (an emit, a group commit, a
 * drain, a state sync, a takeover check), of the interconnect (a frame moved, lost, delivered
 * twice; a partition) or of the world (time passing, a clock jump that expires leases, a power
 * cut armed at a seeded instruction of one node, one node's NVRAM lost). Heartbeats renew the
 * leases between steps. Then faults stop, and the pair runs until quiescent.
 *
 * Deterministic: the seed decides every step; src/ha's wall-clock timers are set never to
 * fire (the script does their work); the clock is the simulation's.
 */
import { NodeError } from '../../src/events/errors.js';
import type { LeaseGrant } from './coordinator.js';
import { HaPair, leaseTtlMs, type HaRunOptions } from './ha-pair.js';
import type { HaMark } from './ha-check.js';
import type { MirrorChannel } from './interconnect.js';
import { eventTypes, intendedLeaves, type PairNode } from './pair-node.js';

export interface HaRunResult {
  marks: HaMark[];
  grants: LeaseGrant[];
  steps: number;
  framesLost: number;
  /** Nodes still down once the run ended (0 when quiescent). */
  leftDown: number;
}

const stepsPerEvent = 12;
const quiescentRoundsMax = 60;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class HaRun extends HaPair {
  #emitted = 0;
  #nvramLosses = 0;
  /** Node indexes with a power cut armed. */
  readonly #armed = new Set<number>();

  constructor(options: HaRunOptions) {
    super(options);
  }

  async run(): Promise<HaRunResult> {
    for (const sim of this.nodes) this.comeBack(sim);
    await this.#settle();
    const steps = this.options.events * stepsPerEvent;
    for (let step = 0; step < steps; step++) {
      this.#guarded(() => this.#step());
      await this.#settle();
    }
    await this.#quiesce();
    return {
      marks: this.marks,
      grants: this.coordinator.grants,
      steps,
      framesLost: this.channels.reduce((n, channel) => n + channel.lost, 0),
      leftDown: this.nodes.filter((sim) => !sim.up).length,
    };
  }

  /** After a step: promise callbacks run, then every device that lost power is handled. */
  async #settle(): Promise<void> {
    await turn();
    for (const sim of this.nodes) if (sim.up) this.#cut(sim);
  }

  #cut(sim: PairNode): boolean {
    if (!this.cutFired(sim)) return false;
    this.#armed.delete(sim.index);
    return true;
  }

  /** Runs a step; a power cut inside it ends it (the node is down), anything else is thrown. */
  #guarded(work: () => void): void {
    try {
      work();
    } catch (error) {
      for (const sim of this.nodes) if (sim.up && this.#cut(sim)) return;
      for (const sim of this.nodes) if (!sim.up && sim.device.poweredOff) return;
      if (error instanceof NodeError && error.code !== 'NODE_FAILED') {
        this.marks.push({ kind: 'defect', node: '-', message: `${error.code}: ${error.message}` });
        return;
      }
      throw error;
    }
  }

  // ---- the script ----

  #step(): void {
    const prng = this.prng;
    this.clock.time += 10 + prng.below(20);
    for (const channel of this.channels) channel.tick();
    for (const sim of this.nodes) this.#between(sim);
    const choice = prng.below(100);
    const sim = this.nodes[prng.below(2)] as PairNode;
    const channel = this.channels[prng.below(2)] as MirrorChannel;
    if (choice < 18) this.#emit(sim);
    else if (choice < 28) this.#commit(sim);
    else if (choice < 42) this.#drain(sim, prng.below(2) === 0);
    else if (choice < 70) this.#moveSome(channel, 1 + prng.below(4));
    else if (choice < 76) void sim.source?.syncState();
    else if (choice < 82) this.takeOver(sim);
    else if (choice < 86) this.connect(sim);
    else if (choice < 88) this.#armCut(sim, 1 + prng.below(40));
    else if (choice < 89) this.clock.time += leaseTtlMs + prng.below(leaseTtlMs);
    else if (choice < 90) for (const c of this.channels) c.cut(3 + prng.below(12));
    else if (choice < 91 && prng.below(3) === 0) this.#loseNvram(sim);
  }

  /** Frames moved one hop each, some lost, some delivered twice. */
  #moveSome(channel: MirrorChannel, count: number): void {
    for (let k = 0; k < count; k++)
      this.#move(channel, this.prng.below(100) < 3, this.prng.below(100) < 5);
  }

  /** Between steps: a node that is down may come back; heartbeats; cuts only with a partner. */
  #between(sim: PairNode): void {
    const partner = this.partnerOf(sim);
    if (this.#armed.has(sim.index) && !partner.up) {
      sim.device.setPowerCut(-1);
      this.#armed.delete(sim.index);
    }
    if (!sim.up) {
      if (sim.rebootIn > 0) sim.rebootIn--;
      else this.comeBack(sim);
      return;
    }
    if (this.prng.below(8) !== 0) this.#guarded(() => this.#heartbeat(sim));
    if (sim.up && this.prng.below(3) === 0) this.connect(sim); // the link's own reconnect
  }

  /** Renews the node's leases; one it cannot renew is lost (its own: self-fence). */
  #heartbeat(sim: PairNode): void {
    if (sim.takeover !== null) this.coordinator.renew(sim.takeover.grant);
    if (sim.grant !== null && this.coordinator.renew(sim.grant)) return;
    if (this.protocol.fenced(this.coordinator, sim.grant)) this.fence(sim);
  }

  #emit(sim: PairNode): void {
    if (!sim.up || sim.node?.phase !== 'running' || this.#emitted >= this.options.events) return;
    const k = ++this.#emitted;
    const type = eventTypes[this.prng.below(eventTypes.length)] as string;
    const details = new Uint8Array(8);
    new DataView(details.buffer).setUint32(0, k, true);
    const key = Buffer.from(details).toString('hex');
    this.marks.push({
      kind: 'attempt',
      key,
      node: sim.name,
      id: sim.id,
      type,
      intended: intendedLeaves(type),
    });
    try {
      sim.node
        .producer('ctl')
        .emitAsync(type, 'err', details)
        .then(
          (seq) => this.marks.push({ kind: 'acked', key, seq }),
          (error: unknown) => this.marks.push({ kind: 'unacked', key, code: codeOf(error) }),
        );
    } catch (error) {
      if (!(error instanceof NodeError) || error.code === 'NODE_FAILED') throw error;
      this.marks.push({ kind: 'unacked', key, code: error.code });
    }
  }

  #commit(sim: PairNode): void {
    if (sim.up && sim.node?.phase === 'running') sim.node.commit();
  }

  /** One distribution pass, only under the node's own lease (self-fence). */
  #drain(sim: PairNode, confirmLate: boolean): void {
    if (!sim.up || sim.node?.phase !== 'running') return;
    if (this.protocol.fenced(this.coordinator, sim.grant)) {
      this.fence(sim);
      return;
    }
    if (confirmLate) for (const { recipient, seq } of sim.late.splice(0)) recipient.confirm(seq);
    sim.node.drain();
  }

  #move(channel: MirrorChannel, lose: boolean, duplicate: boolean): number {
    const receiver = this.nodes[channel.to] as PairNode;
    try {
      return channel.move({ lose, duplicate }) === 'none' ? 0 : 1;
    } catch (error) {
      if (this.#cut(receiver)) return 1;
      const message = error instanceof Error ? error.message : String(error);
      this.marks.push({
        kind: 'defect',
        node: receiver.name,
        message: `mirror update refused: ${message}`,
      });
      return 1;
    }
  }

  /** A power cut at a seeded instruction ahead, never on both nodes. */
  #armCut(sim: PairNode, ahead: number): void {
    if (!sim.up || !this.partnerOf(sim).up || this.#armed.size > 0) return;
    sim.device.setPowerCut(sim.device.instructionCount + ahead);
    this.#armed.add(sim.index);
  }

  /** Once per run, while the partner is up and holds its own stream (never both). */
  #loseNvram(sim: PairNode): void {
    const partner = this.partnerOf(sim);
    if (this.#nvramLosses > 0 || !partner.up || sim.takeover !== null) return;
    if (this.coordinator.last(partner.name)?.holder !== partner.name) return;
    this.#nvramLosses++;
    this.#armed.delete(sim.index);
    this.loseNvram(sim);
  }

  // ---- quiescence ----

  /** No more faults: every node back, every frame moved, every confirmation given. */
  async #quiesce(): Promise<void> {
    for (const index of this.#armed) this.nodes[index]?.device.setPowerCut(-1);
    this.#armed.clear();
    for (const channel of this.channels) channel.partitioned = 0;
    let idle = 0;
    for (let round = 0; round < quiescentRoundsMax && idle < 3; round++) {
      const before = this.marks.length;
      let moved = 0;
      this.clock.time += 10;
      for (const sim of this.nodes) {
        if (!sim.up) this.comeBack(sim);
        if (sim.up) this.#guarded(() => this.#heartbeat(sim));
        this.#guarded(() => this.takeOver(sim));
        this.connect(sim);
        this.#guarded(() => this.#commit(sim));
      }
      await this.#settle();
      for (const channel of this.channels)
        while (this.#move(channel, false, false) > 0 && moved < 10_000) moved++;
      await this.#settle();
      for (const sim of this.nodes) {
        this.#guarded(() => this.#drain(sim, true));
        void sim.source?.syncState();
      }
      await this.#settle();
      const down = this.nodes.some((sim) => !sim.up);
      idle = moved === 0 && !down && this.marks.length === before ? idle + 1 : 0;
    }
  }
}

function codeOf(error: unknown): string {
  return (error as { code?: string }).code ?? String(error);
}
