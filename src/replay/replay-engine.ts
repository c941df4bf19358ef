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
import {
  SlotVerdict,
  slotVerdictNames,
  type FifoRecovery,
  type PersistentFifo,
} from '../fifo/fifo.js';
import { entryFlagReplayed, type EventIndicationQueue } from '../engine/indication-queue.js';
import type { NameTable } from '../engine/subscriptions.js';
import { assert } from '../events/assert.js';
import { decodeName, type NameKind } from '../events/names.js';
import { getU64, recordHeaderBytes } from '../events/record.js';
import type { SeverityName } from '../events/severity.js';

const notInterned = 0xffff;

/** One published slot found by recovery, in replay order. */
export interface ReplayItem {
  fifoIndex: number;
  position: number;
  /** 0 for a discarded slot. */
  seq: number;
  verdict: number;
  /** Every intended recipient's confirmation is durable: it only needs retiring. */
  handled: boolean;
}

export interface ReplayPlan {
  recoveries: FifoRecovery[];
  items: ReplayItem[];
  /** Largest seq found in any valid record (0 if none). */
  seqHighest: number;
  discarded: number;
  /** Valid events some intended recipient has not confirmed: these are replayed. */
  owed: number;
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

  /** Recovers every FIFO [231] and orders what must be replayed. Reads only (but see D3). */
  recover(): ReplayPlan {
    const recoveries = this.replaySources().map((fifo) => fifo.recover());
    const lists = recoveries.map((recovery) => this.itemsOf(recovery));
    const items = this.order(lists);
    let seqHighest = 0;
    let discarded = 0;
    let owed = 0;
    for (const item of items) {
      seqHighest = Math.max(seqHighest, item.seq);
      if (item.verdict !== SlotVerdict.valid) discarded++;
      else if (!item.handled) owed++;
    }
    this.plan = { recoveries, items, seqHighest, discarded, owed };
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

  protected itemsOf(recovery: FifoRecovery): ReplayItem[] {
    const fifoIndex = this.context.fifos.indexOf(recovery.fifo);
    assert(fifoIndex >= 0, 'a replayed FIFO must be in the node FIFO list');
    const items: ReplayItem[] = [];
    const view = recovery.fifo.shadowView;
    for (let position = recovery.head; position < recovery.tail; position++) {
      const verdict = recovery.verdicts[position - recovery.head] as number;
      const base = recovery.fifo.slotBase(position);
      const valid = verdict === SlotVerdict.valid;
      const handled =
        valid &&
        (view.getInt32(base, true) & view.getInt32(base + 40, true)) ===
          view.getInt32(base + 40, true) &&
        (view.getInt32(base + 4, true) & view.getInt32(base + 44, true)) ===
          view.getInt32(base + 44, true);
      items.push({
        fifoIndex,
        position,
        seq: valid ? getU64(view, base + 24) : 0,
        verdict,
        handled,
      });
    }
    return items;
  }

  /**
   * Merges the per-FIFO lists by seq, keeping each list's own order; a discarded slot (no
   * trustworthy seq) stays right after its predecessor in its FIFO.
   */
  protected order(lists: ReplayItem[][]): ReplayItem[] {
    const keyed = lists.flatMap((list, rank) => {
      let key = 0;
      return list.map((item, index) => {
        if (item.verdict === SlotVerdict.valid) key = item.seq;
        return { item, key, rank, index };
      });
    });
    keyed.sort((a, b) => a.key - b.key || a.rank - b.rank || a.index - b.index);
    return keyed.map((entry) => entry.item);
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
    for (const item of this.plan.items) this.push(item);
    return this.plan.items.length;
  }

  /** Queues one recovered slot; a discarded one with no recipients, so it only retires. */
  protected push(item: ReplayItem): void {
    const { fifos, queue } = this.context;
    const fifo = fifos[item.fifoIndex] as PersistentFifo;
    if (item.verdict !== SlotVerdict.valid) {
      queue.push(
        item.fifoIndex,
        item.position,
        0,
        0,
        0,
        0,
        0,
        notInterned,
        notInterned,
        entryFlagReplayed,
      );
      return;
    }
    const base = fifo.slotBase(item.position);
    const view = fifo.shadowView;
    const shadow = fifo.shadow;
    const sourceBytes = shadow[base + 56] as number;
    const names = base + recordHeaderBytes;
    queue.push(
      item.fifoIndex,
      item.position,
      item.seq,
      view.getInt32(base + 40, true),
      view.getInt32(base + 44, true),
      view.getInt32(base, true),
      view.getInt32(base + 4, true),
      this.intern(
        this.context.types,
        'type',
        shadow,
        names + sourceBytes,
        shadow[base + 57] as number,
      ),
      this.intern(this.context.sources, 'source', shadow, names, sourceBytes),
      entryFlagReplayed,
    );
  }

  /** Names that could not be interned (table full); their events decode them per delivery. */
  internFailures = 0;

  protected intern(
    table: NameTable,
    kind: NameKind,
    bytes: Uint8Array,
    at: number,
    length: number,
  ): number {
    const name = decodeName(kind, bytes, at, length);
    if (name === null || (table.find(name) < 0 && table.names.length >= table.max)) {
      this.internFailures++;
      return notInterned; // the view decodes it from the record instead
    }
    return table.intern(name);
  }

  /** The events recovery raises about what it found (decision table rows D3, R2). */
  recoveryEvents(): RecoveryEvent[] {
    const events: RecoveryEvent[] = [];
    for (const recovery of this.plan?.recoveries ?? []) {
      const section = recovery.fifo.name;
      if (recovery.salvaged !== null) {
        events.push({
          type: 'nvrelay.fifo.salvaged',
          severity: 'crit',
          details: { section, head: recovery.salvaged.head, tail: recovery.salvaged.tail },
        });
      }
      if (recovery.discarded === 0) continue;
      const reasons: Record<string, number> = {};
      const positions: number[] = [];
      recovery.verdicts.forEach((verdict, i) => {
        if (verdict === SlotVerdict.valid) return;
        const name = slotVerdictNames[verdict] ?? String(verdict);
        reasons[name] = (reasons[name] ?? 0) + 1;
        if (positions.length < 16) positions.push(recovery.head + i);
      });
      events.push({
        type: 'nvrelay.record.discarded',
        severity: 'err',
        details: { section, discarded: recovery.discarded, reasons, positions },
      });
    }
    return events;
  }
}
