/**
 * Authoritative words with a check of their own. A FIFO's head and tail counters, the seq lease
 * and a slot's confirmation word each sit outside every record's CRC, and recovery acts on them
 * alone; a media fault in one would silently skip, replay or renumber events. So each carries a
 * check in its spare high bits, written in the same aligned 8-byte store as its value (one
 * word: a power cut never tears it), and recovery detects and reports a word that fails.
 *
 * Counter words (head, tail, lease), little-endian u64:
 *   bits 0-47   the value (< 2^48: 281 T events, nine years at a million a second)
 *   bits 48-63  CRC-16/CCITT (poly 0x1021, init 0xffff) over the six value bytes and a role byte,
 *               so a word read from the wrong place (a head word where the tail belongs) fails
 *               too, and an all-zero word (never written) fails.
 *
 * Confirmation word (slot offset 0), little-endian u64:
 *   bits 0-55   the confirmation mask, bit r = recipient r (recipientsMax is therefore 56)
 *   bits 56-63  CRC-8 (poly 0x07, init 0) over the seven mask bytes; zero for a zero mask, so a
 *               freshly appended record's zeroed word is valid as it is.
 * Both CRCs detect every one-, two- and three-bit fault within their word.
 */
import type { NvramDevice } from '../nvram/device.js';
import { assert } from './assert.js';

/** Largest value a counter word holds. */
export const checkedValueMax = 2 ** 48 - 1;

/** What a counter word is, mixed into its check. */
export const WordRole = Object.freeze({ head: 1, tail: 2, lease: 3 });
export type WordRole = (typeof WordRole)[keyof typeof WordRole];

/** Returned by decodeCounterWord for a word whose check fails. */
export const wordDamaged = -1;

const crc16Table = buildTable(16, 0x1021);
const crc8Table = buildTable(8, 0x07);

function buildTable(width: number, poly: number): Uint16Array {
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << (width - 8);
    for (let bit = 0; bit < 8; bit++)
      crc = crc & top ? ((crc << 1) ^ poly) & mask : (crc << 1) & mask;
    table[byte] = crc;
  }
  return table;
}

function crc16(bytes: Uint8Array, length: number, role: number): number {
  let crc = 0xffff;
  for (let i = 0; i < length; i++)
    crc =
      ((crc << 8) & 0xffff) ^ (crc16Table[((crc >> 8) ^ (bytes[i] as number)) & 0xff] as number);
  return ((crc << 8) & 0xffff) ^ (crc16Table[((crc >> 8) ^ role) & 0xff] as number);
}

/** Writes `value` and its check into `target` (8 bytes, stored as one word). */
export function encodeCounterWord(value: number, role: WordRole, target: Uint8Array): void {
  assert(Number.isSafeInteger(value) && value >= 0 && value <= checkedValueMax, 'counter word');
  const low = value % 0x100000000;
  const high = (value - low) / 0x100000000;
  target[0] = low & 0xff;
  target[1] = (low >>> 8) & 0xff;
  target[2] = (low >>> 16) & 0xff;
  target[3] = low >>> 24;
  target[4] = high & 0xff;
  target[5] = high >>> 8;
  const check = crc16(target, 6, role);
  target[6] = check & 0xff;
  target[7] = check >>> 8;
}

/** The value of a counter word, or wordDamaged if its check fails. */
export function decodeCounterWord(word: Uint8Array, role: WordRole): number {
  const check = (word[6] as number) | ((word[7] as number) << 8);
  if (crc16(word, 6, role) !== check) return wordDamaged;
  const low =
    ((word[0] as number) | ((word[1] as number) << 8) | ((word[2] as number) << 16)) +
    (word[3] as number) * 0x1000000;
  return low + ((word[4] as number) | ((word[5] as number) << 8)) * 0x100000000;
}

/** The check byte of a confirmation mask given as its low and high 32 bits (high < 2^24). */
export function confirmationCheck(low: number, high: number): number {
  let crc = 0;
  for (let i = 0; i < 4; i++) crc = crc8Table[crc ^ ((low >>> (8 * i)) & 0xff)] as number;
  for (let i = 0; i < 3; i++) crc = crc8Table[crc ^ ((high >>> (8 * i)) & 0xff)] as number;
  return crc;
}

/** True if a confirmation word (low and high 32 bits as stored) passes its check. */
export function confirmationWordIntact(low: number, high: number): boolean {
  return confirmationCheck(low, high & 0xffffff) === high >>> 24;
}

/** Reads a counter word from a device: its value, or wordDamaged (tools and tests). */
export function loadCounterWord(device: NvramDevice, offset: number, role: WordRole): number {
  const word = new Uint8Array(8);
  device.loadBytes(offset, word);
  return decodeCounterWord(word, role);
}

/** Stores a counter word (one aligned 8-byte store) and persists it (tools and tests). */
export function storeCounterWord(
  device: NvramDevice,
  offset: number,
  role: WordRole,
  value: number,
): void {
  const word = new Uint8Array(8);
  encodeCounterWord(value, role, word);
  device.storeBytes(offset, word);
  device.persist(offset, 8);
}

/**
 * Reads a slot's confirmation mask from a device, or wordDamaged if its check fails (tools and
 * tests; exact for recipient ids below 53).
 */
export function loadConfirmationMask(device: NvramDevice, offset: number): number {
  const word = new Uint8Array(8);
  device.loadBytes(offset, word);
  const view = new DataView(word.buffer);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (!confirmationWordIntact(low, high)) return wordDamaged;
  return (high & 0xffffff) * 0x100000000 + low;
}
