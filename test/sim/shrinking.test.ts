/**
 * Counterexamples are minimal: over many seeds, the input assertCrashSafe reports cannot lose
 * any single element and still fail (1-minimal), and the error's `crash.cut` is the cut its
 * message prints.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { logCrashSpec } from '../../examples/log-crash-spec.js';
import { MissingFenceLog } from '../../examples/persistent-log-missing-fence.js';
import { PersistentLog } from '../../examples/persistent-log.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import { assertCrashSafe, CrashCounterexample } from '../../sim/harness/fast-check.js';
import { crashTest, type CrashSpec } from '../../sim/harness/index.js';

/** The count is stored before the entry is persisted: the other classic order bug. */
class CountFirstLog extends PersistentLog {
  override append(value: number): void {
    const device: NvramDevice = this.device;
    const base = device.section('log').offset;
    const count = this.count();
    device.storeU64(base, count + 1);
    device.persist(base, 8);
    device.storeU64(base + 64 + count * 8, value);
    device.persist(base + 64 + count * 8, 8);
  }
}

function counterexample(
  spec: CrashSpec<number[], number[], number>,
  seed: number,
): CrashCounterexample {
  const input = fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 8 });
  try {
    assertCrashSafe(spec, { input, numRuns: 60, seed });
  } catch (error) {
    if (error instanceof CrashCounterexample) return error;
    throw error;
  }
  throw new Error(`seed ${seed}: no counterexample`);
}

function oneMinimal(spec: CrashSpec<number[], number[], number>, input: number[]): boolean {
  return input.every((_, i) => {
    const shorter = [...input.slice(0, i), ...input.slice(i + 1)];
    return crashTest(spec, { input: shorter, model: 'px86' }).ok;
  });
}

describe('minimal counterexamples', () => {
  const shapes = [
    ['missing fence', logCrashSpec(MissingFenceLog)],
    ['count before entry', logCrashSpec(CountFirstLog)],
  ] as const;
  for (const [name, spec] of shapes) {
    test(`${name}: 1-minimal input, and crash.cut is the cut the message prints, over 6 seeds`, () => {
      for (let seed = 1; seed <= 6; seed++) {
        const failure = counterexample(spec, seed);
        const input = failure.crash.input as number[];
        expect(oneMinimal(spec, input), `seed ${seed}: ${JSON.stringify(input)}`).toBe(true);
        expect(failure.crash.cut).toBe(failure.plan.steps[0]?.cut);
        expect(failure.message).toContain(`cut ${failure.crash.cut},`);
        expect(failure.crash.survivors).toEqual(failure.plan.steps[0]?.survivors);
      }
    });
  }
});
