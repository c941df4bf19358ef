/**
 * Re-sent emits (docs/PROTOCOL.md, "Re-sent emits"). A remote producer numbers its emits with
 * its own counter; the counter is stored with the record (flag 2, offset 48). An emit whose ack
 * was lost (the connection, the client or the daemon died) is sent again with the same counter,
 * and the daemon answers it with the first one's seq instead of recording it twice. The ledger
 * remembers, per producer name, the seq of each recent counter (or the promise of it, while its
 * group commit is open); at boot it is rebuilt from the records still pending. An emit recorded,
 * acknowledged on a connection that died before the ack arrived, and retired before it is sent
 * again, is not found: it is recorded again (a duplicate, only after a kill: counted by the
 * checker as such).
 */
import { decodeRecord, recordFlagProducerCounter } from '../events/record.js';
import type { Node } from '../node/node.js';

/** Counters remembered per producer: more than a client keeps outstanding (clientWindowMax). */
export const ledgerCountersMax = 4096;

interface ProducerEntry {
  /** The connection holding the name now, if any. */
  holder: object | null;
  /** Counter → seq, or the promise of it; insertion order is counter order. */
  seqs: Map<number, number | Promise<number>>;
  /** The highest counter recorded, so a new client starts above it. */
  highest: number;
}

export class ProducerLedger {
  readonly #producers = new Map<string, ProducerEntry>();

  /** Rebuilds the ledger from the records recovery found pending (reads them all once). */
  static recover(node: Node): ProducerLedger {
    const ledger = new ProducerLedger();
    for (const item of node.replay.plan?.items ?? []) {
      if (item.seq === 0) continue; // discarded
      const fifo = node.fifos[item.fifoIndex];
      if (fifo === undefined) continue;
      const record = decodeRecord(fifo.shadow, fifo.slotBase(item.position));
      if ((record.flags & recordFlagProducerCounter) === 0) continue;
      ledger.note(record.source, record.originalSeq, record.seq);
    }
    return ledger;
  }

  #entry(producer: string): ProducerEntry {
    let entry = this.#producers.get(producer);
    if (entry === undefined) {
      entry = { holder: null, seqs: new Map(), highest: 0 };
      this.#producers.set(producer, entry);
    }
    return entry;
  }

  /**
   * A connection claims a producer name (one at a time). Returns the counter its next new emit
   * takes: `resume` (a client reconnecting with its own count) or one above the highest seen.
   * Null if another connection holds it.
   */
  claim(producer: string, holder: object, resume: number): number | null {
    const entry = this.#entry(producer);
    if (entry.holder !== null && entry.holder !== holder) return null;
    entry.holder = holder;
    return resume > 0 ? resume : entry.highest + 1;
  }

  /** The connection is gone: its names are free for the next claim. */
  release(holder: object): void {
    for (const entry of this.#producers.values()) if (entry.holder === holder) entry.holder = null;
  }

  /** The seq (or its promise) a counter already got, if remembered. */
  find(producer: string, counter: number): number | Promise<number> | undefined {
    return this.#producers.get(producer)?.seqs.get(counter);
  }

  /** Remembers a counter's seq or its promise (a refused emit's promise is forgotten). */
  note(producer: string, counter: number, seq: number | Promise<number>): void {
    const entry = this.#entry(producer);
    entry.seqs.set(counter, seq);
    if (counter > entry.highest) entry.highest = counter;
    if (entry.seqs.size > ledgerCountersMax) {
      const oldest = entry.seqs.keys().next().value as number;
      entry.seqs.delete(oldest);
    }
    if (typeof seq === 'number') return;
    seq.then(
      (value) => {
        if (entry.seqs.get(counter) === seq) entry.seqs.set(counter, value);
      },
      () => {
        if (entry.seqs.get(counter) === seq) entry.seqs.delete(counter);
      },
    );
  }
}
