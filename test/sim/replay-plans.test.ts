/**
 * sim/replay.ts and sim/harness/crash-test.ts given plans they must refuse or cannot finish:
 * no steps, a cut past the end, survivors the model does not allow, a recovery that throws, a
 * token without its input; and a spec without a name.
 */
import { describe, expect, test } from 'vitest';
import { logCrashSpec } from '../../examples/log-crash-spec.js';
import { PersistentLog } from '../../examples/persistent-log.js';
import {
  crashTest,
  inputParams,
  replayCrashTest,
  subjectOf,
  type CrashSpec,
} from '../../sim/harness/crash-test.js';
import { runCrashCase } from '../../sim/harness/fast-check.js';
import { CrashPlanError, encodePlan, type CrashPlan } from '../../sim/plan.js';
import { replayPlan } from '../../sim/replay.js';

const spec = logCrashSpec(PersistentLog, 'log');
const input = [3, 4];
const subject = subjectOf(spec, input);

/** A plan of the log that breaks nothing: a cut in the middle, no survivors. */
function plan(): CrashPlan {
  return runCrashCase(spec, { input, cut: 5, picks: [] }, 'px86').plan;
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof CrashPlanError) return error.message;
    throw error;
  }
  return 'accepted';
}

describe('replayPlan refuses', () => {
  test('a plan without steps', () => {
    expect(refusal(() => replayPlan(subject, { ...plan(), steps: [] }))).toBe('plan has no steps');
  });

  test('a cut past the end of the workload', () => {
    const past = { ...plan(), steps: [{ cut: 10_000, survivors: [] }] };
    expect(refusal(() => replayPlan(subject, past))).toMatch(
      /^step 0: cut 10000 is past the end of the workload \(\d+ instructions\)$/,
    );
  });

  test('survivors the model does not allow', () => {
    const cut = plan().steps[0]?.cut ?? 0;
    const unknown = { ...plan(), steps: [{ cut, survivors: [999_999] }] };
    expect(refusal(() => replayPlan(subject, unknown))).toBe(
      'step 0: the px86 model does not allow these surviving word-stores',
    );
  });
});

describe('a recovery that throws', () => {
  test("is the finding 'recovery completes', with the error", () => {
    const throwing: CrashSpec<number[], number[], number> = {
      ...spec,
      name: 'throwing-log',
      recover: () => {
        throw new RangeError('the log is unreadable');
      },
    };
    const result = replayPlan(subjectOf(throwing, input), { ...plan(), workload: 'throwing-log' });
    expect(result.findings).toEqual([
      expect.objectContaining({
        invariant: 'recovery completes',
        message: expect.stringContaining('RangeError: the log is unreadable'),
      }),
    ]);
  });
});

describe('the harness', () => {
  test('a spec without a name is the subject "subject"', () => {
    const unnamed: CrashSpec<number[], number[], number> = { ...spec };
    delete unnamed.name;
    expect(subjectOf(unnamed, input).name).toBe('subject');
    const { token } = runCrashCase(unnamed, { input, cut: 2, picks: [] }, 'px86');
    expect(replayCrashTest(unnamed, token).result.findings).toEqual([]);
  });

  test('an input that is not JSON is not carried: a replay without it is refused', () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(inputParams(cyclic)).toEqual({});
    expect(inputParams(() => 3)).toEqual({});
    const token = encodePlan({ ...plan(), params: {} });
    expect(refusal(() => replayCrashTest(spec, token))).toBe(
      'this plan carries no input: pass it to replay',
    );
    expect(replayCrashTest(spec, token, input).result.findings).toEqual([]);
  });

  test('replay and explain of a run without violations have nothing to show', () => {
    const result = crashTest(spec, { input: [1] });
    expect(result.ok).toBe(true);
    expect(() => result.replay()).toThrow('crashTest: no violation to replay');
    expect(() => result.explain()).toThrow('crashTest: no violation to replay');
  });
});
