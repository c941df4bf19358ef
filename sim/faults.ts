/**
 * The fault injector's media faults (SPEC 3, issue 4), kept apart from the pristine images the
 * persistency model produces (the TigerBeetle idea: faults are layered on, never mixed in):
 *
 *   bit flips     seeded bit positions in a byte range of a crash image; recovery must detect
 *                 what they damage (checksums) and never deliver it;
 *   device loss   the whole device reads as zeros (battery failure); booting must report it
 *                 as a typed error, never read it as events.
 *
 * Power cuts are injected by the explorer (cuts and survivor sets); recipient faults (never
 * confirms, confirms late or twice, throws) by the event workloads' recipients.
 */
import { TracedNvram } from '../src/nvram/traced.js';
import { NvramError } from '../src/nvram/errors.js';
import { assert } from './assert.js';
import { Prng } from './prng.js';

const headerWords = 4096 / 8;

export interface FlipRange {
  /** Absolute byte offset and length of the range flips may hit. */
  offset: number;
  length: number;
}

/** `count` distinct seeded bit positions (byte offset x 8 + bit) in the range, ascending. */
export function chooseFlips(range: FlipRange, count: number, seed: number): number[] {
  assert(range.length > 0 && count >= 0 && count <= range.length * 8, 'flips fit the range');
  const prng = new Prng(seed);
  const bits = new Set<number>();
  while (bits.size < count) bits.add(range.offset * 8 + prng.below(range.length * 8));
  return [...bits].sort((a, b) => a - b);
}

/**
 * `count` distinct seeded bit positions inside the given words (word indices, offset / 8),
 * ascending; header-page words are skipped (the device's own two-slot header is out of scope).
 */
export function chooseWordFlips(words: Int32Array, count: number, seed: number): number[] {
  const prng = new Prng(seed);
  const bits = new Set<number>();
  const dataWords = Array.from(words).filter((word) => word >= headerWords);
  if (dataWords.length === 0) return [];
  for (
    let attempt = 0;
    bits.size < Math.min(count, dataWords.length * 64) && attempt < count * 8;
    attempt++
  ) {
    const word = dataWords[prng.below(dataWords.length)] as number;
    bits.add(word * 64 + prng.below(64));
  }
  return [...bits].sort((a, b) => a - b);
}

/** Flips the given bit positions of `image` in place. */
export function applyFlips(image: Uint8Array, flips: readonly number[]): void {
  for (const bit of flips) {
    const at = Math.floor(bit / 8);
    assert(at < image.length, 'a flip inside the image');
    image[at] = (image[at] as number) ^ (1 << (bit % 8));
  }
}

/** The image of a lost device: every byte zero. */
export function lostDevice(sizeBytes: number): Uint8Array {
  return new Uint8Array(sizeBytes);
}

/**
 * Boots a lost device the way recovery would and returns the typed error that reports it
 * (or throws if booting accepted the image, which would read zeros as state).
 */
export function bootLostDevice(sizeBytes: number): NvramError {
  try {
    TracedNvram.fromImage(lostDevice(sizeBytes)).close();
  } catch (error) {
    if (error instanceof NvramError) return error;
    throw error;
  }
  throw new Error('a lost device (all zeros) booted as if it held state');
}

/** The byte range of a named section of the device `image` belongs to. */
export function sectionRange(image: Uint8Array, name: string): FlipRange {
  const device = TracedNvram.fromImage(image, { boot: false });
  try {
    const section = device.section(name);
    return { offset: section.offset, length: section.length };
  } finally {
    device.close();
  }
}
