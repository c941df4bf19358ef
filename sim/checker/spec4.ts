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
    }
  /** confirm(seq) is about to be called (a cut may interrupt it after it took effect). */
  | { kind: 'confirming'; epoch: number; recipient: string; seq: number }
  /** confirm(seq) returned true. */
  | { kind: 'confirmed'; epoch: number; recipient: string; seq: number }
  /** A drain returned: every confirmation observed before it in this epoch is durable. */
  | { kind: 'durable'; epoch: number }
  /** The node's visible count of rejected emits this epoch (SPEC 4.7). */
  | { kind: 'counters'; epoch: number; rejected: number }
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
  | 'persist-order';

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
  const findings: Finding[] = [];
  const add = (invariant: Invariant, message: string, sequences?: number[]): void => {
    findings.push(
      sequences === undefined ? { invariant, message } : { invariant, message, sequences },
    );
  };
  const attempts = collectAttempts(history, add);
  const deliveries = history.filter((o): o is Delivery => o.kind === 'delivered');
  const counts = checkDeliveries(deliveries, attempts, add);
  if (counts.system > 0 && options.mediaFaults !== true) {
    const types = [
      ...new Set(deliveries.filter((d) => d.source === systemSource).map((d) => d.type)),
    ];
    add('persist-order', `recovery reported ${types.join(', ')} after power cuts alone`);
  }
  checkSeqs(attempts, add);
  checkNoLoss(history, attempts, deliveries, add);
  checkNoZombies(history, deliveries, add);
  checkOrder(deliveries, attempts, add);
  checkNoSilentDrop(history, attempts, add);
  return {
    findings,
    duplicates: counts.duplicates,
    deliveries: deliveries.length,
    systemEvents: counts.system,
    emitted: countEmitted(attempts),
  };
}

type Add = (invariant: Invariant, message: string, sequences?: number[]) => void;

function countEmitted(attempts: Map<string, Attempt>): number {
  let emitted = 0;
  for (const attempt of attempts.values()) if (attempt.emitted) emitted++;
  return emitted;
}

function collectAttempts(history: readonly Observation[], add: Add): Map<string, Attempt> {
  // Plain loops: the crash lab checks thousands of histories per second.
  const attempts = new Map<string, Attempt>();
  for (let index = 0; index < history.length; index++) {
    const o = history[index] as Observation;
    if (o.kind === 'attempt') {
      if (attempts.has(o.key)) add('unique-identity', `two emits share the content key ${o.key}`);
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
      attempts.set(o.key, attempt);
    } else if (o.kind === 'emitted' || o.kind === 'rejected') {
      const attempt = attempts.get(o.key);
      if (attempt === undefined) {
        add('no-silent-drop', `outcome for unknown emit ${o.key}`);
        continue;
      }
      if (o.kind === 'rejected') attempt.rejected = true;
      else {
        attempt.emitted = true;
        if (o.seq !== undefined) attempt.seq = o.seq;
      }
    }
  }
  return attempts;
}

/** SPEC 4.2 (no garbage) and 4.5 (one seq per event); counts duplicates. */
function checkDeliveries(
  deliveries: readonly Delivery[],
  attempts: Map<string, Attempt>,
  add: Add,
): { duplicates: number; system: number } {
  const seen = new Set<string>();
  const keyOfSeq = new Map<number, string>();
  let duplicates = 0;
  let system = 0;
  for (const d of deliveries) {
    const pair = `${d.recipient}#${d.seq}`;
    if (seen.has(pair)) duplicates++;
    seen.add(pair);
    const identity = d.source === systemSource ? `${systemSource}/${d.type}/${d.seq}` : d.key;
    const other = keyOfSeq.get(d.seq);
    if (other !== undefined && other !== identity) {
      add('unique-identity', `seq ${d.seq} names two events (${other}, ${identity})`, [d.seq]);
    }
    keyOfSeq.set(d.seq, identity);
    if (d.source === systemSource) {
      system++;
      if (!d.type.startsWith(`${systemSource}.`))
        add('no-garbage', `system source with type ${d.type}`, [d.seq]);
      continue;
    }
    const attempt = attempts.get(d.key);
    if (attempt === undefined) {
      add('no-garbage', `${d.recipient} got seq ${d.seq} (${d.key}) that no producer emitted`, [
        d.seq,
      ]);
      continue;
    }
    if (attempt.type !== d.type || attempt.severity !== d.severity || attempt.source !== d.source) {
      add('no-garbage', `${d.recipient} got seq ${d.seq} with fields that differ from its emit`, [
        d.seq,
      ]);
    }
    if (!attempt.intended.includes(d.recipient)) {
      add('no-garbage', `${d.recipient} got seq ${d.seq}, not intended for it`, [d.seq]);
    }
    if (attempt.seq === undefined) attempt.seq = d.seq;
    else if (attempt.seq !== d.seq) {
      add('unique-identity', `event ${d.key} delivered as seq ${d.seq} and as ${attempt.seq}`, [
        d.seq,
        attempt.seq,
      ]);
    }
  }
  return { duplicates, system };
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

/** SPEC 4.1: every emit that returned reached and was confirmed by each intended recipient. */
function checkNoLoss(
  history: readonly Observation[],
  attempts: Map<string, Attempt>,
  deliveries: readonly Delivery[],
  add: Add,
): void {
  const seqsByPair = new Map<string, number[]>();
  for (const d of deliveries) {
    const pair = `${d.recipient}#${d.key}`;
    const seqs = seqsByPair.get(pair);
    if (seqs === undefined) seqsByPair.set(pair, [d.seq]);
    else if (!seqs.includes(d.seq)) seqs.push(d.seq);
  }
  // a confirm call cut short may still have taken effect: it counts as the recipient's confirmation
  const confirmed = new Set<string>();
  for (const o of history) {
    if (o.kind === 'confirmed' || o.kind === 'confirming') confirmed.add(`${o.recipient}#${o.seq}`);
  }
  for (const attempt of attempts.values()) {
    if (!attempt.emitted) continue;
    for (const recipient of attempt.intended) {
      const pair = `${recipient}#${attempt.key}`;
      const seq = attempt.seq;
      const seqs = seqsByPair.get(pair);
      if (seqs === undefined) {
        add(
          'no-loss',
          `${attempt.key} (seq ${seq ?? '?'}) never reached ${recipient}`,
          seq === undefined ? [] : [seq],
        );
      } else if (!seqs.some((s) => confirmed.has(`${recipient}#${s}`))) {
        add(
          'no-loss',
          `${attempt.key} (seq ${seq ?? '?'}) never confirmed by ${recipient}`,
          seq === undefined ? [] : [seq],
        );
      }
    }
  }
  const last = history.at(-1);
  if (last?.kind !== 'quiescent') add('no-loss', 'the history does not end quiescent');
  else if (!last.idle)
    add('no-loss', `the final boot did not quiesce: ${last.pending} events pending`);
}

/** SPEC 4.3: a confirmation durable before a cut means no delivery of that event after it. */
function checkNoZombies(
  history: readonly Observation[],
  deliveries: readonly Delivery[],
  add: Add,
): void {
  const durableAt = new Map<string, number>(); // recipient#seq -> epoch it became durable in
  let pending: { recipient: string; seq: number; epoch: number }[] = [];
  for (const o of history) {
    if (o.kind === 'confirmed') pending.push(o);
    else if (o.kind === 'durable') {
      for (const c of pending)
        if (c.epoch === o.epoch) durableAt.set(`${c.recipient}#${c.seq}`, c.epoch);
      pending = [];
    } else if (o.kind === 'boot') pending = [];
  }
  for (const d of deliveries) {
    const epoch = durableAt.get(`${d.recipient}#${d.seq}`);
    if (epoch !== undefined && d.epoch > epoch) {
      add(
        'no-zombies',
        `${d.recipient} got seq ${d.seq} in boot ${d.epoch}; its confirmation was durable in boot ${epoch}`,
        [d.seq],
      );
    }
  }
}

/**
 * SPEC 4.4: per recipient, each producer's events are first seen in emit order; and in every
 * boot after the first, replayed events are first seen before any event of that boot.
 */
function checkOrder(
  deliveries: readonly Delivery[],
  attempts: Map<string, Attempt>,
  add: Add,
): void {
  const seenEver = new Set<string>(); // recipient#seq
  const seenInEpoch = new Set<string>(); // recipient#seq@epoch
  const newSeen = new Set<string>(); // recipient@epoch: a new event was seen
  const lastByProducer = new Map<string, number>();
  for (const d of deliveries) {
    const pair = `${d.recipient}#${d.seq}`;
    const firstInEpoch = !seenInEpoch.has(`${pair}@${d.epoch}`);
    seenInEpoch.add(`${pair}@${d.epoch}`);
    const attempt = attempts.get(d.key);
    // a producer event is a replay if emitted in an earlier boot; a system event by its flag
    const replay = attempt !== undefined ? attempt.epoch < d.epoch : d.replayed;
    const marker = `${d.recipient}@${d.epoch}`;
    if (replay && firstInEpoch && newSeen.has(marker)) {
      add(
        'order',
        `${d.recipient} got replayed seq ${d.seq} after a new event of boot ${d.epoch}`,
        [d.seq],
      );
    }
    if (!replay && firstInEpoch) newSeen.add(marker);
    if (seenEver.has(pair)) continue;
    seenEver.add(pair);
    if (d.source === systemSource) continue;
    const producer = `${d.recipient}#${d.source}`;
    const last = lastByProducer.get(producer) ?? 0;
    if (d.seq < last) {
      add('order', `${d.recipient} first got ${d.source}'s seq ${d.seq} after its seq ${last}`, [
        d.seq,
        last,
      ]);
    }
    lastByProducer.set(producer, Math.max(last, d.seq));
  }
}

/** SPEC 4.7: every emit returned, was rejected with a typed error, or was cut short. */
function checkNoSilentDrop(
  history: readonly Observation[],
  attempts: Map<string, Attempt>,
  add: Add,
): void {
  // One pass: per epoch, whether it was cut and its last counters; attempts grouped by epoch.
  const cutEpochs = new Set<number>();
  const countersByEpoch = new Map<number, number>();
  for (const o of history) {
    if (o.kind === 'cut') cutEpochs.add(o.epoch);
    if (o.kind === 'counters') countersByEpoch.set(o.epoch, o.rejected);
    else if (!countersByEpoch.has(o.epoch)) countersByEpoch.set(o.epoch, -1);
  }
  const byEpoch = new Map<number, Attempt[]>();
  for (const attempt of attempts.values()) {
    const list = byEpoch.get(attempt.epoch);
    if (list === undefined) byEpoch.set(attempt.epoch, [attempt]);
    else list.push(attempt);
  }
  for (const [epoch, counted] of countersByEpoch) {
    const cut = cutEpochs.has(epoch);
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
