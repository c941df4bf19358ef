/**
 * A small persistent append-only log, written against the `NvramDevice` interface: the kind of
 * structure a storage engineer would crash-test with the lab (sim/harness/).
 *
 * Layout of its section (little-endian):
 *   offset 0    count: number of entries appended, one word on its own 64-byte line
 *   offset 64   entries: one 8-byte word each, in append order
 *
 * Append persists the entry before it publishes the new count (the PMDK ring-buffer pattern:
 * persist the entry, then the position), so after any power cut the count never covers an entry
 * that did not reach the media. Every word is aligned, so no store can tear.
 */
import type { NvramDevice } from '../src/nvram/device.js';

export const logSection = 'log';
const countOffset = 0;
const entriesOffset = 64;
const entryBytes = 8;

export class PersistentLog {
  readonly #base: number;
  readonly #capacity: number;

  constructor(readonly device: NvramDevice) {
    const section = device.section(logSection);
    this.#base = section.offset;
    this.#capacity = (section.length - entriesOffset) / entryBytes;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Appends `value` (an integer < 2^53); durable when this returns. */
  append(value: number): void {
    const count = this.count();
    if (count >= this.#capacity) throw new Error(`log full (${this.#capacity} entries)`);
    const entry = this.#base + entriesOffset + count * entryBytes;
    this.device.storeU64(entry, value);
    this.persistEntry(entry);
    this.device.storeU64(this.#base + countOffset, count + 1);
    this.device.persist(this.#base + countOffset, 8);
  }

  count(): number {
    const count = this.device.loadU64(this.#base + countOffset);
    if (count > this.#capacity)
      throw new Error(`log count ${count} exceeds capacity ${this.#capacity}`);
    return count;
  }

  /** What recovery sees: every published entry, in order. */
  entries(): number[] {
    const count = this.count();
    const values: number[] = [];
    for (let i = 0; i < count; i++)
      values.push(this.device.loadU64(this.#base + entriesOffset + i * entryBytes));
    return values;
  }

  /** The entry must be durable before the count that publishes it: flush, then fence. */
  protected persistEntry(entry: number): void {
    this.device.flush(entry, entryBytes);
    this.device.fence();
  }
}
