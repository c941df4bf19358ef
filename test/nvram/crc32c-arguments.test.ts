/**
 * The native CRC32C's argument checks (src/nvram/index.ts) and a section lookup on a device
 * with no sections (src/nvram/section-table.ts): typed NvramErrors naming what was wrong.
 */
import { describe, expect, test } from 'vitest';
import { TracedNvram, crc32c } from '../../src/nvram/index.js';

describe('crc32c of the addon', () => {
  test('the known check value, a range past the end, and a seed out of range', () => {
    const text = new TextEncoder().encode('123456789');
    expect(crc32c(text)).toBe(0xe3069283);
    expect(crc32c(text, 9)).toBe(0); // nothing left after the offset
    expect(() => crc32c(text, 4, 6)).toThrow(
      expect.objectContaining({
        code: 'NVRAM_OUT_OF_RANGE',
        message: expect.stringContaining('[4, 10) is not inside the 9-byte array'),
      }),
    );
    for (const seed of [-1, 2 ** 32, 1.5])
      expect(() => crc32c(text, 0, 9, seed)).toThrow(
        expect.objectContaining({
          code: 'NVRAM_BAD_ARGUMENT',
          message: expect.stringContaining('seed must be an integer in [0, 2^32)'),
        }),
      );
  });
});

describe('the section table', () => {
  test('a device without sections names none when a section is asked for', () => {
    const device = TracedNvram.format(8192, []);
    try {
      expect(() => device.section('control')).toThrow(
        expect.objectContaining({
          code: 'NVRAM_UNKNOWN_SECTION',
          message: expect.stringContaining('no section named "control" (sections: none)'),
        }),
      );
    } finally {
      device.close();
    }
  });
});
