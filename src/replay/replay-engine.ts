/**
 * The event replay engine [190, 230-240]. At boot it reads the NVRAM [231]: recovers each FIFO
 * in order (boot FIFO [191], runtime FIFO [192], then a failed partner's mirror [193], a hook
 * for now), discards torn or corrupt records (never delivered; reported as events), and queues
 * every unhandled event for the recipients that still owe a confirmation, before any new event
 * can be queued. Replayed events are then treated exactly as new ones.
 *
 * Order: within a FIFO, position order. Across FIFOs, a merge by seq; seqs increase in emit
 * order across reboots, so the merge is boot events then runtime events [191, 192] whenever
 * that is emit order, and emit order (SPEC 4.4) after a crash during an earlier replay too.
 *
 * Restartable (SPEC 4.6): recovery reads; the only writes of a boot are the seq lease (a larger
 * value is always safe), salvaged FIFO pointers (deterministic in the slots), and normal
 * appends, confirmations and head moves, each with its usual persist order.
 */
import { seqMax } from '../constants.js';
import { SlotVerdict, type FifoPointers, type PersistentFifo } from '../fifo/fifo.js';
import type { RecoverableFifo } from '../fifo/recoverable-fifo.js';
import {
  entryFlagReplayed,
  entryFlagUnexamined,
  type EventIndicationQueue,
} from '../engine/indication-queue.js';
import type { NameTable } from '../engine/subscriptions.js';
import { assert } from '../events/assert.js';
import { getU64 } from '../events/record.js';
import type { SeverityName } from '../events/severity.js';

/** One published slot found by recovery, in replay order, once examined. */
export interface ReplayItem {
  fifoIndex: number;
  position: number;
  /** 0 for a discarded slot. */
  seq: number;
  /** SlotVerdict. */
  verdict: number;
  /** Every intended recipient's confirmation is durable: it only needs retiring. */
  handled: boolean;
}

/** What recovery found: the published range of every FIFO, merged into replay order. */
export interface ReplayPlan {
  recoveries: FifoPointers[];
  /** Replay order: entry k is position `positions[k]` of FIFO `fifoIndexes[k]`. */
  fifoIndexes: Uint8Array;
  positions: Float64Array;
  /** Published events found (some may turn out handled, or damaged: see examine). */
  published: number;
  /**
   * Every published slot, examined now (tools: inspect, dump, check). Reading it examines all
   * records at once; the engine's lazy examination then reuses the verdicts.
   */
  readonly items: ReplayItem[];
}

/** An event recovery raises about what it found (emitted through the boot pool at start). */
export interface RecoveryEvent {
  type: string;
  severity: SeverityName;
  details: Record<string, unknown>;
}

export interface ReplayContext {
  readonly fifos: readonly PersistentFifo[];
  readonly queue: EventIndicationQueue;
  readonly types: NameTable;
  readonly sources: NameTable;
}

export type ReplayPhase = 'boot' | 'started';

export class ReplayEngine {
  readonly context: ReplayContext;
  plan: ReplayPlan | null = null;
  #admitted = false;

  constructor(context: ReplayContext) {
    this.context = context;
  }

  /**
   * Recovers every FIFO [231]: descriptors and pointers (rows D1-D3), and the replay order.
   * The records themselves are examined later, in this order, as the engine reaches them
   * (rows R1, R2), so a boot costs O(1) reads per FIFO plus O(1) per published event only
   * when two FIFOs must be merged.
   */
  recover(): ReplayPlan {
    const recoveries = this.replaySources().map((fifo) => fifo.recoverPointers());
    this.plan = this.order(recoveries);
    return this.plan;
  }

  /** The FIFOs replayed, in order: boot [191], runtime [192], then partners' mirrors [193]. */
  protected replaySources(): PersistentFifo[] {
    return [...this.context.fifos.slice(0, 2), ...this.partnerFifos()];
  }

  /**
   * [193] A failed HA partner's mirrored FIFOs, only if that partner is not operational. They
   * must also be in the node's FIFO list (the indication queue names FIFOs by index there).
   */
  protected partnerFifos(): PersistentFifo[] {
    return [];
  }

  /**
   * Merges the FIFOs' published ranges by seq, keeping each FIFO's own order (ties: the
   * earlier FIFO first). Seqs are read unchecked here (the record is examined later), so each
   * FIFO's keys are made non-decreasing: a damaged seq cannot reorder a FIFO. With one
   * non-empty FIFO nothing is read.
   */
  protected order(recoveries: FifoPointers[]): ReplayPlan {
    const published = recoveries.reduce((total, r) => total + (r.tail - r.head), 0);
    const fifoIndexes = new Uint8Array(published);
    const positions = new Float64Array(published);
    const nonEmpty = recoveries.filter((r) => r.tail > r.head);
    if (nonEmpty.length === 1) {
      const only = nonEmpty[0] as FifoPointers;
      fifoIndexes.fill(this.fifoIndex(only.fifo));
      for (let k = 0; k < published; k++) positions[k] = only.head + k;
      return this.planOf(recoveries, fifoIndexes, positions, published);
    }
    const keys = nonEmpty.length > 1 ? nonEmpty.map((r) => this.mergeKeys(r)) : [];
    const next = nonEmpty.map((r) => r.head);
    for (let k = 0; k < published; k++) {
      let pick = -1;
      for (let f = 0; f < nonEmpty.length; f++) {
        const r = nonEmpty[f] as FifoPointers;
        if ((next[f] as number) >= r.tail) continue;
        if (pick < 0 || this.#key(keys, f, next, nonEmpty) < this.#key(keys, pick, next, nonEmpty))
          pick = f;
      }
      const chosen = nonEmpty[pick] as FifoPointers;
      fifoIndexes[k] = this.fifoIndex(chosen.fifo);
      positions[k] = next[pick] as number;
      next[pick] = (next[pick] as number) + 1;
    }
    return this.planOf(recoveries, fifoIndexes, positions, published);
  }

  protected planOf(
    recoveries: FifoPointers[],
    fifoIndexes: Uint8Array,
    positions: Float64Array,
    published: number,
  ): ReplayPlan {
    const fifos = this.context.fifos;
    let items: ReplayItem[] | null = null;
    const plan = { recoveries, fifoIndexes, positions, published } as ReplayPlan;
    Object.defineProperty(plan, 'items', {
      enumerable: true,
      get: (): ReplayItem[] => (items ??= examinedItems(fifos, recoveries, fifoIndexes, positions)),
    });
    return plan;
  }

  #key(keys: Float64Array[], f: number, next: number[], nonEmpty: FifoPointers[]): number {
    const list = keys[f];
    if (list === undefined) return 0;
    return list[(next[f] as number) - (nonEmpty[f] as FifoPointers).head] as number;
  }

  /** Non-decreasing seq keys of one FIFO's published records (unchecked loads). */
  protected mergeKeys(recovery: FifoPointers): Float64Array {
    const fifo = recovery.fifo;
    const keys = new Float64Array(recovery.tail - recovery.head);
    let key = 0;
    for (let position = recovery.head; position < recovery.tail; position++) {
      const seq = fifo.device.loadU64(fifo.slotsOffset + fifo.slotBase(position) + 24);
      if (Number.isSafeInteger(seq) && seq <= seqMax && seq > key) key = seq;
      keys[position - recovery.head] = key;
    }
    return keys;
  }

  protected fifoIndex(fifo: RecoverableFifo): number {
    const index = (this.context.fifos as readonly RecoverableFifo[]).indexOf(fifo);
    assert(index >= 0, 'a replayed FIFO must be in the node FIFO list');
    return index;
  }

  /**
   * The largest plausible seq among the published records, read unchecked: only for a
   * damaged lease word (row L1), so it scans.
   */
  seqHighest(): number {
    let highest = 0;
    for (const recovery of this.plan?.recoveries ?? []) {
      const keys = this.mergeKeys(recovery);
      if (keys.length > 0) highest = Math.max(highest, keys[keys.length - 1] as number);
    }
    return highest;
  }

  /**
   * Where replayed events enter the indication queue relative to new ones: the one decision
   * behind "replayed events are delivered before any new event" [230-240]. The default queues
   * them at boot, before the node accepts any emit.
   */
  protected replayBeforeNew(): boolean {
    return true;
  }

  /** Called at boot and again at start; queues the replay at the point replayBeforeNew picks. */
  admit(phase: ReplayPhase): number {
    if (this.#admitted || this.plan === null) return 0;
    if ((phase === 'boot') !== this.replayBeforeNew()) return 0;
    this.#admitted = true;
    const { fifoIndexes, positions, published } = this.plan;
    // not examined yet: no seq, no recipients until the engine reaches it (load)
    this.context.queue.pushUnexamined(
      fifoIndexes,
      positions,
      published,
      entryFlagReplayed | entryFlagUnexamined,
    );
    return published;
  }

  /** The events recovery raises at boot (rows D3-D5); discards (R2) are raised as found. */
  recoveryEvents(): RecoveryEvent[] {
    const events: RecoveryEvent[] = [];
    for (const recovery of this.plan?.recoveries ?? []) {
      for (const torn of recovery.torn) {
        events.push({
          type: 'nvrelay.record.torn',
          severity: 'warning',
          details: { section: recovery.fifo.name, ...torn },
        });
      }
      if (recovery.salvaged === null) continue;
      events.push({
        type: 'nvrelay.fifo.salvaged',
        severity: 'crit',
        details: {
          section: recovery.fifo.name,
          head: recovery.salvaged.head,
          tail: recovery.salvaged.tail,
          damagedWords: recovery.damagedWords,
        },
      });
    }
    return events;
  }
}

/** Examines every recovered record and lists them in replay order (allocates; tools only). */
function examinedItems(
  fifos: readonly PersistentFifo[],
  recoveries: FifoPointers[],
  fifoIndexes: Uint8Array,
  positions: Float64Array,
): ReplayItem[] {
  for (const recovery of recoveries) recovery.fifo.examineAll();
  return Array.from(positions, (position, k) => {
    const fifoIndex = fifoIndexes[k] as number;
    const fifo = fifos[fifoIndex] as PersistentFifo;
    const verdict = fifo.examine(position);
    const base = fifo.slotBase(position);
    const view = fifo.shadowView;
    const valid = verdict === SlotVerdict.valid;
    const intendedLo = view.getInt32(base + 40, true);
    const intendedHi = view.getInt32(base + 44, true);
    const handled =
      valid &&
      (view.getInt32(base, true) & intendedLo) === intendedLo &&
      (view.getInt32(base + 4, true) & intendedHi) === intendedHi;
    return { fifoIndex, position, seq: valid ? getU64(view, base + 24) : 0, verdict, handled };
  });
}
