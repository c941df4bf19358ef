import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { NvramError } from '../../src/nvram/errors.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { bootedHeader } from '../../sim/explore/recording.js';
import { RecoveryDevice } from '../../sim/explore/recovery-device.js';

const sizeBytes = 4 * 4096;
const sections = [{ name: 'data', length: 3 * 4096 }];

type Op =
  | { kind: 'loadU64'; word: number }
  | { kind: 'loadU32'; word: number }
  | { kind: 'loadBytes'; offset: number; length: number }
  | { kind: 'storeU64'; word: number; value: number }
  | { kind: 'storeU32'; word: number; value: number }
  | { kind: 'storeBytes'; offset: number; bytes: Uint8Array }
  | { kind: 'persist'; offset: number; length: number };

const dataWords = (3 * 4096) / 8;
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('loadU64' as const, 'loadU32' as const),
    word: fc.nat({ max: dataWords - 1 }),
  }) as fc.Arbitrary<Op>,
  fc.record({
    kind: fc.constant('loadBytes' as const),
    offset: fc.nat({ max: 3 * 4096 - 40 }),
    length: fc.nat({ max: 40 }),
  }),
  fc.record({
    kind: fc.constant('storeU64' as const),
    word: fc.nat({ max: dataWords - 1 }),
    value: fc.maxSafeNat(),
  }),
  fc.record({
    kind: fc.constant('storeU32' as const),
    word: fc.nat({ max: dataWords - 1 }),
    value: fc.nat({ max: 2 ** 32 - 1 }),
  }),
  fc.record({
    kind: fc.constant('storeBytes' as const),
    offset: fc.nat({ max: 3 * 4096 - 40 }),
    bytes: fc.uint8Array({ maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constant('persist' as const),
    offset: fc.nat({ max: 3 * 4096 - 128 }),
    length: fc.nat({ max: 128 }),
  }),
);

/** Runs the ops as a recovery would and returns every value it loaded. */
function run(device: TracedNvram | RecoveryDevice, ops: Op[]): unknown[] {
  const base = 4096;
  const seen: unknown[] = [];
  for (const op of ops) {
    if (op.kind === 'loadU64') seen.push(device.loadU64(base + op.word * 8));
    else if (op.kind === 'loadU32') seen.push(device.loadU32(base + op.word * 8 + 4));
    else if (op.kind === 'loadBytes') {
      const target = new Uint8Array(op.length);
      device.loadBytes(base + op.offset, target);
      seen.push(Array.from(target));
    } else if (op.kind === 'storeU64') device.storeU64(base + op.word * 8, op.value);
    else if (op.kind === 'storeU32') device.storeU32(base + op.word * 8, op.value);
    else if (op.kind === 'storeBytes') device.storeBytes(base + op.offset, op.bytes);
    else device.persist(base + op.offset, op.length);
  }
  return seen;
}

describe('RecoveryDevice', () => {
  test('gives the same loads, load marks, instruction count and final image as a rebooted TracedNvram', () => {
    const formatted = TracedNvram.format(sizeBytes, sections);
    const start = new Uint8Array(formatted.native.buffer).slice();
    const booted = bootedHeader(start);
    const lab = new RecoveryDevice(booted.header, booted.page);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: dataWords - 1 }), fc.nat({ max: 255 })), { maxLength: 64 }),
        fc.array(opArbitrary, { maxLength: 40 }),
        (bytes, ops) => {
          const image = start.slice();
          for (const [word, value] of bytes) image[4096 + word * 8 + (value % 8)] = value;
          const traced = TracedNvram.fromImage(image, { boot: true });
          traced.startLoadRecording();
          lab.reset(image);
          expect(run(lab, ops)).toEqual(run(traced, ops));
          expect(Buffer.from(lab.loads).equals(traced.stopLoadRecording())).toBe(true);
          expect(lab.instructionCount).toBe(traced.instructionCount);
          expect(Buffer.from(lab.image).equals(new Uint8Array(traced.native.buffer))).toBe(true);
          expect(lab.header).toEqual(traced.header);
          traced.close();
        },
      ),
      { numRuns: 100, seed: 3 },
    );
  });

  test('rejects what TracedNvram rejects, with the same codes', () => {
    const formatted = TracedNvram.format(sizeBytes, sections);
    const start = new Uint8Array(formatted.native.buffer).slice();
    const booted = bootedHeader(start);
    const lab = new RecoveryDevice(booted.header, booted.page);
    lab.reset(start);
    const code = (action: () => void): string | undefined => {
      try {
        action();
      } catch (error) {
        return error instanceof NvramError ? error.code : 'not an NvramError';
      }
      return undefined;
    };
    for (const device of [lab, formatted]) {
      expect(code(() => device.storeU64(8, 1))).toBe('NVRAM_OUT_OF_RANGE');
      expect(code(() => device.storeU64(4100, 1))).toBe('NVRAM_UNALIGNED');
      expect(code(() => device.loadU64(sizeBytes))).toBe('NVRAM_OUT_OF_RANGE');
      expect(code(() => device.flush(sizeBytes - 8, 16))).toBe('NVRAM_OUT_OF_RANGE');
      expect(code(() => device.section('nope'))).toBe('NVRAM_UNKNOWN_SECTION');
    }
  });
});
