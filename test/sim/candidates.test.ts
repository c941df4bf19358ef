import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { TracedNvram } from '../../src/nvram/traced.js';
import { imagesAtCut, Px86Images } from '../../sim/explore/candidates.js';
import { recordWorkload } from '../../sim/explore/recording.js';
import { workloadSubject } from '../../sim/workloads/registry.js';

const sizeBytes = 2 * 4096;
const dataBytes = 4096;

type Op =
  | { kind: 'store'; offset: number; length: number; seed: number }
  | { kind: 'flush'; offset: number; length: number }
  | { kind: 'fence' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('store' as const),
      offset: fc.nat({ max: 511 }), // a few lines: stores pile up per line
      length: fc.integer({ min: 1, max: 24 }),
      seed: fc.nat({ max: 255 }),
    }),
    weight: 6,
  },
  fc.record({
    kind: fc.constant('flush' as const),
    offset: fc.nat({ max: 511 }),
    length: fc.integer({ min: 1, max: 128 }),
  }),
  fc.constant({ kind: 'fence' as const }),
);

function deviceAfter(ops: Op[]): TracedNvram {
  const device = TracedNvram.format(sizeBytes, [{ name: 'data', length: dataBytes }]);
  const base = device.section('data').offset;
  for (const op of ops) {
    if (op.kind === 'store') {
      const bytes = Uint8Array.from({ length: op.length }, (_, i) => (op.seed + i) & 0xff);
      device.storeBytes(base + op.offset, bytes);
    } else if (op.kind === 'flush') device.flush(base + op.offset, op.length);
    else device.fence();
  }
  return device;
}

describe('Px86Images', () => {
  test('names every image as the device does (survivorsByIndex), on random traces', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 40 }), fc.nat(), (ops, pick) => {
        const device = deviceAfter(ops);
        const count = device.imageCount('px86');
        const images = new Px86Images(device.pendingStores(), count);
        // Every index when there are few, else the two extremes and a few drawn ones.
        const indices =
          count <= 512
            ? Array.from({ length: count }, (_, i) => i)
            : [0, count - 1, pick % count, (pick * 7919) % count, Math.floor(count / 2)];
        for (const index of indices) {
          expect(Array.from(images.survivors(index))).toEqual(
            Array.from(device.survivorsByIndex('px86', index)),
          );
        }
        device.close();
      }),
      { numRuns: 200, seed: 4 },
    );
  });

  test('refuses an index at or beyond the image count', () => {
    const device = deviceAfter([
      { kind: 'store', offset: 0, length: 8, seed: 1 },
      { kind: 'store', offset: 64, length: 8, seed: 2 },
    ]);
    const images = new Px86Images(device.pendingStores(), device.imageCount('px86'));
    expect(device.imageCount('px86')).toBe(4);
    expect(() => images.survivors(4)).toThrow('below the image count');
    device.close();
  });

  test('the event workload: every cut visits the sets the device names', () => {
    const { subject } = workloadSubject('events-small');
    const recording = recordWorkload(subject);
    const cursor = TracedNvram.fromImage(recording.start, { boot: false });
    let visited = 0;
    for (let cut = 0; cut <= recording.instructions; cut++) {
      cursor.applyTrace(recording.trace, cursor.instructionCount, cut);
      const images = imagesAtCut(cursor, 'px86', 64, cut);
      const count = cursor.imageCount('px86');
      if (count > 64) continue; // sampled cuts: their indices are the sampler's
      expect(images.survivors.map((ids) => Array.from(ids))).toEqual(
        Array.from({ length: count }, (_, i) => Array.from(cursor.survivorsByIndex('px86', i))),
      );
      visited += count;
    }
    expect(visited).toBeGreaterThan(recording.instructions);
    cursor.close();
  });
});
