/**
 * The native traced device against the reference model of SPEC 3 (reference-model.ts):
 * a differential property test under each persistency model, then hand-checked cases.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { PowerCutError, TracedNvram } from '../../src/nvram/index.js';
import { models, ReferenceDevice, ReferencePowerCut, type Model } from './reference-model.js';

const seed = Number(process.env['FC_SEED'] ?? 20_251_126);
const pageBytes = 4096;
/** Three pages: the header, one tiny section, and one page of free space. */
const deviceBytes = 3 * pageBytes;
const dataStart = pageBytes;
/** Enumerate the allowed set only below this many images (and 2^12 reference subsets). */
const enumerateImagesMax = 512;
const enumerateStoresMax = 12;

type Op =
  | { kind: 'store'; offset: number; bytes: Uint8Array }
  | { kind: 'flush'; offset: number; length: number }
  | { kind: 'fence' };

function formatDevice(): TracedNvram {
  return TracedNvram.format(deviceBytes, [{ name: 'tiny', length: 256 }]);
}

/** Stores cluster in the first 5 lines so that they share words and lines; some go near the end. */
const storeOp: fc.Arbitrary<Op> = fc
  .record({
    near: fc.boolean(),
    at: fc.integer({ min: 0, max: 320 }),
    bytes: fc.uint8Array({ minLength: 0, maxLength: 20 }),
  })
  .map(({ near, at, bytes }) => ({
    kind: 'store' as const,
    offset: near ? dataStart + at : deviceBytes - 24 - (at % 100),
    bytes,
  }));
const flushOp: fc.Arbitrary<Op> = fc
  .record({ at: fc.integer({ min: 0, max: 340 }), length: fc.integer({ min: 0, max: 130 }) })
  .map(({ at, length }) => ({ kind: 'flush' as const, offset: dataStart + at, length }));
const fenceOp: fc.Arbitrary<Op> = fc.constant({ kind: 'fence' as const });
const program = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: storeOp },
    { weight: 2, arbitrary: flushOp },
    { weight: 1, arbitrary: fenceOp },
  ),
  {
    minLength: 1,
    maxLength: 12,
  },
);

function showOp(op: Op): string {
  if (op.kind === 'store') return `store(${op.offset}, [${op.bytes.join(',')}])`;
  if (op.kind === 'flush') return `flush(${op.offset}, ${op.length})`;
  return 'fence()';
}

/** Runs `ops` on both; a power cut must stop both at the same instruction. */
function runBoth(device: TracedNvram, reference: ReferenceDevice, ops: Op[]): void {
  for (const op of ops) {
    let deviceCut = false;
    let referenceCut = false;
    try {
      if (op.kind === 'store') device.storeBytes(op.offset, op.bytes);
      else if (op.kind === 'flush') device.flush(op.offset, op.length);
      else device.fence();
    } catch (error) {
      if (!(error instanceof PowerCutError)) throw error;
      deviceCut = true;
    }
    try {
      if (op.kind === 'store') reference.store(op.offset, op.bytes);
      else if (op.kind === 'flush') reference.flush(op.offset, op.length);
      else reference.fence();
    } catch (error) {
      if (!(error instanceof ReferencePowerCut)) throw error;
      referenceCut = true;
    }
    expect(deviceCut, `power cut at ${showOp(op)}`).toBe(referenceCut);
  }
}

/** The native store list as keys `instruction:offset`, with each id's key. */
function nativeStores(device: TracedNvram): { keys: string[]; keyOf: Map<number, string> } {
  const list = device.pendingStores();
  const keys: string[] = [];
  const keyOf = new Map<number, string>();
  for (let i = 0; i < list.ids.length; i++) {
    const key = `${list.instructions[i]}:${list.offsets[i]}`;
    keys.push(`${key}:${list.states[i] === 0 ? 'pending' : 'flushing'}`);
    keyOf.set(list.ids[i] as number, key);
  }
  return { keys, keyOf };
}

function referenceKey(reference: ReferenceDevice, id: number): string {
  const store = reference.stores.find((entry) => entry.id === id);
  if (store === undefined) throw new Error(`reference has no word-store ${id}`);
  return `${store.instruction}:${store.offset}`;
}

/** -1 if equal, else the first differing offset (vitest's deep equality is slow on 12 KiB). */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)) return -1;
  return a.findIndex((byte, i) => byte !== b[i]);
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  expect(firstDifference(actual, expected), `${what}: first differing byte`).toBe(-1);
}

function hex(image: Uint8Array): string {
  return Buffer.from(image).toString('hex');
}

function setKey(keys: string[]): string {
  return [...keys].sort().join(' ');
}

function compare(device: TracedNvram, reference: ReferenceDevice, model: Model): void {
  const { keys, keyOf } = nativeStores(device);
  expect(keys).toEqual(
    reference.stores.map((store) => `${store.instruction}:${store.offset}:${store.state}`),
  );
  expectSameBytes(device.buildDurableImage(), reference.durable, 'durable image');
  expectSameBytes(new Uint8Array(device.native.buffer), reference.volatile, 'volatile image');
  const count = device.imageCount(model);
  expect(count).toBe(reference.imageCount(model));
  const idOfKey = new Map([...keyOf].map(([id, key]) => [key, id]));
  const toNativeIds = (ids: Iterable<number>): Float64Array =>
    Float64Array.from([...ids].map((id) => idOfKey.get(referenceKey(reference, id)) as number));
  if (count <= enumerateImagesMax && reference.stores.length <= enumerateStoresMax) {
    compareEnumerated(device, reference, model, keyOf);
  }
  for (let s = 0; s < 8; s++) {
    const survivors = Array.from(device.survivorsBySeed(model, s * 7919 + 1));
    expect(device.allows(model, Float64Array.from(survivors))).toBe(true);
    const referenceIds = new Set(
      reference.stores
        .filter((store) =>
          survivors.some((id) => keyOf.get(id) === `${store.instruction}:${store.offset}`),
        )
        .map((store) => store.id),
    );
    expect(referenceIds.size).toBe(survivors.length);
    expect(reference.allows(model, referenceIds)).toBe(true);
    expectSameBytes(
      device.buildImage(Float64Array.from(survivors)),
      reference.image(referenceIds),
      `image of seed ${s}`,
    );
  }
  // allows agrees on arbitrary subsets, allowed or not
  for (let mask = 1; mask < Math.min(64, 2 ** reference.stores.length); mask += 5) {
    const ids = new Set(
      reference.stores.filter((_, i) => (mask & (1 << i)) !== 0).map((store) => store.id),
    );
    expect(device.allows(model, toNativeIds(ids)), `allows ${[...ids].join(',')}`).toBe(
      reference.allows(model, ids),
    );
  }
}

function compareEnumerated(
  device: TracedNvram,
  reference: ReferenceDevice,
  model: Model,
  keyOf: Map<number, string>,
): void {
  const count = device.imageCount(model);
  const nativeSets = new Set<string>();
  const nativeImages = new Set<string>();
  for (let index = 0; index < count; index++) {
    const survivors = Array.from(device.survivorsByIndex(model, index));
    nativeSets.add(setKey(survivors.map((id) => keyOf.get(id) as string)));
    nativeImages.add(hex(device.buildImage(Float64Array.from(survivors))));
    // Index 0: nothing survived but what the model makes durable without a flush (eadr:
    // every store issued before the last fence).
    const fenced = model === 'eadr' ? reference.stores.filter((store) => store.fenced).length : 0;
    if (index === 0) expect(survivors.length).toBe(fenced);
    if (index === count - 1) expect(survivors.length).toBe(reference.stores.length);
  }
  expect(nativeSets.size, 'each index names a different survivor set').toBe(count);
  const referenceSets = reference.allowedSurvivorSets(model);
  expect(referenceSets.length).toBe(count);
  expect(nativeSets).toEqual(
    new Set(referenceSets.map((ids) => setKey(ids.map((id) => referenceKey(reference, id))))),
  );
  expect(nativeImages).toEqual(
    new Set(referenceSets.map((ids) => hex(reference.image(new Set(ids))))),
  );
}

describe('the traced device against the reference model', () => {
  for (const model of models) {
    test(`agrees on stores, image counts, allowed image sets and built images under ${model}`, () => {
      fc.assert(
        fc.property(
          program,
          fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
          (ops, cut) => {
            const device = formatDevice();
            const reference = new ReferenceDevice(device.buildDurableImage());
            reference.instructionCount = device.instructionCount;
            if (cut !== undefined) {
              device.setPowerCut(device.instructionCount + cut);
              reference.cutAt = reference.instructionCount + cut;
            }
            runBoth(device, reference, ops);
            expect(device.poweredOff).toBe(reference.poweredOff);
            compare(device, reference, model);
          },
        ),
        { seed, numRuns: 300 },
      );
    });
  }

  test('the reference count formula matches brute force', () => {
    fc.assert(
      fc.property(program, (ops) => {
        const reference = new ReferenceDevice(formatDevice().buildDurableImage());
        runBoth(formatDevice(), reference, ops);
        for (const model of models) {
          if (reference.stores.length > enumerateStoresMax) continue;
          expect(reference.allowedSurvivorSets(model).length).toBe(reference.imageCount(model));
        }
      }),
      { seed, numRuns: 100 },
    );
  });
});

/** The stored word-stores of the device as {id, offset}, in program order. */
function pending(device: TracedNvram): Array<{ id: number; offset: number }> {
  const list = device.pendingStores();
  return Array.from(list.ids, (id, i) => ({ id, offset: list.offsets[i] as number }));
}

function images(device: TracedNvram, model: Model): Uint8Array[] {
  return Array.from({ length: device.imageCount(model) }, (_, index) =>
    device.buildImage(device.survivorsByIndex(model, index)),
  );
}

describe('hand-checked cases', () => {
  test('a 16-byte store across a word boundary can tear, leaving only its first words', () => {
    const device = formatDevice();
    const record = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    device.storeBytes(dataStart + 4, record); // bytes 4..19 touch the words at 0, 8 and 16
    expect(pending(device).map((store) => store.offset - dataStart)).toEqual([0, 8, 16]);
    const built = images(device, 'px86');
    expect(built.length).toBe(4); // a prefix of 0..3 words of the one line
    const torn = built.find((image) => image[dataStart + 4] === 0xa0 && image[dataStart + 8] === 0);
    expect(torn, 'an image with the first word only').toBeDefined();
    expect(Array.from(torn!.subarray(dataStart + 4, dataStart + 20))).toEqual([
      0xa0,
      0xa1,
      0xa2,
      0xa3,
      ...new Array(12).fill(0),
    ]);
    const whole = built[built.length - 1]!;
    expect(whole.subarray(dataStart + 4, dataStart + 20)).toEqual(record);
  });

  test('under px86 the second of two stores to one line cannot survive without the first', () => {
    const device = formatDevice();
    device.storeU64(dataStart, 1);
    device.storeU64(dataStart + 8, 2);
    const [first, second] = pending(device);
    expect(device.imageCount('px86')).toBe(3);
    expect(device.allows('px86', Float64Array.of(second!.id))).toBe(false);
    expect(device.allows('px86', Float64Array.of(first!.id))).toBe(true);
    for (const image of images(device, 'px86')) {
      const view = new DataView(image.buffer);
      if (view.getUint32(dataStart + 8, true) === 2)
        expect(view.getUint32(dataStart, true)).toBe(1);
    }
  });

  test('under relaxed the second of two stores to one line can survive without the first', () => {
    const device = formatDevice();
    device.storeU64(dataStart, 1);
    device.storeU64(dataStart + 8, 2);
    const [, second] = pending(device);
    expect(device.imageCount('relaxed')).toBe(4);
    expect(device.allows('relaxed', Float64Array.of(second!.id))).toBe(true);
    const alone = images(device, 'relaxed').filter((image) => {
      const view = new DataView(image.buffer);
      return view.getUint32(dataStart + 8, true) === 2 && view.getUint32(dataStart, true) === 0;
    });
    expect(alone.length).toBe(1);
  });

  test('a flush without a fence does not make a store durable; the fence does', () => {
    const device = formatDevice();
    device.storeU64(dataStart, 7);
    device.flush(dataStart, 8);
    expect(device.pendingStores().states).toEqual(Uint8Array.of(1));
    expect(new DataView(device.buildDurableImage().buffer).getUint32(dataStart, true)).toBe(0);
    for (const model of models) expect(device.imageCount(model)).toBe(2);
    device.fence();
    expect(device.pendingStores().ids.length).toBe(0);
    expect(new DataView(device.buildDurableImage().buffer).getUint32(dataStart, true)).toBe(7);
    for (const model of models) expect(device.imageCount(model)).toBe(1);
  });

  test('a fence without a flush makes nothing durable', () => {
    const device = formatDevice();
    device.storeU64(dataStart, 7);
    device.fence();
    expect(device.pendingStores().ids.length).toBe(1);
  });

  test('under eadr the survivors are a prefix in global program order, across lines', () => {
    const device = formatDevice();
    device.storeU64(dataStart, 1); // line 0
    device.storeU64(dataStart + 128, 2); // line 2
    const [first, second] = pending(device);
    expect(device.imageCount('eadr')).toBe(3);
    expect(device.allows('eadr', Float64Array.of(second!.id))).toBe(false);
    expect(device.allows('eadr', Float64Array.of(first!.id))).toBe(true);
    expect(device.allows('px86', Float64Array.of(second!.id))).toBe(true); // lines are independent
    expect(device.imageCount('px86')).toBe(4);
  });

  test('under eadr a fence drains every earlier store, flushed or not: one image after it', () => {
    const device = formatDevice();
    device.storeBytes(dataStart + 240, Uint8Array.of(1)); // never flushed
    device.fence();
    expect(device.pendingStores().ids.length).toBe(1); // not durable under px86 or relaxed
    expect(device.imageCount('eadr')).toBe(1);
    expect(device.imageCount('px86')).toBe(2);
    const only = device.buildImage(device.survivorsByIndex('eadr', 0));
    expectSameBytes(only, new Uint8Array(device.native.buffer), 'eadr: the fenced store survives');
    expect(device.allows('eadr', new Float64Array(0))).toBe(false);
  });

  test('under eadr a fenced store never flushed cannot be lost while a later store survives', () => {
    const device = formatDevice();
    device.storeU64(dataStart, 1); // line 0, never flushed
    device.fence();
    device.storeU64(dataStart + 128, 2); // line 2
    const [fenced, later] = pending(device);
    expect(device.imageCount('eadr')).toBe(2);
    expect(device.allows('eadr', Float64Array.of(later!.id))).toBe(false);
    expect(device.allows('eadr', Float64Array.of(fenced!.id))).toBe(true);
    expect(device.allows('eadr', Float64Array.of(fenced!.id, later!.id))).toBe(true);
    expect(Array.from(device.survivorsByIndex('eadr', 0))).toEqual([fenced!.id]);
    for (let seed = 0; seed < 8; seed++) {
      expect(device.survivorsBySeed('eadr', seed)[0]).toBe(fenced!.id);
    }
  });

  test('under eadr a flush changes nothing', () => {
    const flushed = formatDevice();
    const plain = formatDevice();
    for (const device of [flushed, plain]) {
      device.storeU64(dataStart, 1);
      if (device === flushed) device.flush(dataStart, 8);
      device.storeU64(dataStart + 128, 2);
    }
    expect(flushed.imageCount('eadr')).toBe(plain.imageCount('eadr'));
    expect(flushed.imageCount('eadr')).toBe(3);
  });

  test('a power cut at instruction k runs instructions before k only, and every later one throws', () => {
    const device = formatDevice();
    const k = device.instructionCount + 2;
    device.setPowerCut(k);
    device.storeU64(dataStart, 1); // instruction k-2
    device.flush(dataStart, 8); // k-1
    expect(device.poweredOff).toBe(false);
    expect(() => device.fence()).toThrow(PowerCutError);
    // fence never ran: the store is flushing, not durable
    expect(device.poweredOff).toBe(true);
    expect(device.pendingStores().states).toEqual(Uint8Array.of(1));
    try {
      device.storeU64(dataStart + 8, 2);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PowerCutError);
      expect((error as PowerCutError).instruction).toBe(k);
    }
    expect(() => device.loadU64(dataStart)).toThrow(PowerCutError);
  });

  test('the last image is the volatile image and the first is the durable one', () => {
    const device = formatDevice();
    device.storeBytes(dataStart + 60, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9)); // crosses a line
    for (const model of models) {
      const count = device.imageCount(model);
      const last = device.buildImage(device.survivorsByIndex(model, count - 1));
      expectSameBytes(last, new Uint8Array(device.native.buffer), `${model} last image`);
      const first = device.buildImage(device.survivorsByIndex(model, 0));
      expectSameBytes(first, device.buildDurableImage(), `${model} first image`);
    }
  });
});
