/**
 * A sink: a recipient inside the daemon [170] whose handler hands each event to a system
 * operators already run (rsyslog over RELP, an HTTP endpoint, a file, a Redis stream), and which
 * confirms the event [216] only once that system holds it durably: the end-to-end
 * acknowledgement, so a crash of either side loses nothing (docs/ARCHITECTURE.md, "Sinks").
 *
 * A transport sends a batch and says, per event, what became of it. It never confirms and never
 * retries by itself: the recipient's retry policy times the next attempt (step 215), and its
 * window bounds what is in flight, so a slow or dead sink never stalls another.
 */
import type { OriginHop } from '../events/origin.js';
import type { SeverityName } from '../events/severity.js';

/** An event as a sink sends it: a copy, taken in the handler (the view is valid only there). */
export interface SinkEvent {
  /** The recording node's id (16 hex digits): with `seq`, the event's identity for deduplication. */
  node: string;
  seq: number;
  /** Emit time, ms since the epoch. */
  time: number;
  /** syslog level 0..7 and its name. */
  level: number;
  severity: SeverityName;
  source: string;
  type: string;
  details: Uint8Array;
  /** Delivered again after a boot [190]. */
  replayed: boolean;
  /** The delivery attempt this copy came from (1: first). */
  attempt: number;
  /** The hops it came through (a multiplexing recipient's record); empty if emitted here. */
  origin: OriginHop[];
}

/**
 * What became of one event of a batch:
 * - `held`: the next system holds it durably; the sink confirms it.
 * - `retry`: not held (a transient error); the recipient's next attempt sends it again.
 * - `refused`: the next system refuses it for good (e.g. HTTP 400); it is dead-lettered with
 *   `code` (reason `refused`) and `reason` is logged.
 */
export type SinkOutcome =
  | { kind: 'held' }
  | { kind: 'retry'; reason: string }
  | { kind: 'refused'; code: number; reason: string };

export const held: SinkOutcome = { kind: 'held' };

export interface SinkTransport {
  /** Sends a batch in order; resolves with one outcome per event (never rejects). */
  send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]>;
  /** Closes connections and files; outstanding sends resolve (as `retry` if cut short). */
  close(): Promise<void>;
  /** Where it sends, for logs and the status page (no secrets). */
  readonly target: string;
}

/** Every event of a batch met the same fate. */
export function outcomes(batch: readonly SinkEvent[], outcome: SinkOutcome): SinkOutcome[] {
  return batch.map(() => outcome);
}

/** A transport's error as a `retry` outcome's reason. */
export function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
