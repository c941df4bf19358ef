/**
 * Event pools [120, 130]: the pre-allocated slots an event is recorded in [212]. The boot pool
 * is the boot FIFO's slots (used while the node initialises); the runtime pool is the runtime
 * FIFO's slots. Nothing is allocated per event: a pool only decides whether a slot may be taken.
 *
 * Severity reservation: the last `urgentReserve` slots of each pool are usable only by `err`
 * or worse, so a flood of `info` can never make an urgent event fail. A refusal is counted
 * (`rejected`) and reported to the producer as QueueFull (SPEC 1: never a silent drop).
 */
import { urgentReserveDivisor, urgentSeverityMax } from '../constants.js';
import type { PersistentFifo } from '../fifo/fifo.js';

export type PoolName = 'boot' | 'runtime';

/** Slots only err-or-worse may use: one eighth, at least one once the pool has two slots. */
export function urgentReserveFor(slotCount: number): number {
  if (slotCount < 2) return 0;
  return Math.max(1, Math.floor(slotCount / urgentReserveDivisor));
}

export class EventPool {
  readonly name: PoolName;
  readonly fifo: PersistentFifo;
  readonly capacity: number;
  readonly urgentReserve: number;
  /** Events refused for lack of a slot (SPEC 4.7). */
  rejected = 0;
  /** Events refused because only the urgent reserve was left. */
  rejectedByReserve = 0;

  constructor(name: PoolName, fifo: PersistentFifo) {
    this.name = name;
    this.fifo = fifo;
    this.capacity = fifo.slotCount;
    this.urgentReserve = urgentReserveFor(fifo.slotCount);
  }

  /**
   * Slots taken: reserved or published and not yet retired durably (the FIFO's free() holds the
   * durable-head rule: a slot is reused only once the durable head is past it).
   */
  used(): number {
    return this.capacity - this.fifo.free();
  }

  /** True if an event of this severity level may take a slot now. */
  fits(level: number): boolean {
    const used = this.capacity - this.fifo.free();
    return (
      used < this.capacity - this.urgentReserve ||
      (level <= urgentSeverityMax && used < this.capacity)
    );
  }

  /** Counts a refusal: the caller found no slot (fits() false) for a producer's emit. */
  refuse(): void {
    this.rejected++;
    if (this.used() < this.capacity) this.rejectedByReserve++;
  }
}

/**
 * The indication queue [150] has one entry per persistent slot of every FIFO it mirrors, so it
 * can never fill before the FIFOs do:
 *     boot FIFO slots       (boot pool [130])
 *   + runtime FIFO slots    (runtime pool [120])
 *   + partner FIFO slots    (an HA partner's mirrored events [193]; none yet)
 */
export function indicationQueueCapacity(fifos: readonly PersistentFifo[]): number {
  let capacity = 0;
  for (const fifo of fifos) capacity += fifo.slotCount;
  return capacity;
}
