/**
 * One node of an HA pair [193], as its daemon runs it: who owns which stream, decided by leases
 * with fencing tokens (./lease.ts), and what happens when that changes.
 *
 *  boot  Before the node boots, if the last grant on this node's stream went to the partner, the
 *        partner took it over: this node asks for it back (`prepareGiveback`) and moves its FIFO
 *        heads past what the partner recorded (./giveback.ts), waiting for the partner as long
 *        as it takes (delivering without the giveback could deliver twice). Then it acquires its
 *        own stream's lease (waiting out the partner's grant) and boots: it replays its own boot
 *        [191] and incomplete [192] events.
 *  run   It keeps its own lease (LeaseKeeper); losing it stops the daemon at once (self-fence: a
 *        node that cannot prove it owns its stream must not deliver it). It watches the partner's
 *        stream: once nobody holds that lease, it acquires it and takes the partner's events
 *        over from its mirror (./takeover.ts), holding that grant until the partner asks for
 *        the stream back.
 *  giveback  The partner asks: the takeover stops, the grant is released, and the mirror's heads
 *        (durable) are the answer.
 */
import type { Logger } from 'pino';
import type { Multiplexer } from '../mux/multiplexer.js';
import type { NvramDevice } from '../nvram/device.js';
import { giveBack, type GivebackReport } from './giveback.js';
import { LeaseKeeper, type StreamLeases } from './lease.js';
import type { Handover } from './mirror-update.js';
import type { PartnerMirror } from './partner-mirror.js';
import { Takeover, type TakeoverReport } from './takeover.js';

/** Tries again this often while waiting for a lease or the partner (ms). */
const waitStepMs = 200;
/** A giveback waits at most this many 10 ms steps for the takeover's records to be released. */
const givebackSettleSteps = 300;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Boot step: the giveback, if the partner holds or last held this node's stream. `ask` reaches
 * the partner (the interconnect); it is tried until it answers or `give` up returns true.
 */
export async function prepareGiveback(options: {
  device: NvramDevice;
  leases: StreamLeases;
  self: string;
  ask: () => Promise<Handover>;
  log: Logger;
  stopped?: () => boolean;
}): Promise<GivebackReport | null> {
  const last = await options.leases.last(options.self);
  if (last === null || last.holder === options.self) return null;
  options.log.warn(
    { holder: last.holder, token: String(last.token) },
    'the partner took this stream over: asking for it back before replaying',
  );
  for (let attempt = 0; ; attempt++) {
    try {
      const handover = await options.ask();
      const report = giveBack(options.device, handover);
      options.log.info({ retired: report.retired }, 'giveback: records the partner recorded');
      return report;
    } catch (error) {
      if (options.stopped?.() === true) throw error;
      if (attempt % 25 === 0)
        options.log.error({ err: error }, 'giveback: waiting for the partner to answer');
      await sleep(waitStepMs);
    }
  }
}

/**
 * Acquires `stream` for `holder`, waiting while another holder's grant runs; `before` runs
 * before each try (the giveback, should the partner have taken the stream meanwhile).
 */
export async function acquireWaiting(
  leases: StreamLeases,
  stream: string,
  holder: string,
  onLost: () => void,
  log: Logger,
  before: () => Promise<void> = () => Promise.resolve(),
): Promise<LeaseKeeper> {
  for (let attempt = 0; ; attempt++) {
    await before();
    const keeper = await LeaseKeeper.acquire(leases, stream, holder, { onLost });
    if (keeper !== null) return keeper;
    if (attempt % 25 === 0) {
      const current = await leases.current(stream);
      log.warn({ stream, holder: current?.holder }, 'waiting for the lease');
    }
    await sleep(waitStepMs);
  }
}

export interface HaPairOptions {
  self: string;
  leases: StreamLeases;
  mux: Multiplexer;
  mirror: PartnerMirror;
  log: Logger;
}

export class HaPair {
  readonly options: HaPairOptions;
  own: LeaseKeeper | null = null;
  #partnerLease: LeaseKeeper | null = null;
  #takeover: Takeover | null = null;
  #watch: NodeJS.Timeout | null = null;
  #checking = false;
  #closed = false;
  /**
   * No takeover before this (monotonic ms): after a giveback the returning node has one lease
   * time to take its lease; without it, this node could find the stream free in between and
   * take it over again at once, only to be asked for it back.
   */
  #holdOffUntil = 0;
  /** The last takeover's report (status, tests). */
  lastTakeover: TakeoverReport | null = null;

  constructor(options: HaPairOptions) {
    this.options = options;
  }

  /** Own lease held: watches the partner's stream every third of the lease's time. */
  start(own: LeaseKeeper): void {
    this.own = own;
    const every = Math.max(50, this.options.leases.ttlMs / 3);
    this.#watch = setInterval(() => void this.#check(), every);
    this.#watch.unref();
  }

  /** The partner's stream: free (its lease expired or released) means it failed: take over. */
  async #check(): Promise<void> {
    const partner = this.options.mirror.partner;
    if (this.#checking || this.#closed || partner === null || this.#partnerLease !== null) return;
    if (performance.now() < this.#holdOffUntil) return;
    this.#checking = true;
    try {
      const keeper = await LeaseKeeper.acquire(this.options.leases, partner, this.options.self, {
        onLost: () => this.#partnerLeaseLost(),
      });
      // a giveback answered meanwhile: the stream is the partner's again
      if (keeper === null || this.#closed || performance.now() < this.#holdOffUntil) {
        await keeper?.release();
        return;
      }
      this.#partnerLease = keeper;
      this.options.log.warn(
        { partner, token: String(keeper.grant.token) },
        'the partner failed: taking its events over [193]',
      );
      this.#takeover = new Takeover(this.options.mux, this.options.mirror, {
        token: keeper.grant.token,
        held: () => keeper.held(),
      });
      this.lastTakeover = await this.#takeover.run();
      this.options.log.info(
        { ...this.lastTakeover, token: String(this.lastTakeover.token) },
        'takeover: done',
      );
    } catch (error) {
      this.options.log.error({ err: error }, 'takeover: the coordinator did not answer');
    } finally {
      this.#checking = false;
    }
  }

  #partnerLeaseLost(): void {
    this.#takeover?.stop(); // self-fence: nothing more is taken from the mirror
    this.#partnerLease = null;
    this.options.log.warn('the lease on the partner stream was lost: takeover stopped');
  }

  /** The partner asks for its stream back: takeover stopped, grant released, the handover. */
  async giveback(node: string): Promise<Handover> {
    if (node !== this.options.mirror.partner)
      throw new Error(`node ${node} is not this node's partner`);
    this.#holdOff();
    const takeover = this.#takeover ?? Takeover.releasing(this.options.mux, this.options.mirror);
    if (takeover !== null) {
      // what the takeover recorded is released from the mirror first, so the heads cover it
      // and the partner retires it (else both would deliver it)
      takeover.quiesce();
      for (let k = 0; k < givebackSettleSteps && takeover.unreleased > 0; k++) await sleep(10);
    }
    takeover?.stop();
    this.#takeover = null;
    const keeper = this.#partnerLease;
    this.#partnerLease = null;
    await keeper?.release();
    this.#holdOff(); // counted from the release: the returning node acquires after the answer
    return this.options.mirror.handover();
  }

  #holdOff(): void {
    this.#holdOffUntil = performance.now() + this.options.leases.ttlMs;
  }

  /** A takeover in progress or holding the partner's stream. */
  get holdsPartner(): boolean {
    return this.#partnerLease !== null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#watch !== null) clearInterval(this.#watch);
    this.#takeover?.stop();
    await this.#partnerLease?.release().catch(() => {});
    await this.own?.release().catch(() => {});
  }
}
