/**
 * Rows R1/R2 (docs/ARCHITECTURE.md) for a recovered entry of the indication queue, the first time
 * the engine reaches it: the FIFO examines the record (in order); a valid one gets its seq,
 * recipients, confirmations and names in the queue's columns, a damaged one keeps no
 * recipients, so it is never delivered and only retires. A boot queues a million recovered
 * records without reading them; this reads each once, when it is needed.
 */
import { decodeName } from '../events/names.js';
import { getU64, recordHeaderBytes } from '../events/record.js';
import { SlotVerdict, type PersistentFifo } from '../fifo/fifo.js';
import { entryFlagUnexamined, type EventIndicationQueue } from './indication-queue.js';
import type { NameTable, TypeTable } from './subscriptions.js';

const notInterned = 0xffff;

export class RecoveredEntryLoader {
  readonly #queue: EventIndicationQueue;
  readonly #fifos: readonly PersistentFifo[];
  readonly #types: TypeTable;
  readonly #sources: NameTable;
  readonly #onDiscard: (fifo: PersistentFifo, position: number, verdict: number) => void;
  // One-entry caches for interning recovered names (replays mostly repeat a few).
  #lastTypeId = -1;
  #lastSourceId = -1;

  constructor(
    queue: EventIndicationQueue,
    fifos: readonly PersistentFifo[],
    types: TypeTable,
    sources: NameTable,
    onDiscard: (fifo: PersistentFifo, position: number, verdict: number) => void,
  ) {
    this.#queue = queue;
    this.#fifos = fifos;
    this.#types = types;
    this.#sources = sources;
    this.#onDiscard = onDiscard;
  }

  load(i: number): void {
    const queue = this.#queue;
    const fifo = this.#fifos[queue.fifoIndex[i] as number] as PersistentFifo;
    const position = queue.position[i] as number;
    const verdict = fifo.examine(position);
    queue.flags[i] = (queue.flags[i] as number) & ~entryFlagUnexamined;
    if (verdict !== SlotVerdict.valid) {
      // a torn record the scan passed (row D5) was reported as torn at start, not as a discard
      if (verdict !== SlotVerdict.torn) this.#onDiscard(fifo, position, verdict);
      return;
    }
    const view = fifo.shadowView;
    const base = fifo.slotBase(position);
    const intendedLo = view.getInt32(base + 40, true);
    const intendedHi = view.getInt32(base + 44, true);
    queue.seq[i] = getU64(view, base + 24);
    queue.intendedLo[i] = intendedLo;
    queue.intendedHi[i] = intendedHi;
    queue.confirmedLo[i] = view.getInt32(base, true) & intendedLo;
    queue.confirmedHi[i] = view.getInt32(base + 4, true) & intendedHi;
    const sourceBytes = fifo.shadow[base + 56] as number;
    const names = base + recordHeaderBytes;
    queue.sourceId[i] = this.#lastSourceId = intern(
      this.#sources,
      fifo.shadow,
      names,
      sourceBytes,
      this.#lastSourceId,
    );
    queue.typeId[i] = this.#lastTypeId = intern(
      this.#types,
      fifo.shadow,
      names + sourceBytes,
      fifo.shadow[base + 57] as number,
      this.#lastTypeId,
    );
  }
}

/**
 * The id of the name at [at, at + length) of `bytes`; `last` is tried first. 0xffff: not
 * interned (the view decodes it from the record).
 */
function intern(
  table: NameTable,
  bytes: Uint8Array,
  at: number,
  length: number,
  last: number,
): number {
  if (
    last >= 0 &&
    last !== notInterned &&
    sameBytes(table.bytes[last] as Uint8Array, bytes, at, length)
  )
    return last;
  const name = decodeName(table.kind, bytes, at, length);
  if (name === null) return notInterned;
  const known = table.find(name);
  if (known >= 0) return known;
  return table.names.length < table.max ? table.intern(name) : notInterned;
}

function sameBytes(name: Uint8Array, bytes: Uint8Array, at: number, length: number): boolean {
  if (name.length !== length) return false;
  for (let k = 0; k < length; k++) if (name[k] !== bytes[at + k]) return false;
  return true;
}
