/**
 * The read-only header examination in TypeScript (inspect, check) and the addon's parseHeader
 * (open) must reach the same verdict on any header: same first error code, or both accept
 * and decode the same header.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { addon } from '../../src/nvram/addon.js';
import { crc32c, examineHeader, NvramError, TracedNvram } from '../../src/nvram/index.js';

const seed = Number(process.env['FC_SEED'] ?? 20_251_126);
const deviceBytes = 8 * 4096;

/** Offsets where a corruption means something: every field of docs/ARCHITECTURE.md. */
const fieldOffsets = [
  0, 3, 7, 8, 12, 13, 16, 17, 18, 24, 32, 36, 40, 71, 72, 73, 80, 88, 100, 120, 128, 136, 1575,
  1576, 2048, 2056, 2112, 2120,
];

const corruption = fc.record({
  at: fc.oneof(fc.constantFrom(...fieldOffsets), fc.integer({ min: 0, max: 4095 })),
  value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 0x10, 0x40, 0x80, 0xff)),
});

const scenario = fc.record({
  sections: fc.array(
    fc.record({
      name: fc.constantFrom('a', 'events', 'b.c', 'x_y-1'),
      length: fc.integer({ min: 1, max: 8192 }),
    }),
    { maxLength: 3 },
  ),
  corruptions: fc.array(corruption, { maxLength: 3 }),
  fixCrc: fc.boolean(),
  extraPages: fc.constantFrom(0, 0, 0, 1, -1),
  boots: fc.integer({ min: 0, max: 3 }),
});

function nativeVerdict(image: Uint8Array): string {
  try {
    const header = addon.parseHeader(image, 'image');
    return `ok ${header.sizeBytes} ${header.deviceId} ${header.bootCount} ${JSON.stringify(header.sections)}`;
  } catch (error) {
    if (error instanceof NvramError) return error.code;
    throw error;
  }
}

function examinedVerdict(image: Uint8Array): string {
  const { header, findings } = examineHeader(image.subarray(0, 4096), image.length, 'image');
  if (findings[0] !== undefined) return findings[0].code;
  if (header === null) return 'no header';
  return `ok ${header.sizeBytes} ${header.deviceId} ${header.bootCount} ${JSON.stringify(header.sections)}`;
}

describe('examineHeader', () => {
  test('reaches the same verdict as the addon for any corruption of a header', () => {
    let rejected = 0;
    fc.assert(
      fc.property(scenario, ({ sections, corruptions, fixCrc, extraPages, boots }) => {
        const unique = sections.filter(
          (section, i) => sections.findIndex((other) => other.name === section.name) === i,
        );
        const image = new Uint8Array(deviceBytes);
        addon.formatImage(image, unique, 0x1234n);
        for (let boot = 0; boot < boots; boot++) addon.bootImage(image);
        for (const { at, value } of corruptions) image[at] = value;
        if (fixCrc) new DataView(image.buffer).setUint32(1576, crc32c(image, 0, 1576), true);
        const resized = new Uint8Array(deviceBytes + extraPages * 4096);
        resized.set(image.subarray(0, resized.length));
        const verdict = nativeVerdict(resized);
        if (!verdict.startsWith('ok')) rejected++;
        expect(examinedVerdict(resized)).toBe(verdict);
      }),
      { seed, numRuns: 3000 },
    );
    expect(rejected, 'the scenarios exercise rejections').toBeGreaterThan(300);
  });

  test('lists every finding, not only the first', () => {
    const image = TracedNvram.format(deviceBytes, [
      { name: 'events', length: 4096 },
    ]).buildDurableImage();
    image[40] = 'E'.charCodeAt(0); // an invalid name, and a header checksum mismatch
    const { findings } = examineHeader(image.subarray(0, 4096), image.length + 4096, 'image');
    expect(findings.map((finding) => finding.code)).toEqual([
      'NVRAM_HEADER_CHECKSUM',
      'NVRAM_SIZE_MISMATCH',
      'NVRAM_BAD_LAYOUT',
    ]);
  });

  test('a section name that fills its field with no NUL is read whole and refused', () => {
    const image = TracedNvram.format(deviceBytes, [
      { name: 'events', length: 4096 },
    ]).buildDurableImage();
    image.fill('a'.charCodeAt(0), 40, 72); // the 32-byte name field, no terminator
    const { findings, header } = examineHeader(image.subarray(0, 4096), image.length, 'image');
    expect(header?.sections[0]?.name).toBe('a'.repeat(32));
    expect(findings.slice(1)).toEqual([
      {
        code: 'NVRAM_BAD_LAYOUT',
        message: `nvram: image: section 0 (${JSON.stringify('a'.repeat(32))}): name is not 1..31 characters of [a-z0-9._-], NUL-padded`,
      },
    ]);
    expect(findings[0]?.code).toBe('NVRAM_HEADER_CHECKSUM'); // the bytes changed under it
  });

  test('a file shorter than the header page is NVRAM_TRUNCATED', () => {
    const { findings, header } = examineHeader(new Uint8Array(100), 100, 'image');
    expect(header).toBeNull();
    expect(findings.map((finding) => finding.code)).toEqual(['NVRAM_TRUNCATED']);
  });
});
