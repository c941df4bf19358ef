/**
 * Takeover [193]: the survivor of an HA pair replays its failed partner's unfinished events
 * from its mirror, after its own boot [191] and incomplete [192] events (queued at its boot),
 * before new ones (they are recorded now, so every later emit has a higher seq).
 *
 * Not a second delivery path: the mirror is an upstream of this node's Multiplexer (src/mux),
 * whose transport is the local mirror instead of a connection. Each pending partner event is
 * recorded here once, with its origin trail and the hop (partner, seq) [252], for this node's
 * recipients minus those that had confirmed it on the partner; the custodian holds it until
 * the mirror has durably released it (steps 253 custody and CONFIRMED, here the mirror's head
 * moved past it). So a cut of this node at any instruction of a takeover costs no event and no
 * second record: a boot rebuilds the index of held (partner, seq) from the pending records, and
 * the next takeover recognises them.
 *
 * Only a node that holds the partner stream's lease takes over (./lease.ts: the fencing token of
 * the grant is the takeover's), and it stops taking events from the mirror the moment its lease
 * is not held any more (self-fence).
 */
import { custodianName, type Multiplexer } from '../mux/multiplexer.js';
import type { UpstreamConfirmer, UpstreamLink } from '../mux/upstream-link.js';
import { severityName } from '../events/severity.js';
import type { MirroredEvent, PartnerMirror } from './partner-mirror.js';

export interface TakeoverOptions {
  /** The fencing token of the lease grant on the partner's stream. */
  token: bigint;
  /** False once the lease is lost: nothing more is taken from the mirror. */
  held: () => boolean;
  /** Refused events (this node's pool full) are offered again this often (ms; default 50). */
  retryMs?: number;
}

export interface TakeoverReport {
  partner: string | null;
  token: bigint;
  /** Partner events pending in the mirror when the takeover began. */
  pending: number;
  /** Recorded here (or found recorded by an earlier takeover) and released from the mirror. */
  released: number;
  /** Stopped early: the lease was lost. */
  fenced: boolean;
}

export class Takeover implements UpstreamConfirmer {
  readonly mux: Multiplexer;
  readonly mirror: PartnerMirror;
  readonly token: bigint;
  readonly #held: () => boolean;
  readonly #retryMs: number;
  readonly #bySeq = new Map<number, MirroredEvent>();
  /** Per mirror FIFO: the pending positions in order, and how many of them are released. */
  readonly #order: number[][];
  readonly #seqs: number[][];
  readonly #releasedUpTo: number[];
  readonly #released = new Set<number>();
  #link: UpstreamLink | null = null;
  /** No more events taken from the mirror (a giveback is coming); the recorded ones go on. */
  #quiesced = false;
  #report: TakeoverReport;
  #done: () => void = () => {};
  #timer: NodeJS.Timeout | null = null;

  constructor(mux: Multiplexer, mirror: PartnerMirror, options: TakeoverOptions) {
    this.mux = mux;
    this.mirror = mirror;
    this.token = options.token;
    this.#held = options.held;
    this.#retryMs = options.retryMs ?? 50;
    this.#order = mirror.fifos.map(() => []);
    this.#seqs = mirror.fifos.map(() => []);
    this.#releasedUpTo = mirror.fifos.map(() => 0);
    this.#report = {
      partner: mirror.partner,
      token: options.token,
      pending: 0,
      released: 0,
      fenced: false,
    };
  }

  /** Step 193: resolves once every pending partner event is held here and out of the mirror. */
  run(): Promise<TakeoverReport> {
    const partner = this.mirror.partner;
    if (partner === null) return Promise.resolve(this.#report);
    const events = this.mirror.pending();
    this.#report.pending = events.length;
    for (const event of events) {
      this.#bySeq.set(event.record.seq, event);
      (this.#order[event.fifo] as number[]).push(event.position);
      (this.#seqs[event.fifo] as number[]).push(event.record.seq);
    }
    const finished = new Promise<TakeoverReport>((resolve) => {
      this.#done = () => resolve(this.#report);
    });
    const link = this.mux.link(`partner:${partner}`, 'custody');
    this.#link = link;
    // what an earlier takeover recorded (the index rebuilt at boot) is released now, even when
    // the mirror has nothing pending any more (its release was durable before a cut); known
    // events first (#bySeq), so one still pending is released from the mirror, not skipped
    link.connected(partner, this);
    if (events.length === 0) return Promise.resolve(this.#report);
    this.#offer([...this.#bySeq.values()]);
    return finished;
  }

  /** Records each event not yet held (UpstreamLink.receive skips those it holds). */
  #offer(events: MirroredEvent[]): void {
    const link = this.#link;
    if (link === null) return;
    for (const event of events) {
      if (!this.#held()) {
        this.#fence();
        return;
      }
      if (this.#quiesced) return;
      if (this.#released.has(event.record.seq)) continue;
      const refusedBefore = this.mux.counters.refused;
      const record = event.record;
      link.receive({
        seq: record.seq,
        severity: severityName(record.severity),
        source: record.source,
        type: record.type,
        details: record.details,
        origin: record.origin ?? [],
        // the partner's own custodian confirmed it there: never this node's custodian [253]
        except: event.confirmed.filter((name) => name !== custodianName),
      });
      if (this.mux.counters.refused > refusedBefore) {
        // in order, never past a refused one (the mirror's head then covers most of what is
        // recorded; a giveback hands the rest back by position)
        this.#retryLater();
        return;
      }
    }
  }

  /** This node refused some (its pool was full): offered again until all are held. */
  #retryLater(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const waiting = [...this.#bySeq.values()].filter(
        (event) =>
          !this.#released.has(event.record.seq) &&
          this.mux.index.find(this.mirror.partner as string, event.record.seq) === undefined,
      );
      this.#offer(waiting);
    }, this.#retryMs);
    this.#timer.unref();
  }

  /**
   * A giveback is asked for: nothing more is taken from the mirror, while what is recorded here
   * is still released from it (`unreleased` falls to 0); then the heads cover all of it.
   */
  quiesce(): void {
    this.#quiesced = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /**
   * Before a giveback with no takeover running: what an earlier one recorded here (the index
   * rebuilt at boot) and had not released from the mirror yet is released now (nothing new is
   * taken: no lease needed). Null if this node holds nothing of the partner's.
   */
  static releasing(mux: Multiplexer, mirror: PartnerMirror): Takeover | null {
    const partner = mirror.partner;
    if (partner === null || ![...mux.index.values()].some((h) => h.node === partner)) return null;
    const takeover = new Takeover(mux, mirror, { token: 0n, held: () => true });
    takeover.quiesce();
    void takeover.run();
    return takeover;
  }

  /** Partner events recorded here and not yet released from the mirror. */
  get unreleased(): number {
    const partner = this.mirror.partner;
    let count = 0;
    for (const holding of this.mux.index.values())
      if (holding.node === partner && !this.#released.has(holding.seq)) count++;
    return count;
  }

  /** The lease is lost: nothing more is taken (what is recorded here stays this node's). */
  #fence(): void {
    this.#report.fenced = true;
    this.stop();
    this.#done();
  }

  /**
   * The custodian's confirmation (UpstreamConfirmer): the event is durable here, so the mirror
   * may let it go; the mirror's head moves over the released prefix, durably, before this
   * resolves (and the custodian releases its hold).
   */
  confirmDurable(seq: number): Promise<void> {
    const event = this.#bySeq.get(seq);
    if (event === undefined) return Promise.resolve(); // released by an earlier takeover
    if (!this.#released.has(seq)) {
      this.#released.add(seq);
      this.#report.released++;
      this.#advance(event.fifo, event.position);
    }
    if (this.#report.released === this.#report.pending) {
      this.stop();
      this.#done();
    }
    return Promise.resolve();
  }

  /**
   * The released event marked handled in the mirror, and the mirror's head past every released
   * position at the front of the FIFO, durably (a giveback hands both back).
   */
  #advance(fifo: number, position: number): void {
    const order = this.#order[fifo] as number[];
    let k = this.#releasedUpTo[fifo] as number;
    const seqs = this.#seqs[fifo] as number[];
    while (k < order.length && this.#released.has(seqs[k] as number)) k++;
    this.#releasedUpTo[fifo] = k;
    const upTo = k === order.length ? (this.mirror.fifos[fifo]?.tail ?? 0) : (order[k] as number);
    this.mirror.release(fifo, position, upTo);
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#link?.disconnected();
  }
}
