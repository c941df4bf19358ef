/**
 * footprintWords (sim/explore/state-index.ts): the words marked in a load bitmap, whether the
 * bitmap is aligned for the four-words-at-a-time scan or not, and whatever its length.
 */
import { describe, expect, test } from 'vitest';
import { addWords, footprintWords } from '../../sim/explore/state-index.js';

describe('footprintWords', () => {
  test('an aligned bitmap whose length is not a multiple of four: the tail is read too', () => {
    const bitmap = new Uint8Array(11);
    addWords(bitmap, Int32Array.from([1, 6, 9, 10]));
    expect(Array.from(footprintWords(bitmap))).toEqual([1, 6, 9, 10]);
  });

  test('a bitmap at an unaligned offset is read word by word, to the same words', () => {
    const backing = new Uint8Array(21);
    const bitmap = backing.subarray(1); // byteOffset 1
    addWords(bitmap, Int32Array.from([0, 3, 4, 19]));
    expect(backing[1]).toBe(1);
    expect(Array.from(footprintWords(bitmap))).toEqual([0, 3, 4, 19]);
  });

  test('an empty bitmap marks nothing', () => {
    expect(Array.from(footprintWords(new Uint8Array(8)))).toEqual([]);
    expect(Array.from(footprintWords(new Uint8Array(0)))).toEqual([]);
  });
});
