/**
 * Which post-crash images to visit at one cut (issue 4): every image the model allows when
 * there are at most `imagesPerCut` of them, else a seeded sample that always includes the two
 * extremes, nothing pending survived (index 0) and everything survived (the last index).
 * Images are named by *which* word-stores survive, never by orderings (SPEC 3).
 */
import type { PersistencyModel } from '../../src/nvram/addon-api.js';
import type { TracedNvram } from '../../src/nvram/traced.js';
import { Prng } from '../prng.js';

/** Largest image index that survivorsByIndex can be asked for exactly. */
const indexExactMax = 2 ** 53;

export interface CutImages {
  /** Images the model allows at this cut (the naive count); may be Infinity. */
  count: number;
  /** Survivor sets to visit (word-store ids), without repeats. */
  survivors: Float64Array[];
}

export function imagesAtCut(
  cursor: TracedNvram,
  model: PersistencyModel,
  imagesPerCut: number,
  seed: number,
): CutImages {
  const count = cursor.imageCount(model);
  if (count <= imagesPerCut) {
    const survivors: Float64Array[] = [];
    for (let index = 0; index < count; index++)
      survivors.push(cursor.survivorsByIndex(model, index));
    return { count, survivors };
  }
  return { count, survivors: sampleImages(cursor, model, count, imagesPerCut, seed) };
}

function sampleImages(
  cursor: TracedNvram,
  model: PersistencyModel,
  count: number,
  wanted: number,
  seed: number,
): Float64Array[] {
  const prng = new Prng(seed);
  const survivors: Float64Array[] = [new Float64Array(0), allPending(cursor)];
  if (count < indexExactMax) {
    // Distinct indices name distinct survivor sets (traced_device.h: an index is a mixed-radix
    // number of per-line prefixes, a bit set, or a prefix length), so repeats are found by
    // index, before the set is asked for. The extremes are indices 0 and count - 1.
    const seen = new Set<number>();
    for (let attempt = 0; survivors.length < wanted && attempt < wanted * 4; attempt++) {
      const index = 1 + prng.below(count - 2);
      if (seen.has(index)) continue;
      seen.add(index);
      survivors.push(cursor.survivorsByIndex(model, index));
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
