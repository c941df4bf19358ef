/**
 * A deliberately simple reference model of SPEC section 3, for differential tests against
 * the native traced device. Nothing here is fast; everything is meant to be obviously right:
 *
 * - a store writes the volatile image at once and appends one word-store per aligned 8-byte
 *   word it touches (ascending address), holding the word's full content after the store;
 * - flush marks pending word-stores of the lines in range as flushing;
 * - fence applies every flushing word-store to the durable image (program order) and drops it;
 * - a post-crash image is the durable image plus a survivor subset applied in program order;
 *   which subsets are allowed is decided by brute force over all subsets with `allows`:
 *   px86: per 64-byte line, a prefix of the line's stores in program order;
 *   relaxed: any subset;
 *   eadr: the caches are in the persistence domain, so a fence drains every earlier store,
 *   flushed or not (flushes change nothing): every store issued before the last fence
 *   survives, and of the later ones a prefix in global program order.
 */
export type Model = 'px86' | 'relaxed' | 'eadr';
export const models: readonly Model[] = ['px86', 'relaxed', 'eadr'];

export const wordBytes = 8;
export const lineBytes = 64;

export interface ReferenceWordStore {
  /** Position in global program order among all word-stores ever made. */
  readonly id: number;
  readonly instruction: number;
  /** Byte offset of the word (a multiple of 8). */
  readonly offset: number;
  /** The word's 8 bytes after the store. */
  readonly value: Uint8Array;
  state: 'pending' | 'flushing';
  /** A fence ran after it (durable under eadr, whether flushed or not). */
  fenced: boolean;
}

export class ReferencePowerCut extends Error {
  constructor(readonly instruction: number) {
    super(`power cut at instruction ${instruction}`);
  }
}

export class ReferenceDevice {
  readonly volatile: Uint8Array;
  readonly durable: Uint8Array;
  /** The non-durable word-stores in program order. */
  stores: ReferenceWordStore[] = [];
  instructionCount = 0;
  cutAt = -1;
  poweredOff = false;
  #nextId = 0;

  constructor(image: Uint8Array) {
    this.volatile = image.slice();
    this.durable = image.slice();
  }

  store(offset: number, bytes: Uint8Array): void {
    this.#beginInstruction();
    this.volatile.set(bytes, offset);
    if (bytes.length === 0) return;
    const first = Math.floor(offset / wordBytes) * wordBytes;
    for (let word = first; word < offset + bytes.length; word += wordBytes) {
      this.stores.push({
        id: this.#nextId++,
        instruction: this.instructionCount - 1,
        offset: word,
        value: this.volatile.slice(word, word + wordBytes),
        state: 'pending',
        fenced: false,
      });
    }
  }

  flush(offset: number, length: number): void {
    this.#beginInstruction();
    for (const store of this.stores) {
      const lineStart = Math.floor(store.offset / lineBytes) * lineBytes;
      const overlaps = length > 0 && lineStart < offset + length && offset < lineStart + lineBytes;
      if (store.state === 'pending' && overlaps) store.state = 'flushing';
    }
  }

  fence(): void {
    this.#beginInstruction();
    for (const store of this.stores) {
      if (store.state === 'flushing') this.durable.set(store.value, store.offset);
    }
    this.stores = this.stores.filter((store) => store.state !== 'flushing');
    for (const store of this.stores) store.fenced = true;
  }

  /** SPEC 3, one model at a time: may exactly this set of word-stores (by id) survive? */
  allows(model: Model, survivorIds: ReadonlySet<number>): boolean {
    if (model === 'relaxed') return true;
    if (model === 'eadr' && this.stores.some((s) => s.fenced && !survivorIds.has(s.id))) {
      return false;
    }
    const groups = new Map<number, ReferenceWordStore[]>();
    for (const store of this.stores) {
      const key = model === 'eadr' ? 0 : Math.floor(store.offset / lineBytes);
      groups.set(key, [...(groups.get(key) ?? []), store]);
    }
    // px86: per line, eadr: over everything -- the survivors form a prefix in program order.
    for (const group of groups.values()) {
      const kept = group.map((store) => survivorIds.has(store.id));
      const firstLost = kept.indexOf(false);
      if (firstLost >= 0 && kept.slice(firstLost).includes(true)) return false;
    }
    return true;
  }

  /** Every allowed survivor set, by trying all 2^n subsets (callers keep n small). */
  allowedSurvivorSets(model: Model): number[][] {
    const n = this.stores.length;
    if (n > 16) throw new Error(`reference model: 2^${n} subsets is too many to enumerate`);
    const sets: number[][] = [];
    for (let mask = 0; mask < 2 ** n; mask++) {
      const ids = this.stores.filter((_, i) => (mask & (1 << i)) !== 0).map((store) => store.id);
      if (this.allows(model, new Set(ids))) sets.push(ids);
    }
    return sets;
  }

  /** The number of allowed survivor sets, by formula (checked against brute force in tests). */
  imageCount(model: Model): number {
    const n = this.stores.length;
    if (model === 'relaxed') return 2 ** n;
    if (model === 'eadr') return n - this.stores.filter((store) => store.fenced).length + 1;
    const perLine = new Map<number, number>();
    for (const store of this.stores) {
      const line = Math.floor(store.offset / lineBytes);
      perLine.set(line, (perLine.get(line) ?? 0) + 1);
    }
    let count = 1;
    for (const stores of perLine.values()) count *= stores + 1;
    return count;
  }

  /** The durable image with the survivors applied in program order. */
  image(survivorIds: ReadonlySet<number>): Uint8Array {
    const image = this.durable.slice();
    for (const store of this.stores) {
      if (survivorIds.has(store.id)) image.set(store.value, store.offset);
    }
    return image;
  }

  #beginInstruction(): void {
    if (this.poweredOff) throw new ReferencePowerCut(this.cutAt);
    if (this.instructionCount === this.cutAt) {
      this.poweredOff = true;
      throw new ReferencePowerCut(this.cutAt);
    }
    this.instructionCount++;
  }
}
