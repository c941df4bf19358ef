/**
 * Which upstream events this multiplexing recipient holds [252-253]: one entry per (upstream
 * node, upstream seq) it recorded and has not yet been released from. An event is released once
 * its upstream has made the confirmation durable (CONFIRMED, docs/PROTOCOL.md): from then on the
 * upstream never sends it again. Until then the mux's own record keeps the custodian's bit
 * unconfirmed, so the record itself, still pending in the FIFO, is the persistent memory that
 * the event was recorded: `recover` rebuilds the index from the records a boot found pending,
 * and an event sent again is recognised and never recorded twice, whether the cut came between
 * the record and the upstream confirmation or anywhere after.
 */
import { decodeRecord } from '../events/record.js';
import type { OriginHop } from '../events/origin.js';
import type { Node } from '../node/node.js';

/** Where an upstream event stands in this mux. */
export type HoldState =
  /** Its record is in a group commit, not durable yet. */
  | 'recording'
  /** Recorded; waiting to be confirmed upstream (custody: at once; end-to-end: once handled). */
  | 'held'
  /** Confirmed upstream; waiting for CONFIRMED. */
  | 'confirming';

export interface Holding {
  /** The upstream node (its device id) and the seq the event has there. */
  node: string;
  seq: number;
  /** The seq of this mux's record of it (0 while recording). */
  muxSeq: number;
  state: HoldState;
  /** The custodian has been delivered the record (it may confirm it). */
  delivered: boolean;
}

export function originKey(node: string, seq: number): string {
  return `${node}:${seq}`;
}

export class OriginIndex {
  readonly #holdings = new Map<string, Holding>();

  /**
   * The events a boot found pending whose custodian bit (`custodianId`) was not yet confirmed:
   * each was recorded, and its upstream may send it again.
   */
  static recover(node: Node, custodianId: number): OriginIndex {
    const index = new OriginIndex();
    const bit = 1n << BigInt(custodianId);
    for (const item of node.replay.plan?.items ?? []) {
      if (item.seq === 0) continue; // discarded (row R2)
      const fifo = node.fifos[item.fifoIndex];
      if (fifo === undefined) continue;
      const record = decodeRecord(fifo.shadow, fifo.slotBase(item.position));
      const last = record.origin?.at(-1);
      if (last === undefined || (record.confirmedMask & bit) !== 0n) continue;
      if ((record.intendedMask & bit) === 0n) continue;
      index.add(last, record.seq, 'held');
    }
    return index;
  }

  get size(): number {
    return this.#holdings.size;
  }

  find(node: string, seq: number): Holding | undefined {
    return this.#holdings.get(originKey(node, seq));
  }

  add(hop: OriginHop, muxSeq: number, state: HoldState): Holding {
    const holding: Holding = { node: hop.node, seq: hop.seq, muxSeq, state, delivered: false };
    this.#holdings.set(originKey(hop.node, hop.seq), holding);
    return holding;
  }

  /** Released (CONFIRMED arrived), or its record was refused: forgotten. */
  delete(holding: Holding): void {
    const key = originKey(holding.node, holding.seq);
    if (this.#holdings.get(key) === holding) this.#holdings.delete(key);
  }

  /** Every holding, for a link that connects (it adopts those of its node). */
  values(): IterableIterator<Holding> {
    return this.#holdings.values();
  }
}
