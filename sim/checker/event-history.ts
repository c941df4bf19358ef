/**
 * What the event workloads tell the SPEC 4 checker: one list of marks per stage (the workload,
 * then each recovery), each list cut where that stage's power cut fell. Marks are observations
 * a producer or recipient could make from outside the node: an emit returned, a delivery
 * arrived, a confirmation was accepted, a drain pass returned.
 */

/** Who should receive what: the model of one recipient's subscription (SPEC 1 [172]). */
export interface RecipientModel {
  name: string;
  prefixes: readonly string[];
  /** Deliver events of this level or lower (0 emerg .. 7 debug). */
  severityMax: number;
}

export type EventMark =
  /** `emit` is about to be called with this content. */
  | { k: 'attempt'; source: string; type: string; level: number; details: string }
  /** `emit` returned `seq`: the event is acknowledged (SPEC 4.1). */
  | {
      k: 'emit';
      seq: number;
      source: string;
      type: string;
      level: number;
      details: string;
      fifo: number;
      position: number;
    }
  /** `emit` threw QueueFull (SPEC 4.7). */
  | { k: 'rejected'; source: string; type: string; details: string }
  /** A handler ran. */
  | {
      k: 'deliver';
      r: string;
      seq: number;
      attempt: number;
      replayed: boolean;
      source: string;
      type: string;
      details: string;
    }
  /** A recipient calls `confirm(seq)`: it has the event (SPEC 4.1 counts this). */
  | { k: 'confirm'; r: string; seq: number }
  /** `confirm(seq)` returned `ok` (false: the node was not awaiting it). */
  | { k: 'confirmed'; r: string; seq: number; ok: boolean }
  /** A drain pass returned: every confirmation accepted before it is durable; heads as persisted. */
  | { k: 'drained'; heads: number[] }
  /** Boot returned: what recovery found. */
  | { k: 'booted'; discarded: number; replayed: number };

export interface EventStage {
  /** 'workload', 'recovery 1', ... */
  name: string;
  marks: readonly EventMark[];
  /** The stage ran to its end (the final recovery); otherwise a power cut interrupted it. */
  complete: boolean;
}

export interface EventHistory {
  stages: EventStage[];
  recipients: readonly RecipientModel[];
  /** The final recovery reached quiescence: nothing left in the indication queue. */
  idle: boolean;
  /** QueueFull rejections the final node counted (SPEC 4.7: the count is visible). */
  rejectedCounted: number;
  /** Media faults were injected: records may be lost (but never delivered as garbage). */
  mediaFaults: boolean;
}

/** SPEC 1 [254]-style filtering, as the model sees it. */
export function intends(recipient: RecipientModel, type: string, level: number): boolean {
  if (level > recipient.severityMax) return false;
  return recipient.prefixes.some(
    (prefix) =>
      prefix === '' ||
      type === prefix ||
      type.startsWith(prefix.endsWith('.') ? prefix : `${prefix}.`),
  );
}
