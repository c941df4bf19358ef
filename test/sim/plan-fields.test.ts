/**
 * sim/plan.ts: every field of a decoded token is checked, each with its own message; the
 * media-fault flips of a step travel with it.
 */
import { describe, expect, test } from 'vitest';
import { CrashPlanError, decodePlan, encodePlan } from '../../sim/plan.js';

const token = (compact: unknown): string =>
  `nvr1.${Buffer.from(JSON.stringify(compact)).toString('base64url')}`;
const valid = { w: 'log', p: {}, m: 'px86', s: [[1, '']] };

function refusal(compact: unknown): string {
  try {
    decodePlan(token(compact));
  } catch (error) {
    if (error instanceof CrashPlanError) return error.message;
    throw error;
  }
  return 'accepted';
}

describe('decodePlan field by field', () => {
  test.each([
    ['not an object', 7, 'plan is not an object'],
    ['null', null, 'plan is not an object'],
    ['a bad trace fingerprint', { ...valid, t: 'XYZ' }, 'plan trace fingerprint invalid'],
    ['no workload', { ...valid, w: '' }, 'plan names no workload'],
    ['params as an array', { ...valid, p: [1] }, 'plan params invalid'],
    ['params null', { ...valid, p: null }, 'plan params invalid'],
    ['a step that is not a pair', { ...valid, s: [[1]] }, 'step 0 malformed'],
    ['a step of four', { ...valid, s: [[1, '', '', '']] }, 'step 0 malformed'],
    ['a fractional cut', { ...valid, s: [[1.5, '']] }, 'step 0: bad cut'],
    ['survivors not text', { ...valid, s: [[1, [2]]] }, 'step 0: bad survivor list'],
    ['flips not text', { ...valid, s: [[1, '', 3]] }, 'step 0: bad flip list'],
    ['a bad survivor range', { ...valid, s: [[1, '2-x']] }, 'step 0: bad survivor range "2-x"'],
    ['a range that runs down', { ...valid, s: [[1, '7-3']] }, 'step 0: survivor ids must ascend'],
  ])('%s', (_what, compact, message) => {
    expect(refusal(compact)).toBe(message);
  });

  test('a step with media-fault flips and a trace fingerprint round-trip', () => {
    const plan = decodePlan(token({ ...valid, s: [[4, '1-3', '9.12']], t: '0abc' }));
    expect(plan.steps).toEqual([{ cut: 4, survivors: [1, 2, 3], flips: [9, 12] }]);
    expect(plan.trace).toBe('0abc');
    expect(decodePlan(encodePlan(plan))).toEqual(plan);
  });
});
