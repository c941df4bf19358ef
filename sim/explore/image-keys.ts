/**
 * Looking crash images up in the state index without building them (state-index.ts).
 *
 * A footprint hash is additive: H(image, F) = sum over words w in F of mix(w, image[w]), two
 * 32-bit lanes. A crash image at a cut is the durable image D plus the surviving word-stores,
 * so H(image, F) = H(D, F) + sum over the words w in F that a survivor wrote of
 * (mix(w, last survivor's value) - mix(w, D[w])). H(D, F) is computed once per cut and group;
 * a candidate then costs a pass over its survivors only. A word-store's value (the whole word
 * after the store, nvram.h) is read from the cursor's volatile image right after its store
 * instruction runs, which is why the cursor advances one instruction at a time.
 */
import type { TraceLog } from '../../src/nvram/addon-api.js';
import type { TracedNvram } from '../../src/nvram/traced.js';
import { assert } from '../assert.js';

const wordBytes = 8;
const kindStore = 0;

/** mix(w, low, high) for lane 1 and lane 2; both used by the index and by the lookups. */
export function mixLane1(word: number, low: number, high: number): number {
  let h = Math.imul(word ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ low ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ high ^ (h >>> 13), 0x27d4eb2f);
  return (h ^ (h >>> 16)) | 0;
}

export function mixLane2(word: number, low: number, high: number): number {
  let h = Math.imul(word + 0x7f4a7c15, 0x2545f491);
  h = Math.imul(h ^ high ^ (h >>> 16), 0x9e3779b1);
  h = Math.imul(h ^ low ^ (h >>> 15), 0x85ebca77);
  return (h ^ (h >>> 13)) | 0;
}

/** The two lanes as one exact number (53 bits). */
export function combineLanes(lane1: number, lane2: number): number {
  return (lane1 >>> 0) * 0x20_0000 + ((lane2 >>> 0) >>> 11);
}

/** H(image, words) from a whole image (a Uint32Array view): the explored path. */
export function footprintHash(image: Uint32Array, words: Int32Array): number {
  let lane1 = 0;
  let lane2 = 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as number;
    const low = image[2 * w] as number;
    const high = image[2 * w + 1] as number;
    lane1 = (lane1 + mixLane1(w, low, high)) | 0;
    lane2 = (lane2 + mixLane2(w, low, high)) | 0;
  }
  return combineLanes(lane1, lane2);
}

/** What a group exposes to lookups: its words and a bitmap of them. */
export interface KeyedGroup {
  readonly words: Int32Array;
  readonly member: Uint8Array;
  /** H(D, words) for the durable image of generation `baseGeneration`. */
  baseGeneration: number;
  baseLane1: number;
  baseLane2: number;
}

let generations = 0;

/** Word-store values of one stage's trace and the candidate being looked up. */
export class ImageKeys {
  /** Word index and value (two u32) of each word-store id, filled as the cursor passes it. */
  readonly #word: Int32Array;
  readonly #low: Uint32Array;
  readonly #high: Uint32Array;
  /** First word-store id of each instruction (ids are dense, in program order). */
  readonly #firstId: Float64Array;
  readonly #trace: TraceLog;
  readonly #durable: Uint8Array;
  readonly #durableWords: Uint32Array;
  #generation = 0;
  // The candidate: touched words and the id of the last survivor that wrote each.
  readonly #lastId: Int32Array;
  readonly #touchedAt: Int32Array;
  #touched: number[] = [];
  #candidate = 0;

  constructor(trace: TraceLog, instructions: number, sizeBytes: number) {
    this.#trace = trace;
    this.#firstId = new Float64Array(instructions + 1);
    let ids = 0;
    for (let i = 0; i < instructions; i++) {
      this.#firstId[i] = ids;
      if (trace.kinds[i] === kindStore) ids += wordsOf(trace, i);
    }
    this.#firstId[instructions] = ids;
    this.#word = new Int32Array(ids);
    this.#low = new Uint32Array(ids);
    this.#high = new Uint32Array(ids);
    this.#durable = new Uint8Array(sizeBytes);
    this.#durableWords = new Uint32Array(this.#durable.buffer);
    this.#lastId = new Int32Array(sizeBytes / wordBytes);
    this.#touchedAt = new Int32Array(sizeBytes / wordBytes);
  }

  /** Runs instructions up to `cut` on the cursor one at a time, noting each store's values. */
  advance(cursor: TracedNvram, cut: number): void {
    const volatile = new Uint32Array(cursor.native.buffer);
    for (let i = cursor.instructionCount; i < cut; i++) {
      cursor.applyTrace(this.#trace, i, i + 1);
      if (this.#trace.kinds[i] !== kindStore) continue;
      const first = Math.floor((this.#trace.offsets[i] as number) / wordBytes);
      const id0 = this.#firstId[i] as number;
      const count = (this.#firstId[i + 1] as number) - id0;
      for (let k = 0; k < count; k++) {
        this.#word[id0 + k] = first + k;
        this.#low[id0 + k] = volatile[2 * (first + k)] as number;
        this.#high[id0 + k] = volatile[2 * (first + k) + 1] as number;
      }
    }
    cursor.buildDurableImage(this.#durable);
    this.#generation = ++generations;
  }

  /** Words (8 bytes) of the device. */
  get deviceWords(): number {
    return this.#lastId.length;
  }

  /** The word a word-store id wrote (for checks). */
  wordOf(id: number): number {
    return this.#word[id] as number;
  }

  /** Sets the candidate: the surviving ids, ascending (program order). */
  setCandidate(survivors: Float64Array): void {
    this.#candidate++;
    this.#touched = [];
    for (let i = 0; i < survivors.length; i++) {
      const id = survivors[i] as number;
      const w = this.#word[id] as number;
      if (this.#touchedAt[w] !== this.#candidate) {
        this.#touchedAt[w] = this.#candidate;
        this.#touched.push(w);
      }
      this.#lastId[w] = id; // a later store to the same word overrides
    }
  }

  /** H(candidate image, group.words). */
  hash(group: KeyedGroup): number {
    if (group.baseGeneration !== this.#generation) this.#rebase(group);
    let lane1 = group.baseLane1;
    let lane2 = group.baseLane2;
    const durable = this.#durableWords;
    for (const w of this.#touched) {
      if (group.member[w] === 0) continue;
      const id = this.#lastId[w] as number;
      const low = this.#low[id] as number;
      const high = this.#high[id] as number;
      const oldLow = durable[2 * w] as number;
      const oldHigh = durable[2 * w + 1] as number;
      lane1 = (lane1 + mixLane1(w, low, high) - mixLane1(w, oldLow, oldHigh)) | 0;
      lane2 = (lane2 + mixLane2(w, low, high) - mixLane2(w, oldLow, oldHigh)) | 0;
    }
    return combineLanes(lane1, lane2);
  }

  #rebase(group: KeyedGroup): void {
    let lane1 = 0;
    let lane2 = 0;
    const durable = this.#durableWords;
    for (let i = 0; i < group.words.length; i++) {
      const w = group.words[i] as number;
      lane1 = (lane1 + mixLane1(w, durable[2 * w] as number, durable[2 * w + 1] as number)) | 0;
      lane2 = (lane2 + mixLane2(w, durable[2 * w] as number, durable[2 * w + 1] as number)) | 0;
    }
    group.baseGeneration = this.#generation;
    group.baseLane1 = lane1;
    group.baseLane2 = lane2;
  }
}

function wordsOf(trace: TraceLog, i: number): number {
  const offset = trace.offsets[i] as number;
  const length = trace.lengths[i] as number;
  if (length === 0) return 0;
  const words = Math.ceil((offset + length) / wordBytes) - Math.floor(offset / wordBytes);
  assert(words > 0, 'a store writes at least one word');
  return words;
}
