/**
 * Pruning that keeps every distinct outcome (issue 4).
 *
 * Recovery is deterministic and depends only on the device, so its whole execution is fixed by
 * the values of the words it loads. If a crash image agrees with an already explored image on
 * every word that image's recovery loaded (its *footprint*), recovery runs identically on both:
 * same loads, same stores, same result. Such an image is the same crash state and is not run
 * again. This also deduplicates identical images (across cuts too), since equal images agree
 * on every footprint.
 *
 * The checker also sees the marks made before the cut, so states are only merged within one
 * *epoch* (same marks). For nested crashes a state's footprint is the union of the loads of its
 * whole sub-exploration, including the footprints of the states that pruned images inside it:
 * then an image that agrees with it on the footprint has an isomorphic sub-exploration with the
 * same outcomes.
 *
 * Index layout: states are grouped by footprint (recovery tends to read the same words over and
 * over); each group holds, per epoch, a set of 53-bit hashes of the footprint words' values.
 * A hash collision could merge two different states, so the hash is two independent 32-bit
 * lanes; at 10^7 states the chance of any collision is about 10^-2 of 10^-6.
 */
import { assert } from '../assert.js';
import { footprintHash, type ImageKeys, type KeyedGroup } from './image-keys.js';

export interface IndexedState {
  /** Naive crash states below and including this state (nested crashes), for the naive count. */
  naiveStates: number;
  /** The outcome key, so that pruned images still count towards the outcome set. */
  outcome: string;
  /** For the index of final recoveries: what the recovery returned, threw and marked. */
  recovery?: { recovered: unknown; error: unknown; threw: boolean; marks: unknown[] };
}

export interface FootprintGroup extends KeyedGroup {
  /** Word indices (offset / 8), ascending. */
  readonly words: Int32Array;
  readonly byEpoch: Map<string, Map<number, IndexedState>>;
}

export interface IndexHit {
  group: FootprintGroup;
  state: IndexedState;
}

/** How many of the most recently used groups a lookup tries (older ones only cost time). */
const groupsProbedMax = 12;

export class StateIndex {
  /** Most recently used first. */
  readonly #groups: FootprintGroup[] = [];
  readonly #bySignature = new Map<number, FootprintGroup[]>();
  #states = 0;

  get states(): number {
    return this.#states;
  }

  get groups(): number {
    return this.#groups.length;
  }

  /** An explored state equivalent to the candidate `keys` holds, in `epoch`, if any. */
  find(keys: ImageKeys, epoch: string): IndexHit | undefined {
    const probed = Math.min(this.#groups.length, groupsProbedMax);
    for (let g = 0; g < probed; g++) {
      const group = this.#groups[g] as FootprintGroup;
      const hashes = group.byEpoch.get(epoch);
      if (hashes === undefined) continue;
      const state = hashes.get(keys.hash(group));
      if (state === undefined) continue;
      if (g > 0) this.#promote(g);
      return { group, state };
    }
    return undefined;
  }

  /** The same lookup for an image in hand (images with media faults are built, not keyed). */
  findImage(image: Uint32Array, epoch: string): IndexHit | undefined {
    const probed = Math.min(this.#groups.length, groupsProbedMax);
    for (let g = 0; g < probed; g++) {
      const group = this.#groups[g] as FootprintGroup;
      const state = group.byEpoch.get(epoch)?.get(footprintHash(image, group.words));
      if (state !== undefined) return { group, state };
    }
    return undefined;
  }

  /** Records an explored state: `image` with footprint `words` in `epoch`. */
  add(image: Uint32Array, words: Int32Array, epoch: string, state: IndexedState): FootprintGroup {
    const group = this.#groupOf(words, image.length / 2);
    this.#put(group, epoch, footprintHash(image, group.words), state);
    return group;
  }

  /** The same for the candidate `keys` holds (its hash taken without building the image). */
  addKeyed(keys: ImageKeys, words: Int32Array, epoch: string, state: IndexedState): FootprintGroup {
    const group = this.#groupOf(words, keys.deviceWords);
    this.#put(group, epoch, keys.hash(group), state);
    return group;
  }

  #put(group: FootprintGroup, epoch: string, hash: number, state: IndexedState): void {
    let hashes = group.byEpoch.get(epoch);
    if (hashes === undefined) {
      hashes = new Map();
      group.byEpoch.set(epoch, hashes);
    }
    hashes.set(hash, state);
    this.#states++;
  }

  #groupOf(words: Int32Array, deviceWords: number): FootprintGroup {
    const signature = wordsSignature(words);
    const candidates = this.#bySignature.get(signature) ?? [];
    let group = candidates.find((candidate) => sameWords(candidate.words, words));
    if (group === undefined) {
      const member = new Uint8Array(deviceWords);
      for (let i = 0; i < words.length; i++) member[words[i] as number] = 1;
      group = { words, member, byEpoch: new Map(), baseGeneration: 0, baseLane1: 0, baseLane2: 0 };
      candidates.push(group);
      this.#bySignature.set(signature, candidates);
      this.#groups.unshift(group);
      return group;
    }
    const at = this.#groups.indexOf(group);
    assert(at >= 0, 'a footprint group is listed');
    if (at > 0) this.#promote(at);
    return group;
  }

  #promote(at: number): void {
    const [group] = this.#groups.splice(at, 1);
    this.#groups.unshift(group as FootprintGroup);
  }
}

/** The words marked in a per-word bitmap (1 byte per word), ascending. */
export function footprintWords(bitmap: Uint8Array): Int32Array {
  // Recovery loads a small part of the device: skip the bitmap four words at a time.
  const quads =
    bitmap.byteOffset % 4 === 0
      ? new Uint32Array(bitmap.buffer, bitmap.byteOffset, bitmap.length >>> 2)
      : null;
  const found: number[] = [];
  let w = 0;
  if (quads !== null) {
    for (let q = 0; q < quads.length; q++) {
      if (quads[q] === 0) continue;
      for (let k = q * 4; k < q * 4 + 4; k++) if (bitmap[k] !== 0) found.push(k);
    }
    w = quads.length * 4;
  }
  for (; w < bitmap.length; w++) if (bitmap[w] !== 0) found.push(w);
  return Int32Array.from(found);
}

/** ORs a group's words into a per-word bitmap (a parent state's footprint grows by them). */
export function addWords(bitmap: Uint8Array, words: Int32Array): void {
  for (let i = 0; i < words.length; i++) bitmap[words[i] as number] = 1;
}

function wordsSignature(words: Int32Array): number {
  let h = 0x811c9dc5 ^ words.length;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ (words[i] as number), 0x01000193);
  return h >>> 0;
}

function sameWords(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
