/**
 * Which post-crash images to visit at one cut (issue 4): every image the model allows when
 * there are at most `imagesPerCut` of them, else a seeded sample that always includes the two
 * extremes, nothing pending survived (index 0; under eadr: nothing issued after the last
 * fence) and everything survived (the last index).
 * Images are named by *which* word-stores survive, never by orderings (SPEC 3).
 */
import { lineBytes } from '../../src/constants.js';
import type { PersistencyModel, WordStoreList } from '../../src/nvram/addon-api.js';
import type { TracedNvram } from '../../src/nvram/traced.js';
import { assert } from '../assert.js';
import { Prng } from '../prng.js';

/** Largest image index that survivorsByIndex can be asked for exactly. */
const indexExactMax = 2 ** 53;

export interface CutImages {
  /** Images the model allows at this cut (the naive count); may be Infinity. */
  count: number;
  /** Survivor sets to visit (word-store ids), without repeats. */
  survivors: Float64Array[];
}

/** Survivor sets by image index at one cut. */
interface ImageIndex {
  survivors(index: number): Float64Array;
}

export function imagesAtCut(
  cursor: TracedNvram,
  model: PersistencyModel,
  imagesPerCut: number,
  seed: number,
): CutImages {
  const count = cursor.imageCount(model);
  const images: ImageIndex =
    model === 'px86' && count < indexExactMax
      ? new Px86Images(cursor.pendingStores(), count)
      : { survivors: (index) => cursor.survivorsByIndex(model, index) };
  if (count <= imagesPerCut) {
    const survivors: Float64Array[] = [];
    for (let index = 0; index < count; index++) survivors.push(images.survivors(index));
    return { count, survivors };
  }
  return { count, survivors: sampleImages(cursor, model, images, count, imagesPerCut, seed) };
}

/**
 * px86 survivor sets by image index, worked out here from one list of the pending stores
 * rather than asked of the device once per image (a cut can allow hundreds). The numbering is
 * the device's (traced_device.h): per 64-byte line with pending stores, lowest address first,
 * one mixed-radix digit = how many of the line's stores survive, a prefix in program order.
 * test/sim/candidates.test.ts compares it with the device's survivorsByIndex.
 */
export class Px86Images implements ImageIndex {
  /** Per line with pending stores, ascending: the line's store ids in program order. */
  readonly #lines: Float64Array[];
  readonly #all: Float64Array;

  constructor(pending: WordStoreList, count: number) {
    const byLine = new Map<number, number[]>();
    for (let i = 0; i < pending.ids.length; i++) {
      const line = Math.floor((pending.offsets[i] as number) / lineBytes);
      const ids = byLine.get(line);
      if (ids === undefined) byLine.set(line, [pending.ids[i] as number]);
      else ids.push(pending.ids[i] as number);
    }
    this.#lines = [...byLine.keys()]
      .sort((a, b) => a - b)
      .map((line) => Float64Array.from(byLine.get(line) as number[]));
    this.#all = pending.ids;
    const product = this.#lines.reduce((n, ids) => n * (ids.length + 1), 1);
    assert(product === count, 'px86: the device counts one image per choice of line prefixes');
  }

  survivors(index: number): Float64Array {
    assert(Number.isSafeInteger(index) && index >= 0, 'an image index');
    let rest = index;
    let size = 0;
    const digits = new Array<number>(this.#lines.length);
    for (let l = 0; l < this.#lines.length; l++) {
      const radix = (this.#lines[l] as Float64Array).length + 1;
      const digit = rest % radix;
      digits[l] = digit;
      size += digit;
      rest = (rest - digit) / radix;
    }
    assert(rest === 0, 'an image index below the image count');
    if (size === this.#all.length) return this.#all.slice();
    const out = new Float64Array(size);
    let at = 0;
    for (let l = 0; l < this.#lines.length; l++) {
      const ids = this.#lines[l] as Float64Array;
      for (let d = 0; d < (digits[l] as number); d++) out[at++] = ids[d] as number;
    }
    return out.sort(); // ids ascending = program order
  }
}

function sampleImages(
  cursor: TracedNvram,
  model: PersistencyModel,
  images: ImageIndex,
  count: number,
  wanted: number,
  seed: number,
): Float64Array[] {
  const prng = new Prng(seed);
  // Index 0 is not always the empty set: under eadr every store before the last fence survives.
  const survivors: Float64Array[] = [images.survivors(0), allPending(cursor)];
  if (count < indexExactMax) {
    // Distinct indices name distinct survivor sets (traced_device.h: an index is a mixed-radix
    // number of per-line prefixes, a bit set, or a prefix length), so repeats are found by
    // index, before the set is asked for. The extremes are indices 0 and count - 1.
    const seen = new Set<number>();
    for (let attempt = 0; survivors.length < wanted && attempt < wanted * 4; attempt++) {
      const index = 1 + prng.below(count - 2);
      if (seen.has(index)) continue;
      seen.add(index);
      survivors.push(images.survivors(index));
    }
    return survivors;
  }
  const seen = new Set<string>(survivors.map(idsKey));
  // Bounded: a sample asks at most 4x as many times as it wants distinct sets.
  for (let attempt = 0; survivors.length < wanted && attempt < wanted * 4; attempt++) {
    const ids = cursor.survivorsBySeed(model, prng.nextU32());
    const key = idsKey(ids);
    if (seen.has(key)) continue;
    seen.add(key);
    survivors.push(ids);
  }
  return survivors;
}

/** Everything non-durable survives: the last image of every model. */
function allPending(cursor: TracedNvram): Float64Array {
  return Float64Array.from(cursor.pendingStores().ids);
}

function idsKey(ids: Float64Array): string {
  return ids.join(',');
}
