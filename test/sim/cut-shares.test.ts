import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CutShares } from '../../sim/explore/parallel.js';

describe('CutShares', () => {
  test('hands out every cut exactly once, in ascending chunks, whoever asks when', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 400 }),
        (cuts, count, askers) => {
          const cutPoints = Array.from({ length: cuts }, (_, k) => 3 * k);
          const shares = new CutShares(cutPoints, count);
          const handed: number[] = [];
          const finished = new Set<number>();
          for (let i = 0; finished.size < count; i++) {
            // The asker, or the next one still working when the asker was told "none".
            let who = (askers[i % askers.length] as number) % count;
            while (finished.has(who)) who = (who + 1) % count;
            const chunk = shares.take(who);
            if (chunk === undefined) {
              finished.add(who);
              continue;
            }
            expect(chunk.length).toBeGreaterThan(0);
            for (let k = 1; k < chunk.length; k++)
              expect(chunk[k]).toBeGreaterThan(chunk[k - 1] as number);
            handed.push(...chunk);
          }
          expect(handed.sort((a, b) => a - b)).toEqual(cutPoints);
        },
      ),
      { numRuns: 300, seed: 9 },
    );
  });

  test('each starts on its own contiguous share', () => {
    const shares = new CutShares(
      Array.from({ length: 100 }, (_, k) => k),
      2,
    );
    expect(shares.take(0)?.[0]).toBe(0);
    expect(shares.take(1)?.[0]).toBe(50);
  });
});
