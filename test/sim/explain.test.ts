/**
 * Explanations that name the bug: blame through a thin helper lands on the caller's line,
 * a store that survived in part is called torn, each ordering gap is said once, the hex diff
 * also shows what was lost, and the words recovery trusted are shown.
 */
import { describe, expect, test } from 'vitest';
import { logCrashSpec } from '../../examples/log-crash-spec.js';
import { MissingFenceLog } from '../../examples/persistent-log-missing-fence.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import { crashTest, type CrashSpec } from '../../sim/harness/index.js';

/** The thin wrapper everyone writes around the device. */
class Pmem {
  constructor(readonly device: NvramDevice) {}
  store(offset: number, bytes: Uint8Array): void {
    this.device.storeBytes(offset, bytes);
  }
  persist(offset: number, length: number): void {
    this.device.persist(offset, length);
  }
}

/**
 * Records of 16 bytes at 64 * k + 56 (spanning two lines) behind a count word; the bug: the
 * count is persisted before the record.
 */
function recordSpec(): CrashSpec<number[], number[], number> {
  const recordAt = (base: number, k: number): number => base + 64 + 128 * k + 56;
  return {
    name: 'records',
    format: { sizeBytes: 3 * 4096, sections: [{ name: 'r', length: 4096 }] },
    workload(device, context, values) {
      const pmem = new Pmem(device);
      const base = device.section('r').offset;
      values.forEach((value, k) => {
        const record = new Uint8Array(16).fill(value);
        pmem.store(recordAt(base, k), record); // the record
        pmem.store(base, Uint8Array.of(k + 1, 0, 0, 0, 0, 0, 0, 0)); // the count
        pmem.persist(base, 8); // count first: the bug
        pmem.persist(recordAt(base, k), 16);
        context.mark(value);
      });
    },
    recover(device) {
      const base = device.section('r').offset;
      const count = device.loadU64(base);
      const out: number[] = [];
      const bytes = new Uint8Array(16);
      for (let k = 0; k < count; k++) {
        device.loadBytes(recordAt(base, k), bytes);
        out.push(bytes.every((b) => b === bytes[0]) ? (bytes[0] as number) : -1);
      }
      return out;
    },
    check({ recovered, marks }, values) {
      if (recovered.length < marks.length) return 'lost';
      return recovered.every((v, i) => v === values[i]) || `garbage: ${JSON.stringify(recovered)}`;
    },
  };
}

describe('explanations', () => {
  const result = crashTest(recordSpec(), { input: [7, 9], model: 'px86', violationsMax: 64 });

  test('blame through a helper lands on the caller, with a short user stack', () => {
    expect(result.ok).toBe(false);
    const text = result.explain();
    const gap = text.split('\n').find((line) => line.includes('ordering gap:')) ?? '';
    // The record store and the count store both go through Pmem.store: named by their callers.
    expect(gap).toMatch(/test\/sim\/explain\.test\.ts:\d+ .*via test\/sim\/explain\.test\.ts:\d+/);
    expect(gap).not.toMatch(/\(test\/sim\/explain\.test\.ts:\d+ \(Pmem\.store\)\)/);
    expect(text).toMatch(
      /stack of instruction \d+, the last that ran:\n\s+at test\/sim\/explain\.test\.ts/,
    );
  });

  test('each ordering gap is said once, not once per lost word', () => {
    const whole = result.violations.find((v) => {
      const step = v.plan.steps[0];
      return step !== undefined && result.replay(v).stages[0]?.survivors.size === 1;
    });
    expect(whole).toBeDefined();
    const text = result.explain(whole);
    expect(text.match(/ordering gap:/g)).toHaveLength(1);
  });

  test('a store that survived in part is called torn', () => {
    const torn = result.violations
      .map((v) => result.explain(v))
      .find((t) => t.includes('torn store'));
    expect(torn).toMatch(
      /torn store: instruction \d+ \(0x\w+ \+16, .*\) survived in part: 1 of 2 words/,
    );
  });

  test('the diff against every pending store applied marks the lost words', () => {
    const text = result.explain();
    expect(text).toContain('crash image vs every pending store applied');
    expect(text).toMatch(/intended .*\n.*crash .*\n.*LL.* lost \(instruction \d+/);
  });

  test('the words recovery loaded that the crash changed are shown', () => {
    const log = crashTest(logCrashSpec(MissingFenceLog), { input: [5], model: 'px86' });
    const text = log.explain();
    expect(text).toMatch(/words recovery loaded that the crash changed/);
    expect(text).toMatch(/read 00 00 00 00 00 00 00 00 {2}intended 05 00 .*was lost/);
  });
});
