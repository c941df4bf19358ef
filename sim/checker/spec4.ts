/**
 * The SPEC section 4 checker for the event system, over an `EventHistory` (event-history.ts):
 * the marks of the workload and of every recovery, each cut at its power cut. Each function
 * below checks one invariant and returns findings naming it, with the sequence numbers
 * involved. The model is deliberately simpler than the system: subscriptions by prefix and
 * severity, and the order in which a producer emitted.
 */
import type { Finding } from '../subject.js';
import {
  intends,
  type EventHistory,
  type EventMark,
  type RecipientModel,
} from './event-history.js';

type Emit = Extract<EventMark, { k: 'emit' }>;
type Attempt = Extract<EventMark, { k: 'attempt' }>;
type Delivery = Extract<EventMark, { k: 'deliver' }> & { stage: number };

export const invariants = {
  loss: '4.1 no loss',
  garbage: '4.2 no garbage',
  zombie: '4.3 no zombies',
  order: '4.4 order',
  identity: '4.5 unique identity',
  drop: '4.7 no silent drop',
  complete: 'published records are complete',
  quiescent: 'recovery reaches quiescence',
} as const;

/** Findings are capped per invariant: one broken state can break thousands of pairs. */
const findingsPerInvariantMax = 3;

export interface Spec4Counts {
  /** Deliveries of an event to a recipient that had already had it in an earlier stage. */
  duplicates: number;
}

export function checkEventHistory(history: EventHistory, counts?: Spec4Counts): Finding[] {
  const emits = emitsBySeq(history);
  const deliveries = history.stages.flatMap((stage, index) =>
    stage.marks
      .filter((mark): mark is Extract<EventMark, { k: 'deliver' }> => mark.k === 'deliver')
      .map((mark) => ({ ...mark, stage: index })),
  );
  const findings = [
    ...uniqueSeqs(history),
    ...noLoss(history, emits.acknowledged),
    ...noGarbage(history, emits, deliveries),
    ...noZombies(history, emits.acknowledged, deliveries),
    ...order(history),
    ...duplicates(history, deliveries, counts),
    ...noSilentDrop(history),
    ...recordsComplete(history),
  ];
  return capPerInvariant(findings);
}

interface Emits {
  acknowledged: Map<number, Emit>;
  /** Emits that were under way when their stage's power cut fell (no `emit` mark followed). */
  inFlight: Attempt[];
}

function emitsBySeq(history: EventHistory): Emits {
  const acknowledged = new Map<number, Emit>();
  const inFlight: Attempt[] = [];
  for (const stage of history.stages) {
    let open: Attempt | undefined;
    for (const mark of stage.marks) {
      if (mark.k === 'attempt') open = mark;
      else if (mark.k === 'emit' || mark.k === 'rejected') open = undefined;
      if (mark.k === 'emit') acknowledged.set(mark.seq, mark);
    }
    if (open !== undefined && !stage.complete) inFlight.push(open);
  }
  return { acknowledged, inFlight };
}

/** 4.5: no two acknowledged events share a sequence number, across reboots. */
function uniqueSeqs(history: EventHistory): Finding[] {
  const seen = new Map<number, string>();
  const findings: Finding[] = [];
  for (const stage of history.stages) {
    for (const mark of stage.marks) {
      if (mark.k !== 'emit') continue;
      const before = seen.get(mark.seq);
      if (before !== undefined) {
        findings.push({
          invariant: invariants.identity,
          message: `seq ${mark.seq} was issued twice (in the ${before} and the ${stage.name})`,
          sequences: [mark.seq],
        });
      }
      seen.set(mark.seq, stage.name);
    }
  }
  return findings;
}

/** 4.1: every acknowledged event reaches each intended recipient and is confirmed by each. */
function noLoss(history: EventHistory, acknowledged: Map<number, Emit>): Finding[] {
  const findings: Finding[] = [];
  if (!history.idle) {
    findings.push({
      invariant: invariants.quiescent,
      message: 'the final recovery did not become idle',
    });
  }
  if (history.mediaFaults) return findings; // a flipped record may be lost; never delivered
  // A confirmation the recipient sent counts, unless the node answered that it was not
  // awaiting it (then an accepted one must exist elsewhere).
  const confirmed = new Set<string>();
  for (const stage of history.stages) {
    const sent: string[] = [];
    for (const mark of stage.marks) {
      if (mark.k === 'confirm') sent.push(`${mark.r}#${mark.seq}`);
      if (mark.k === 'confirmed' && !mark.ok) sent.pop();
    }
    for (const key of sent) confirmed.add(key);
  }
  for (const emit of acknowledged.values()) {
    for (const recipient of history.recipients) {
      if (
        !intends(recipient, emit.type, emit.level) ||
        confirmed.has(`${recipient.name}#${emit.seq}`)
      )
        continue;
      findings.push({
        invariant: invariants.loss,
        message: `event ${emit.seq} (${emit.type}) was acknowledged but ${recipient.name} never confirmed it`,
        sequences: [emit.seq],
      });
    }
  }
  return findings;
}

/** 4.2: only emitted events are delivered, intact, and only to their intended recipients. */
function noGarbage(history: EventHistory, emits: Emits, deliveries: Delivery[]): Finding[] {
  const findings: Finding[] = [];
  const models = new Map(history.recipients.map((recipient) => [recipient.name, recipient]));
  for (const delivery of deliveries) {
    if (delivery.source === 'nvrelay') {
      if (!delivery.type.startsWith('nvrelay.'))
        findings.push(garbage(delivery, 'a system event of a foreign type'));
      continue;
    }
    const emit = emits.acknowledged.get(delivery.seq);
    const matches = (e: { source: string; type: string; details: string }): boolean =>
      e.source === delivery.source && e.type === delivery.type && e.details === delivery.details;
    const known = emit !== undefined ? matches(emit) : emits.inFlight.some(matches);
    if (!known) {
      findings.push(
        garbage(
          delivery,
          emit === undefined
            ? 'no producer emitted it'
            : 'its content differs from what was emitted',
        ),
      );
      continue;
    }
    const model = models.get(delivery.r) as RecipientModel | undefined;
    const level = emit?.level ?? emits.inFlight.find(matches)?.level ?? 0;
    if (model !== undefined && !intends(model, delivery.type, level)) {
      findings.push(garbage(delivery, `${delivery.r} did not subscribe to it`));
    }
  }
  return findings;
}

function garbage(delivery: Delivery, why: string): Finding {
  return {
    invariant: invariants.garbage,
    message: `${delivery.r} received seq ${delivery.seq} (${delivery.source} ${delivery.type}) but ${why}`,
    sequences: [delivery.seq],
  };
}

/** 4.3: an event retired durably before a cut is not delivered after it. */
function noZombies(
  history: EventHistory,
  acknowledged: Map<number, Emit>,
  deliveries: Delivery[],
): Finding[] {
  // retiredBefore[j][f]: the largest durable head of FIFO f seen in the stages before j.
  const retiredBefore: number[][] = [];
  let heads: number[] = [];
  history.stages.forEach((stage, j) => {
    retiredBefore[j] = heads.slice();
    for (const mark of stage.marks) {
      if (mark.k === 'drained') heads = mark.heads.map((head, f) => Math.max(head, heads[f] ?? 0));
    }
  });
  const findings: Finding[] = [];
  for (const delivery of deliveries) {
    const emit = acknowledged.get(delivery.seq);
    if (emit === undefined || delivery.source === 'nvrelay') continue;
    const head = retiredBefore[delivery.stage]?.[emit.fifo] ?? 0;
    if (emit.position < head) {
      findings.push({
        invariant: invariants.zombie,
        message: `seq ${delivery.seq} was retired durably (head ${head} > position ${emit.position}) before the cut, then delivered again to ${delivery.r} in the ${history.stages[delivery.stage]?.name}`,
        sequences: [delivery.seq],
      });
    }
  }
  return findings;
}

/** 4.4: per stage and recipient, each producer's events in emit order; replayed before new. */
function order(history: EventHistory): Finding[] {
  const findings: Finding[] = [];
  history.stages.forEach((stage) => {
    const lastSeq = new Map<string, number>();
    const sawNew = new Map<string, number>();
    for (const mark of stage.marks) {
      if (mark.k !== 'deliver' || mark.attempt !== 1) continue;
      const key = `${mark.r}#${mark.source}`;
      const last = lastSeq.get(key) ?? 0;
      if (mark.seq <= last) {
        findings.push({
          invariant: invariants.order,
          message: `${mark.r} received ${mark.source}'s seq ${mark.seq} after seq ${last} in the ${stage.name}`,
          sequences: [last, mark.seq],
        });
      }
      lastSeq.set(key, Math.max(last, mark.seq));
      const newSeq = sawNew.get(mark.r);
      if (!mark.replayed) sawNew.set(mark.r, newSeq ?? mark.seq);
      else if (newSeq !== undefined) {
        findings.push({
          invariant: invariants.order,
          message: `${mark.r} received replayed seq ${mark.seq} after new seq ${newSeq} in the ${stage.name}`,
          sequences: [newSeq, mark.seq],
        });
      }
    }
  });
  return findings;
}

/** 4.5: a duplicate only for a confirmation that was not yet durable at the cut; counted. */
function duplicates(
  history: EventHistory,
  deliveries: Delivery[],
  counts?: Spec4Counts,
): Finding[] {
  // durableBefore[j]: "r#seq" confirmed, and then a drain returned, in a stage before j.
  const durableBefore: Set<string>[] = [];
  const durable = new Set<string>();
  const gotBefore: Set<string>[] = [];
  const got = new Set<string>();
  history.stages.forEach((stage, j) => {
    durableBefore[j] = new Set(durable);
    gotBefore[j] = new Set(got);
    const accepted: string[] = [];
    for (const mark of stage.marks) {
      if (mark.k === 'confirmed' && mark.ok) accepted.push(`${mark.r}#${mark.seq}`);
      if (mark.k === 'drained') for (const key of accepted.splice(0)) durable.add(key);
      if (mark.k === 'deliver') got.add(`${mark.r}#${mark.seq}`);
    }
  });
  const findings: Finding[] = [];
  let duplicateCount = 0;
  for (const delivery of deliveries) {
    const key = `${delivery.r}#${delivery.seq}`;
    if (delivery.attempt !== 1 || !gotBefore[delivery.stage]?.has(key)) continue;
    duplicateCount++;
    if (durableBefore[delivery.stage]?.has(key)) {
      findings.push({
        invariant: invariants.identity,
        message: `${delivery.r} received seq ${delivery.seq} again in the ${history.stages[delivery.stage]?.name} although its confirmation was durable before the cut`,
        sequences: [delivery.seq],
      });
    }
  }
  if (counts !== undefined) counts.duplicates = duplicateCount;
  return findings;
}

/** 4.7: every rejection was reported to its producer and is counted by the node. */
function noSilentDrop(history: EventHistory): Finding[] {
  const final = history.stages[history.stages.length - 1];
  if (final === undefined) return [];
  const reported = final.marks.filter((mark) => mark.k === 'rejected').length;
  if (reported === history.rejectedCounted) return [];
  return [
    {
      invariant: invariants.drop,
      message: `${reported} emits were rejected with QueueFull but the node counts ${history.rejectedCounted}`,
    },
  ];
}

/** With power cuts alone, every published record is complete: recovery discards nothing. */
function recordsComplete(history: EventHistory): Finding[] {
  if (history.mediaFaults) return [];
  const findings: Finding[] = [];
  for (const stage of history.stages) {
    for (const mark of stage.marks) {
      if (mark.k === 'booted' && mark.discarded > 0) {
        findings.push({
          invariant: invariants.complete,
          message: `the boot in the ${stage.name} discarded ${mark.discarded} torn or corrupt published records after power cuts alone`,
        });
      }
    }
  }
  return findings;
}

function capPerInvariant(findings: Finding[]): Finding[] {
  const perInvariant = new Map<string, number>();
  return findings.filter((finding) => {
    const seen = perInvariant.get(finding.invariant) ?? 0;
    perInvariant.set(finding.invariant, seen + 1);
    return seen < findingsPerInvariantMax;
  });
}
