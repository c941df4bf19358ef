/**
 * What the engine finds as it first examines recovered records, tallied per FIFO until the node
 * raises it as events (recovery's findings are events too [231]): records discarded by rows R2
 * (`nvrelay.record.discarded`) and confirmation words that failed their check, row R3
 * (`nvrelay.confirmation.damaged`: those events go again to every intended recipient).
 */
import { slotVerdictNames, type PersistentFifo } from '../fifo/fifo.js';
import type { RecoveryEvent } from '../replay/replay-engine.js';

/** Positions listed per report (the count is exact). */
const positionsListedMax = 16;

interface Tally {
  count: number;
  reasons: Record<string, number>;
  positions: number[];
}

export class Findings {
  readonly #discards = new Map<string, Tally>();
  readonly #confirmations = new Map<string, Tally>();

  /** Row R2: one discarded record (the engine examined it and dropped it). */
  noteDiscard(fifo: PersistentFifo, position: number, verdict: number): void {
    this.#note(this.#discards, fifo.name, position, slotVerdictNames[verdict] ?? String(verdict));
  }

  /** Row R3: takes the FIFOs' damaged confirmation words found since the last call. */
  collectConfirmations(fifos: readonly PersistentFifo[]): void {
    for (let f = 0; f < fifos.length; f++) {
      const fifo = fifos[f] as PersistentFifo; // indexed: called once per drain, no iterator
      if (fifo.confirmationsDamaged.length === 0) continue;
      for (const position of fifo.confirmationsDamaged)
        this.#note(this.#confirmations, fifo.name, position, 'check');
      fifo.confirmationsDamaged.length = 0;
    }
  }

  get empty(): boolean {
    return this.#discards.size === 0 && this.#confirmations.size === 0;
  }

  /** The findings as events, and the tallies cleared. */
  take(): RecoveryEvent[] {
    const events: RecoveryEvent[] = [];
    for (const [section, tally] of this.#discards) {
      events.push({
        type: 'nvrelay.record.discarded',
        severity: 'err',
        details: {
          section,
          discarded: tally.count,
          reasons: tally.reasons,
          positions: tally.positions,
        },
      });
    }
    for (const [section, tally] of this.#confirmations) {
      events.push({
        type: 'nvrelay.confirmation.damaged',
        severity: 'crit',
        details: { section, damaged: tally.count, positions: tally.positions },
      });
    }
    this.#discards.clear();
    this.#confirmations.clear();
    return events;
  }

  #note(tallies: Map<string, Tally>, section: string, position: number, reason: string): void {
    let tally = tallies.get(section);
    if (tally === undefined)
      tallies.set(section, (tally = { count: 0, reasons: {}, positions: [] }));
    tally.count++;
    tally.reasons[reason] = (tally.reasons[reason] ?? 0) + 1;
    if (tally.positions.length < positionsListedMax) tally.positions.push(position);
  }
}

/**
 * An event's details as JSON, shortened to a few fields, then to fewer, then to nothing, to fit
 * the device's detailsBytesMax (the full report stays in `node.recovery`).
 */
export function fitDetails(details: Record<string, unknown>, bytesMax: number): Uint8Array | null {
  const encoder = new TextEncoder();
  const short = {
    section: details['section'],
    discarded: details['discarded'],
    name: details['name'],
    deadLettered: details['deadLettered'],
  };
  const shortest = { section: details['section'], name: details['name'] };
  for (const candidate of [details, short, shortest]) {
    const bytes = encoder.encode(JSON.stringify(candidate));
    if (bytes.length <= bytesMax) return bytes;
  }
  return null;
}
