import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  CrashPlanError,
  decodePlan,
  encodeIds,
  encodePlan,
  type CrashPlan,
} from '../../sim/plan.js';

const planArbitrary: fc.Arbitrary<CrashPlan> = fc.record({
  workload: fc.string({ minLength: 1, maxLength: 20 }),
  params: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.oneof(fc.integer(), fc.string(), fc.boolean()),
    { maxKeys: 4 },
  ),
  model: fc.constantFrom('px86' as const, 'relaxed' as const, 'eadr' as const),
  steps: fc.array(
    fc.record({
      cut: fc.nat({ max: 2 ** 40 }),
      survivors: fc
        .uniqueArray(fc.nat({ max: 5000 }), { maxLength: 60 })
        .map((ids) => ids.sort((a, b) => a - b)),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});

describe('crash plan tokens', () => {
  test('a token decodes to the plan it was made from', () => {
    fc.assert(
      fc.property(planArbitrary, (plan) => {
        const token = encodePlan(plan);
        expect(token).toMatch(/^nvr1\.[A-Za-z0-9_-]+$/);
        expect(decodePlan(token)).toEqual(plan);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  test('survivor ids are written as ranges', () => {
    expect(encodeIds([0, 1, 2, 3, 7, 9, 10])).toBe('0-3.7.9-10');
    expect(encodeIds([])).toBe('');
  });

  test('surrounding whitespace is ignored', () => {
    const plan: CrashPlan = {
      workload: 'log',
      params: { seed: 1 },
      model: 'px86',
      steps: [{ cut: 3, survivors: [1] }],
    };
    expect(decodePlan(`  ${encodePlan(plan)}\n`)).toEqual(plan);
  });

  test.each([
    ['no prefix', 'abc'],
    ['not base64 JSON', 'nvr1.!!!!'],
    [
      'cut short',
      encodePlan({
        workload: 'log',
        params: {},
        model: 'px86',
        steps: [{ cut: 3, survivors: [1] }],
      }).slice(0, 20),
    ],
    [
      'an unknown model',
      `nvr1.${Buffer.from(JSON.stringify({ w: 'log', p: {}, m: 'x86', s: [[1, '']] })).toString('base64url')}`,
    ],
    [
      'no steps',
      `nvr1.${Buffer.from(JSON.stringify({ w: 'log', p: {}, m: 'px86', s: [] })).toString('base64url')}`,
    ],
    [
      'a negative cut',
      `nvr1.${Buffer.from(JSON.stringify({ w: 'log', p: {}, m: 'px86', s: [[-1, '']] })).toString('base64url')}`,
    ],
    [
      'descending survivors',
      `nvr1.${Buffer.from(JSON.stringify({ w: 'log', p: {}, m: 'px86', s: [[1, '5.2']] })).toString('base64url')}`,
    ],
  ])('a token with %s is rejected with CRASH_PLAN_INVALID', (_what, token) => {
    expect(() => decodePlan(token)).toThrow(CrashPlanError);
    try {
      decodePlan(token);
    } catch (error) {
      expect((error as CrashPlanError).code).toBe('CRASH_PLAN_INVALID');
    }
  });
});
