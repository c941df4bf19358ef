/**
 * What the metrics and the status page read from a running daemon, taken from the live objects
 * at the moment of a scrape: the node's stats, and per recipient what it is owed. One scrape
 * reads many metrics in one synchronous run; they share one reading, dropped on the next turn of
 * the event loop, so every value of a scrape describes the same instant.
 *
 * Owed: an event intended for the recipient whose bit is not set (neither confirmed nor
 * dead-lettered), counted over the indication queue. After a boot the queue holds recovered
 * entries not examined yet: their seq and masks are unknown until the engine reaches them
 * (src/engine/recovered-entry.ts), and a recipient that is away may not reach them for a long
 * time, so reading their columns as they are would show it owed nothing. They are examined
 * first, in queue order, by the engine (`DistributionEngine.examine`), as it does itself before
 * it reads an entry: each entry is examined once, by whoever reaches it first, and a damaged
 * record is reported as the engine reports it.
 */
import { entryFlagUnexamined } from '../engine/indication-queue.js';
import { recordOffsets } from '../events/record.js';
import type { PersistentFifo } from '../fifo/fifo.js';
import type { NodeStats } from '../node/node-stats.js';
import type { Daemon } from '../daemon/daemon.js';
import type { SinkRecipient } from '../sinks/sink-recipient.js';

/** How a recipient is reached: over a connection, a sink, or the multiplexer's custody. */
export type RecipientKind = 'remote' | 'sink' | 'mux';
/**
 * attached / detached: a remote recipient with or without a live connection; absent: named on
 * the device but not registered since this boot; a sink's own state otherwise.
 */
export type RecipientState = 'attached' | 'detached' | 'absent' | SinkRecipient['state'];

export interface RecipientSample {
  id: number;
  name: string;
  kind: RecipientKind;
  state: RecipientState;
  /** Events owed: intended for it and not yet confirmed (nor dead-lettered). */
  pending: number;
  inFlight: number;
  /** Emit time (ms) of the oldest event owed, or null. */
  oldestPendingTime: number | null;
  delivered: number;
  redelivered: number;
  confirmed: number;
  deadLettered: number;
  confirmsIgnored: number;
  handlerErrors: number;
}

export interface Sample {
  /** Clock reading of the sample (ms since the epoch). */
  now: number;
  stats: NodeStats;
  recipients: RecipientSample[];
  /** Recovered entries left unexamined (only on a node that is not running: nothing examines). */
  unexamined: number;
}

export class Sampler {
  readonly daemon: Daemon;
  #sample: Sample | null = null;

  constructor(daemon: Daemon) {
    this.daemon = daemon;
  }

  /** The reading of this turn of the event loop. */
  sample(): Sample {
    if (this.#sample === null) {
      this.#sample = this.#take();
      setImmediate(() => (this.#sample = null));
    }
    return this.#sample;
  }

  #take(): Sample {
    const node = this.daemon.node;
    const now = node.clock.now();
    const owed = this.#owed();
    const stats = node.stats();
    const sinks = new Map<number, SinkRecipient>();
    for (const sink of this.daemon.sinks) sinks.set(sink.recipient.id, sink);
    const custodian = this.daemon.mux?.custodian.id ?? -1;
    const recipients = stats.recipients.map((row): RecipientSample => {
      const sink = sinks.get(row.id);
      const live = node.engine.recipients[row.id];
      const oldest = owed.oldest[row.id] as number;
      return {
        id: row.id,
        name: row.name,
        kind: sink !== undefined ? 'sink' : row.id === custodian ? 'mux' : 'remote',
        state:
          sink !== undefined
            ? sink.state
            : live === undefined
              ? 'absent'
              : live.attached
                ? 'attached'
                : 'detached',
        pending: owed.pending[row.id] as number,
        inFlight: row.inFlight,
        oldestPendingTime: oldest === Infinity ? null : oldest,
        delivered: row.delivered,
        redelivered: row.redelivered,
        confirmed: row.confirmed,
        deadLettered: row.deadLettered,
        confirmsIgnored: row.confirmsIgnored,
        handlerErrors: row.handlerErrors,
      };
    });
    return { now, stats, recipients, unexamined: owed.unexamined };
  }

  /** Per recipient id: events owed, and the emit time of the oldest (Infinity: none). */
  #owed(): { pending: Float64Array; oldest: Float64Array; unexamined: number } {
    const node = this.daemon.node;
    const queue = node.queue;
    const pending = new Float64Array(node.geometry.recipientsMax);
    const oldest = new Float64Array(node.geometry.recipientsMax).fill(Infinity);
    // examining reads the device: only a running node does (a failed one must not be touched)
    const examine = node.phase === 'running';
    let unexamined = 0;
    const tally = (bits: number, first: number, time: number): void => {
      for (let bit = 0; bit < 32; bit++) {
        if ((bits & (1 << bit)) === 0) continue;
        const id = first + bit;
        pending[id] = (pending[id] as number) + 1;
        if (time < (oldest[id] as number)) oldest[id] = time;
      }
    };
    for (let counter = queue.head; counter < queue.tail; counter++) {
      const i = counter % queue.capacity;
      if (((queue.flags[i] as number) & entryFlagUnexamined) !== 0) {
        if (!examine) {
          unexamined++;
          continue;
        }
        node.engine.examine(i); // fail-stop on a device error, as in a pass
      }
      const low = (queue.intendedLo[i] as number) & ~(queue.confirmedLo[i] as number);
      const high = (queue.intendedHi[i] as number) & ~(queue.confirmedHi[i] as number);
      if (low === 0 && high === 0) continue;
      const fifo = node.fifos[queue.fifoIndex[i] as number] as PersistentFifo;
      const position = queue.position[i] as number;
      const time = fifo.shadowView.getFloat64(fifo.slotBase(position) + recordOffsets.time, true);
      tally(low, 0, time);
      tally(high, 32, time);
    }
    return { pending, oldest, unexamined };
  }
}
