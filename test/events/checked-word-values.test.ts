/**
 * The checked words' values (src/events/checked-word.ts): every value a counter word may hold
 * round-trips at its extremes, its bytes are the little-endian value then the check, and a
 * value out of range is an assertion, not a silently wrapped word.
 */
import { describe, expect, test } from 'vitest';
import { AssertionError } from '../../src/events/assert.js';
import {
  WordRole,
  checkedValueMax,
  confirmationCheck,
  confirmationWordIntact,
  decodeCounterWord,
  encodeCounterWord,
  loadConfirmationMask,
  loadCounterWord,
  storeCounterWord,
  wordDamaged,
} from '../../src/events/checked-word.js';
import { TracedNvram } from '../../src/nvram/index.js';

const roles = [WordRole.head, WordRole.tail, WordRole.lease];
const extremes = [
  0,
  1,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0xffffff,
  0x1000000,
  0xffffffff,
  0x100000000,
  0xffffffffff,
  0x10000000000,
  checkedValueMax - 1,
  checkedValueMax,
];

function encoded(value: number, role: WordRole): Uint8Array {
  const word = new Uint8Array(8);
  encodeCounterWord(value, role, word);
  return word;
}

describe('counter words', () => {
  test('every value from 0 to 2^48 - 1 round-trips, for every role', () => {
    for (const role of roles)
      for (const value of extremes)
        expect(decodeCounterWord(encoded(value, role), role)).toBe(value);
  });

  test('bytes 0-5 are the value, little-endian; bytes 6-7 its check', () => {
    const word = encoded(0x0102030405a6, WordRole.tail);
    expect([...word.subarray(0, 6)]).toEqual([0xa6, 0x05, 0x04, 0x03, 0x02, 0x01]);
    const max = encoded(checkedValueMax, WordRole.head);
    expect([...max.subarray(0, 6)]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    // the check differs by role: the same value in another role's place fails
    const asHead = encoded(0x0102030405a6, WordRole.head);
    expect([...asHead.subarray(0, 6)]).toEqual([...word.subarray(0, 6)]);
    expect([...asHead.subarray(6)]).not.toEqual([...word.subarray(6)]);
    expect(decodeCounterWord(asHead, WordRole.tail)).toBe(wordDamaged);
  });

  test('each of the check bytes is checked', () => {
    for (const at of [6, 7]) {
      const word = encoded(12345, WordRole.lease);
      word[at] = (word[at] as number) ^ 0x80;
      expect(decodeCounterWord(word, WordRole.lease), `byte ${at}`).toBe(wordDamaged);
    }
  });

  test('a value below 0, above 2^48 - 1 or not an integer is an assertion', () => {
    for (const value of [-1, checkedValueMax + 1, 2 ** 53, 1.5, Number.NaN])
      expect(() => encoded(value, WordRole.head), String(value)).toThrow(AssertionError);
  });

  test('storeCounterWord writes one durable word that loadCounterWord reads back', () => {
    const device = TracedNvram.format(1 << 16, [{ name: 'words', length: 4096 }]);
    const offset = device.section('words').offset + 64;
    storeCounterWord(device, offset, WordRole.lease, checkedValueMax);
    const image = TracedNvram.fromImage(device.buildDurableImage());
    expect(loadCounterWord(image, offset, WordRole.lease)).toBe(checkedValueMax);
    expect(loadCounterWord(image, offset, WordRole.tail)).toBe(wordDamaged);
    expect(loadCounterWord(image, offset + 8, WordRole.lease)).toBe(wordDamaged); // never written
  });
});

describe('confirmation words', () => {
  test('the check of a zero mask is zero; of any other mask, its CRC-8', () => {
    expect(confirmationCheck(0, 0)).toBe(0);
    expect(confirmationWordIntact(0, 0)).toBe(true);
    // CRC-8 (poly 0x07, init 0) of the seven mask bytes, computed bit by bit
    const crc8 = (bytes: number[]) => {
      let crc = 0;
      for (const byte of bytes) {
        crc ^= byte;
        for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : crc << 1;
      }
      return crc;
    };
    for (const [low, high] of [
      [1, 0],
      [0x80000000, 0],
      [0, 1],
      [0, 0x800000],
      [0xdeadbeef, 0xabcdef],
    ] as const) {
      const bytes = [0, 1, 2, 3].map((i) => (low >>> (8 * i)) & 0xff);
      bytes.push(...[0, 1, 2].map((i) => (high >>> (8 * i)) & 0xff));
      const check = crc8(bytes);
      expect(confirmationCheck(low, high)).toBe(check);
      expect(confirmationWordIntact(low, (high | (check << 24)) >>> 0)).toBe(true);
      expect(confirmationWordIntact(low, (high | ((check ^ 1) << 24)) >>> 0)).toBe(false);
    }
  });

  test('loadConfirmationMask reads the 56-bit mask, or wordDamaged', () => {
    const device = TracedNvram.format(1 << 16, [{ name: 'slots', length: 4096 }]);
    const offset = device.section('slots').offset;
    const low = 0x80000001;
    const high = 0x800001; // recipients 0, 31, 32 and 55
    const word = new Uint8Array(8);
    const view = new DataView(word.buffer);
    view.setUint32(0, low, true);
    view.setUint32(4, (high | (confirmationCheck(low, high) << 24)) >>> 0, true);
    device.storeBytes(offset, word);
    expect(loadConfirmationMask(device, offset)).toBe(high * 2 ** 32 + low);
    word[7] = (word[7] as number) ^ 1;
    device.storeBytes(offset, word);
    expect(loadConfirmationMask(device, offset)).toBe(wordDamaged);
  });
});
