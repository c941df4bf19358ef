/**
 * The checker of SPEC section 4: judges one history of an event workload across power cuts and
 * reboots (epochs), from what producers and recipients observed. It knows nothing of the NVRAM
 * layout: only the API's promises (an emit that returned is durable; after `drain()` returns,
 * the confirmations received before it are durable).
 *
 * Reusable: the history is a plain list of observations, so a crash lab can build it from
 * marks. Findings use the crash lab's shape ({invariant, message, sequences}).
 */

/** One thing a producer, a recipient or the driver saw, in program order. */
export type Observation =
  | { kind: 'boot'; epoch: number }
  | { kind: 'started'; epoch: number }
  /** An emit is about to be called. `key` identifies the event's content uniquely. */
  | {
      kind: 'attempt';
      epoch: number;
      key: string;
      source: string;
      type: string;
      severity: number;
      /** Recipients the event must reach, computed from the subscriptions by the driver. */
      intended: readonly string[];
      /** Group commit: durable only once a later commit returns (may be cut short with others). */
      grouped?: boolean;
    }
  /** The emit returned: the event is durable. `seq` when the driver learnt it. */
  | { kind: 'emitted'; epoch: number; key: string; seq?: number }
  /** The emit threw a typed error (QUEUE_FULL, EVENT_TOO_LARGE): rejected, not dropped. */
  | { kind: 'rejected'; epoch: number; key: string; code: string }
  | {
      kind: 'delivered';
      epoch: number;
      recipient: string;
      seq: number;
      source: string;
      type: string;
      severity: number;
      /** The content key (source + details), to match the delivery to its emit. */
      key: string;
      replayed: boolean;
      /** A dead letter re-delivered by an operator: the seq of the event it re-delivers. */
      originalSeq?: number;
    }
  /** confirm(seq) is about to be called (a cut may interrupt it after it took effect). */
  | { kind: 'confirming'; epoch: number; recipient: string; seq: number }
  /** confirm(seq) returned true. */
  | { kind: 'confirmed'; epoch: number; recipient: string; seq: number }
  /** A drain returned: every confirmation observed before it in this epoch is durable. */
  | { kind: 'durable'; epoch: number }
  /** The node's visible count of rejected emits this epoch (SPEC 4.7). */
  | { kind: 'counters'; epoch: number; rejected: number }
  /**
   * The node listed a new dead letter of `seq` for `recipient` when a drain returned: it is
   * durable, and so is the recipient's confirmation bit (the event is not delivered to it again
   * in later boots). From here the event is owed to the recipient as a dead letter until a
   * re-delivery (with `originalSeq`) is confirmed.
   */
  | { kind: 'dead-lettered'; epoch: number; recipient: string; seq: number }
  /** The power was cut during this epoch. */
  | { kind: 'cut'; epoch: number }
  /** The epoch ran until quiescent. */
  | { kind: 'quiescent'; epoch: number; idle: boolean; pending: number };

export type Invariant =
  | 'no-loss'
  | 'no-garbage'
  | 'no-zombies'
  | 'order'
  | 'unique-identity'
  | 'no-silent-drop'
  /** Under power cuts alone, recovery found a damaged record it had to discard. */
  | 'persist-order'
  /** A dead letter re-delivered as something else, or dead-lettered without a delivery. */
  | 'dead-letter';

export interface Finding {
  invariant: Invariant;
  message: string;
  sequences?: number[];
}

export interface CheckReport {
  findings: Finding[];
  /** Deliveries of (recipient, seq) beyond the first: allowed only where SPEC 4.5 allows. */
  duplicates: number;
  deliveries: number;
  /** Events raised by the node itself (source `nvrelay`), e.g. discarded-record reports. */
  systemEvents: number;
  emitted: number;
}

/** Events the node raises about itself are not producer events. */
export const systemSource = 'nvrelay';

/**
 * Recovery reports that power cuts alone do cause, so they are no sign of a persist-order bug:
 * an append cut short leaves a torn record past the tail word (rows D4, D5), never
 * acknowledged.
 * Any other report after power cuts alone is one (a damaged published record, salvaged
 * pointers, a repaired lease, a damaged table entry).
 */
const expectedAfterCuts: ReadonlySet<string> = new Set(['nvrelay.record.torn']);

interface Attempt {
  epoch: number;
  key: string;
  source: string;
  type: string;
  severity: number;
  intended: readonly string[];
  grouped?: boolean;
  emitted: boolean;
  rejected: boolean;
  /** From 'emitted', or from the first delivery. */
  seq: number | undefined;
  index: number;
}

type Delivery = Extract<Observation, { kind: 'delivered' }>;

export interface CheckOptions {
  /**
   * Media faults were injected (bit flips), so recovery may discard records and report them.
   * Without them a correct persist order never publishes a torn record, so any such report is
   * a finding (this is what catches a FIFO that publishes the tail before the record).
   */
  mediaFaults?: boolean;
}

export function checkHistory(
  history: readonly Observation[],
  options: CheckOptions = {},
): CheckReport {
  const checker = new HistoryChecker(options);
  checker.observeAll(history);
  return checker.finish();
}

/**
 * The checker as a fold over observations, so that a history sharing a prefix with an earlier
 * one (every crash state of one cut shares the workload's observations) can start from a copy
 * of the state after that prefix: `clone()`, then `observeAll(rest)`, then `finish()`.
 * Each observation is checked when it arrives; what needs the whole history (losses, silent
 * drops, seq order across boots) is checked by `finish()`.
 *
 * `trial(run)` is the cheaper way to judge many histories that share a prefix (a crash lab
 * checks thousands of crash states per cut): the observations `run` makes are journaled and
 * undone afterwards, so the prefix's state is reused as it is instead of copied.
 */
export class HistoryChecker {
  readonly #options: CheckOptions;
  #findings: Finding[] = [];
  #index = 0;
  #last: Observation | undefined;
  #attempts = new Map<string, Attempt>();
  // SPEC 4.2 / 4.5 per delivery
  #seen = new Set<string>(); // recipient#seq
  #keyOfSeq = new Map<number, string>();
  #duplicates = 0;
  #deliveries = 0;
  #systemTypes = new Set<string>();
  #system = 0;
  // SPEC 4.1
  // Keyed by recipient, then content key or seq: no strings to build per lookup.
  #seqsByPair = new Map<string, Map<string, number[]>>(); // recipient -> key -> seqs delivered
  #confirmed = new Map<string, Set<number>>(); // recipient -> seqs (a confirm call, even cut short)
  // The dead-letter contract
  #deadLettered = new Map<string, Set<number>>(); // recipient -> original seqs dead-lettered
  #redeliveredSeqs = new Map<string, Map<number, number[]>>(); // recipient -> original -> seqs
  // SPEC 4.3
  #durableAt = new Map<string, number>(); // recipient#seq -> epoch its confirmation became durable
  #pendingDurable: { recipient: string; seq: number; epoch: number }[] = [];
  // SPEC 4.4
  #seenInEpoch = new Set<string>(); // recipient#seq@epoch
  #newSeen = new Set<string>(); // recipient@epoch: a new event was seen
  #lastByProducer = new Map<string, number>();
  // SPEC 4.7
  #cutEpochs = new Set<number>();
  #countersByEpoch = new Map<number, number>();
  /** During trial(): how to undo each change, in the order made. */
  #journal: (() => void)[] | null = null;

  constructor(options: CheckOptions = {}) {
    this.#options = options;
  }

  /** An independent copy of the state after the observations seen so far. */
  clone(): HistoryChecker {
    const copy = new HistoryChecker(this.#options);
    copy.#findings = this.#findings.slice();
    copy.#index = this.#index;
    copy.#last = this.#last;
    copy.#attempts = new Map();
    for (const [key, attempt] of this.#attempts) copy.#attempts.set(key, { ...attempt });
    copy.#seen = new Set(this.#seen);
    copy.#keyOfSeq = new Map(this.#keyOfSeq);
    copy.#duplicates = this.#duplicates;
    copy.#deliveries = this.#deliveries;
    copy.#systemTypes = new Set(this.#systemTypes);
    copy.#system = this.#system;
    copy.#seqsByPair = new Map();
    for (const [recipient, byKey] of this.#seqsByPair) {
      const keys = new Map<string, number[]>();
      for (const [key, seqs] of byKey) keys.set(key, seqs.slice());
      copy.#seqsByPair.set(recipient, keys);
    }
    copy.#confirmed = new Map();
    for (const [recipient, seqs] of this.#confirmed) copy.#confirmed.set(recipient, new Set(seqs));
    copy.#deadLettered = new Map();
    for (const [recipient, seqs] of this.#deadLettered)
      copy.#deadLettered.set(recipient, new Set(seqs));
    copy.#redeliveredSeqs = new Map();
    for (const [recipient, byOriginal] of this.#redeliveredSeqs) {
      const originals = new Map<number, number[]>();
      for (const [original, seqs] of byOriginal) originals.set(original, seqs.slice());
      copy.#redeliveredSeqs.set(recipient, originals);
    }
    copy.#durableAt = new Map(this.#durableAt);
    copy.#pendingDurable = this.#pendingDurable.slice();
    copy.#seenInEpoch = new Set(this.#seenInEpoch);
    copy.#newSeen = new Set(this.#newSeen);
    copy.#lastByProducer = new Map(this.#lastByProducer);
    copy.#cutEpochs = new Set(this.#cutEpochs);
    copy.#countersByEpoch = new Map(this.#countersByEpoch);
    return copy;
  }

  /**
   * Runs `run` (which observes and finishes), then undoes every observation it made: the
   * checker is left exactly as before, whatever `run` returned or threw.
   */
  trial<T>(run: (checker: HistoryChecker) => T): T {
    if (this.#journal !== null) throw new Error('HistoryChecker.trial does not nest');
    const journal: (() => void)[] = [];
    const saved = {
      findings: this.#findings.length,
      index: this.#index,
      last: this.#last,
      duplicates: this.#duplicates,
      deliveries: this.#deliveries,
      system: this.#system,
      pendingDurable: this.#pendingDurable,
      pendingDurableLength: this.#pendingDurable.length,
    };
    this.#journal = journal;
    try {
      return run(this);
    } finally {
      this.#journal = null;
      for (let i = journal.length - 1; i >= 0; i--) (journal[i] as () => void)();
      this.#findings.length = saved.findings;
      this.#index = saved.index;
      this.#last = saved.last;
      this.#duplicates = saved.duplicates;
      this.#deliveries = saved.deliveries;
      this.#system = saved.system;
      this.#pendingDurable = saved.pendingDurable;
      this.#pendingDurable.length = saved.pendingDurableLength;
    }
  }

  observeAll(history: readonly Observation[]): void {
    for (let i = 0; i < history.length; i++) this.observe(history[i] as Observation);
  }

  observe(o: Observation): void {
    const index = this.#index++;
    this.#last = o;
    if (o.kind === 'counters') this.#mapSet(this.#countersByEpoch, o.epoch, o.rejected);
    else if (!this.#countersByEpoch.has(o.epoch)) this.#mapSet(this.#countersByEpoch, o.epoch, -1);
    switch (o.kind) {
      case 'attempt':
        return this.#attempt(o, index);
      case 'emitted':
      case 'rejected':
        return this.#outcome(o);
      case 'delivered':
        return this.#delivered(o);
      case 'confirming': // a confirm call, even one a cut interrupted
      case 'confirmed':
        this.#setAdd(
          this.#inner(this.#confirmed, o.recipient, () => new Set()),
          o.seq,
        );
        if (o.kind === 'confirmed') this.#pendingDurable.push(o);
        return;
      case 'durable':
      case 'boot':
        // A drain makes this epoch's confirmations durable; a boot forgets unconfirmed ones.
        if (this.#pendingDurable.length === 0) return; // most drains: nothing new (no copy)
        if (o.kind === 'durable') {
          for (const c of this.#pendingDurable) {
            if (c.epoch === o.epoch)
              this.#mapSet(this.#durableAt, `${c.recipient}#${c.seq}`, c.epoch);
          }
        }
        this.#pendingDurable = [];
        return;
      case 'dead-lettered':
        return this.#deadLetteredMark(o);
      case 'cut':
        this.#setAdd(this.#cutEpochs, o.epoch);
        return;
      default:
        return;
    }
  }

  finish(): CheckReport {
    const findings = this.#findings.slice();
    const add = adder(findings);
    if (this.#system > 0 && this.#options.mediaFaults !== true) {
      add(
        'persist-order',
        `recovery reported ${[...this.#systemTypes].join(', ')} after power cuts alone`,
      );
    }
    checkSeqs(this.#attempts, add);
    this.#noLoss(add);
    this.#noSilentDrop(add);
    let emitted = 0;
    for (const attempt of this.#attempts.values()) if (attempt.emitted) emitted++;
    return {
      findings,
      duplicates: this.#duplicates,
      deliveries: this.#deliveries,
      systemEvents: this.#system,
      emitted,
    };
  }

  #add(invariant: Invariant, message: string, sequences?: number[]): void {
    adder(this.#findings)(invariant, message, sequences);
  }

  #attempt(o: Extract<Observation, { kind: 'attempt' }>, index: number): void {
    if (this.#attempts.has(o.key))
      this.#add('unique-identity', `two emits share the content key ${o.key}`);
    const attempt: Attempt = {
      epoch: o.epoch,
      key: o.key,
      source: o.source,
      type: o.type,
      severity: o.severity,
      intended: o.intended,
      emitted: false,
      rejected: false,
      seq: undefined,
      index,
    };
    if (o.grouped !== undefined) attempt.grouped = o.grouped;
    this.#mapSet(this.#attempts, o.key, attempt);
  }

  #outcome(o: Extract<Observation, { kind: 'emitted' | 'rejected' }>): void {
    const attempt = this.#attempts.get(o.key);
    if (attempt === undefined)
      return this.#add('no-silent-drop', `outcome for unknown emit ${o.key}`);
    if (o.kind === 'rejected') {
      this.#assign(attempt, 'rejected', true);
      return;
    }
    this.#assign(attempt, 'emitted', true);
    if (o.seq === undefined) return;
    if (attempt.seq !== undefined && attempt.seq !== o.seq) {
      this.#add(
        'unique-identity',
        `event ${o.key} delivered as seq ${attempt.seq} and as ${o.seq}`,
        [attempt.seq, o.seq],
      );
    }
    this.#assign(attempt, 'seq', o.seq);
  }

  /** SPEC 4.2, 4.3, 4.4 and 4.5 for one delivery. */
  #delivered(d: Delivery): void {
    this.#deliveries++;
    const pair = `${d.recipient}#${d.seq}`;
    const again = this.#seen.has(pair);
    if (again) this.#duplicates++;
    this.#setAdd(this.#seen, pair);
    const identity = d.source === systemSource ? `${systemSource}/${d.type}/${d.seq}` : d.key;
    const other = this.#keyOfSeq.get(d.seq);
    if (other !== undefined && other !== identity) {
      this.#add('unique-identity', `seq ${d.seq} names two events (${other}, ${identity})`, [
        d.seq,
      ]);
    }
    this.#mapSet(this.#keyOfSeq, d.seq, identity);
    const attempt = this.#attempts.get(d.key);
    this.#zombie(d, pair);
    this.#order(d, pair, again, attempt);
    if (d.originalSeq !== undefined) this.#redelivery(d, attempt);
    const byKey = this.#inner(this.#seqsByPair, d.recipient, () => new Map<string, number[]>());
    const seqs = byKey.get(d.key);
    if (seqs === undefined) this.#mapSet(byKey, d.key, [d.seq]);
    else if (!seqs.includes(d.seq)) {
      seqs.push(d.seq);
      this.#journal?.push(() => seqs.pop());
    }
    if (d.source === systemSource) {
      if (!expectedAfterCuts.has(d.type)) {
        this.#system++;
        this.#setAdd(this.#systemTypes, d.type);
      }
      if (!d.type.startsWith(`${systemSource}.`))
        this.#add('no-garbage', `system source with type ${d.type}`, [d.seq]);
      return;
    }
    this.#garbage(d, attempt);
  }

  #garbage(d: Delivery, attempt: Attempt | undefined): void {
    if (attempt === undefined) {
      this.#add(
        'no-garbage',
        `${d.recipient} got seq ${d.seq} (${d.key}) that no producer emitted`,
        [d.seq],
      );
      return;
    }
    if (attempt.type !== d.type || attempt.severity !== d.severity || attempt.source !== d.source) {
      this.#add(
        'no-garbage',
        `${d.recipient} got seq ${d.seq} with fields that differ from its emit`,
        [d.seq],
      );
    }
    if (!attempt.intended.includes(d.recipient)) {
      this.#add('no-garbage', `${d.recipient} got seq ${d.seq}, not intended for it`, [d.seq]);
    }
    if (d.originalSeq !== undefined) return; // a re-delivery: its own seq (#redelivery)
    if (attempt.seq === undefined) this.#assign(attempt, 'seq', d.seq);
    else if (attempt.seq !== d.seq) {
      this.#add(
        'unique-identity',
        `event ${d.key} delivered as seq ${d.seq} and as ${attempt.seq}`,
        [d.seq, attempt.seq],
      );
    }
  }

  /** SPEC 4.3: a confirmation durable in an earlier boot means no delivery of that event now. */
  #zombie(d: Delivery, pair: string): void {
    const epoch = this.#durableAt.get(pair);
    if (epoch !== undefined && d.epoch > epoch) {
      this.#add(
        'no-zombies',
        `${d.recipient} got seq ${d.seq} in boot ${d.epoch}; its confirmation was durable in boot ${epoch}`,
        [d.seq],
      );
    }
  }

  /**
   * SPEC 4.4: per recipient, each producer's events are first seen in emit order; and in every
   * boot after the first, replayed events are first seen before any event of that boot.
   */
  #order(d: Delivery, pair: string, again: boolean, attempt: Attempt | undefined): void {
    const inEpoch = `${pair}@${d.epoch}`;
    const firstInEpoch = !this.#seenInEpoch.has(inEpoch);
    this.#setAdd(this.#seenInEpoch, inEpoch);
    // a producer event is a replay if emitted in an earlier boot; a system event or a re-delivered
    // dead letter (recorded when the operator re-delivered it) by its flag
    const replay =
      attempt !== undefined && d.originalSeq === undefined ? attempt.epoch < d.epoch : d.replayed;
    const marker = `${d.recipient}@${d.epoch}`;
    if (replay && firstInEpoch && this.#newSeen.has(marker)) {
      this.#add(
        'order',
        `${d.recipient} got replayed seq ${d.seq} after a new event of boot ${d.epoch}`,
        [d.seq],
      );
    }
    if (!replay && firstInEpoch) this.#setAdd(this.#newSeen, marker);
    // a re-delivery is out of band: it comes after its producer's later events
    if (again || d.source === systemSource || d.originalSeq !== undefined) return;
    const producer = `${d.recipient}#${d.source}`;
    const last = this.#lastByProducer.get(producer) ?? 0;
    if (d.seq < last) {
      this.#add(
        'order',
        `${d.recipient} first got ${d.source}'s seq ${d.seq} after its seq ${last}`,
        [d.seq, last],
      );
    }
    this.#mapSet(this.#lastByProducer, producer, Math.max(last, d.seq));
  }

  /**
   * The dead-letter contract, on a dead letter's listing: the recipient was delivered that event
   * (its attempts ran out); its confirmation bit is durable, so the event is not delivered to it
   * again in a later boot (no-zombies), and it is owed as a dead letter (#noLoss).
   */
  #deadLetteredMark(o: Extract<Observation, { kind: 'dead-lettered' }>): void {
    const pair = `${o.recipient}#${o.seq}`;
    if (!this.#seen.has(pair)) {
      this.#add(
        'dead-letter',
        `seq ${o.seq} was dead-lettered for ${o.recipient}, which was never delivered it`,
        [o.seq],
      );
    }
    this.#setAdd(
      this.#inner(this.#deadLettered, o.recipient, () => new Set()),
      o.seq,
    );
    if (!this.#durableAt.has(pair)) this.#mapSet(this.#durableAt, pair, o.epoch);
  }

  /**
   * The dead-letter contract, on a re-delivery: it carries the original's seq (originalSeq) and
   * content, goes to a recipient the original was intended for and delivered to, and has a seq
   * of its own.
   */
  #redelivery(d: Delivery, attempt: Attempt | undefined): void {
    const original = d.originalSeq as number;
    if (attempt === undefined) return; // no-garbage reports it
    if (original === d.seq) {
      this.#add('dead-letter', `${d.recipient} got a re-delivery with its original's seq`, [d.seq]);
    }
    if (attempt.seq !== undefined && attempt.seq !== original) {
      this.#add(
        'dead-letter',
        `${d.recipient} got a re-delivery of ${d.key} naming seq ${original}; the event is seq ${attempt.seq}`,
        [d.seq, original],
      );
    }
    if (!this.#seen.has(`${d.recipient}#${original}`)) {
      this.#add(
        'dead-letter',
        `${d.recipient} got a re-delivery of seq ${original}, which it was never delivered`,
        [d.seq, original],
      );
    }
    const byOriginal = this.#inner(this.#redeliveredSeqs, d.recipient, () => new Map());
    const seqs = byOriginal.get(original);
    if (seqs === undefined) this.#mapSet(byOriginal, original, [d.seq]);
    else if (!seqs.includes(d.seq)) {
      seqs.push(d.seq);
      this.#journal?.push(() => seqs.pop());
    }
  }

  // Every change to the collections goes through these, so that trial() can undo it.

  #setAdd<T>(set: Set<T>, value: T): void {
    if (set.has(value)) return;
    set.add(value);
    this.#journal?.push(() => set.delete(value));
  }

  /** The collection under `key` of `map`, added (journaled) when missing. */
  #inner<V>(map: Map<string, V>, key: string, make: () => V): V {
    let inner = map.get(key);
    if (inner === undefined) {
      inner = make();
      this.#mapSet(map, key, inner);
    }
    return inner;
  }

  #mapSet<K, V>(map: Map<K, V>, key: K, value: V): void {
    const journal = this.#journal;
    if (journal !== null) {
      if (map.has(key)) {
        const old = map.get(key) as V;
        journal.push(() => map.set(key, old)); // set keeps the key's place in the order
      } else journal.push(() => map.delete(key));
    }
    map.set(key, value);
  }

  #assign<K extends 'emitted' | 'rejected' | 'seq'>(
    attempt: Attempt,
    field: K,
    value: Attempt[K],
  ): void {
    if (this.#journal !== null) {
      const old = attempt[field];
      this.#journal.push(() => {
        attempt[field] = old;
      });
    }
    attempt[field] = value;
  }

  /** SPEC 4.1: every emit that returned reached and was confirmed by each intended recipient. */
  #noLoss(add: Add): void {
    for (const attempt of this.#attempts.values()) {
      if (!attempt.emitted) continue;
      for (let r = 0; r < attempt.intended.length; r++) {
        const recipient = attempt.intended[r] as string;
        const seq = attempt.seq;
        if (seq !== undefined && this.#deadLettered.get(recipient)?.has(seq) === true) {
          // owed as a dead letter: only a confirmed re-delivery settles it
          const redelivered = this.#redeliveredSeqs.get(recipient)?.get(seq);
          if (redelivered !== undefined && this.#confirmedAny(recipient, redelivered)) continue;
          const what = redelivered === undefined ? 'never re-delivered to' : 'never confirmed by';
          add('no-loss', `${attempt.key} (seq ${seq}) dead-lettered, ${what} ${recipient}`, [seq]);
          continue;
        }
        const seqs = this.#seqsByPair.get(recipient)?.get(attempt.key);
        if (seqs !== undefined && this.#confirmedAny(recipient, seqs)) continue;
        const sequences = seq === undefined ? [] : [seq];
        const what = seqs === undefined ? 'never reached' : 'never confirmed by';
        add('no-loss', `${attempt.key} (seq ${seq ?? '?'}) ${what} ${recipient}`, sequences);
      }
    }
    const last = this.#last;
    if (last?.kind !== 'quiescent') add('no-loss', 'the history does not end quiescent');
    else if (!last.idle)
      add('no-loss', `the final boot did not quiesce: ${last.pending} events pending`);
  }

  #confirmedAny(recipient: string, seqs: readonly number[]): boolean {
    const confirmed = this.#confirmed.get(recipient);
    if (confirmed === undefined) return false;
    for (let i = 0; i < seqs.length; i++) if (confirmed.has(seqs[i] as number)) return true;
    return false;
  }

  /** SPEC 4.7: every emit returned, was rejected with a typed error, or was cut short. */
  #noSilentDrop(add: Add): void {
    const byEpoch = new Map<number, Attempt[]>();
    for (const attempt of this.#attempts.values()) {
      const list = byEpoch.get(attempt.epoch);
      if (list === undefined) byEpoch.set(attempt.epoch, [attempt]);
      else list.push(attempt);
    }
    for (const [epoch, counted] of this.#countersByEpoch) {
      const cut = this.#cutEpochs.has(epoch);
      const epochAttempts = (byEpoch.get(epoch) ?? []).sort((a, b) => a.index - b.index);
      let rejected = 0;
      epochAttempts.forEach((attempt, i) => {
        if (attempt.rejected) rejected++;
        const last = i === epochAttempts.length - 1;
        if (!attempt.emitted && !attempt.rejected && !(cut && (last || attempt.grouped === true))) {
          add('no-silent-drop', `emit ${attempt.key} neither returned nor was rejected`);
        }
      });
      if (counted >= 0 && counted !== rejected) {
        add(
          'no-silent-drop',
          `boot ${epoch}: ${rejected} emits rejected, the node counted ${counted}`,
        );
      }
    }
  }
}

type Add = (invariant: Invariant, message: string, sequences?: number[]) => void;

function adder(findings: Finding[]): Add {
  return (invariant, message, sequences) => {
    findings.push(
      sequences === undefined ? { invariant, message } : { invariant, message, sequences },
    );
  };
}

/** SPEC 4.5: seqs of later boots are larger than every seq of earlier boots. */
function checkSeqs(attempts: Map<string, Attempt>, add: Add): void {
  let previousMax = 0;
  let epochMax = 0;
  let epoch = 0;
  const byEpoch = [...attempts.values()]
    .filter((a) => a.seq !== undefined)
    .sort((a, b) => a.index - b.index);
  for (const attempt of byEpoch) {
    if (attempt.epoch !== epoch) {
      previousMax = Math.max(previousMax, epochMax);
      epochMax = 0;
      epoch = attempt.epoch;
    }
    const seq = attempt.seq as number;
    if (seq <= previousMax) {
      add(
        'unique-identity',
        `seq ${seq} of boot ${attempt.epoch} is not above an earlier boot's seqs`,
        [seq],
      );
    }
    epochMax = Math.max(epochMax, seq);
  }
}
