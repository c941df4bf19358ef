/**
 * sim/subject.ts's helpers on their own: what a check may return and how anything else is
 * described, a check that throws something other than an Error, a check without workload
 * marks, and the canonical JSON of bigints and typed arrays.
 */
import { describe, expect, test } from 'vitest';
import {
  canonicalJson,
  checkOutcome,
  thrownFinding,
  toFindings,
  type CrashSubject,
} from '../../sim/subject.js';

describe('toFindings', () => {
  test('an object that is not a finding is a usage error that shows the object', () => {
    expect(() => toFindings([{ invariant: 'x' }] as never)).toThrow(
      /it returned an object \{"invariant":"x"\}$/,
    );
  });

  test('an object JSON cannot print is described as an object', () => {
    const looped: Record<string, unknown> = {};
    looped['self'] = looped;
    expect(() => toFindings([looped] as never)).toThrow(/it returned an object$/);
  });

  test('null in the list is described by its type', () => {
    expect(() => toFindings([null] as never)).toThrow(/it returned object null$/);
    expect(() => toFindings([7] as never)).toThrow(/it returned number 7$/);
  });
});

describe('thrownFinding', () => {
  test('a thrown value that is not an Error is shown as a string', () => {
    expect(thrownFinding('check', 'gave up')).toEqual({ invariant: 'check', message: 'gave up' });
    expect(thrownFinding('recover', new RangeError('too far'))).toEqual({
      invariant: 'recover',
      message: 'RangeError: too far',
    });
  });
});

describe('checkOutcome', () => {
  test('without any interrupted marks the check sees no workload marks', () => {
    const seen: unknown[] = [];
    const subject = {
      check: (outcome: { marks: unknown[] }) => {
        seen.push(outcome.marks);
        return outcome.marks.length === 0 ? 'no marks' : undefined;
      },
    } as unknown as CrashSubject<number, number>;
    expect(checkOutcome(subject, 1, [], [], false)).toEqual([
      { invariant: 'check', message: 'no marks' },
    ]);
    expect(seen).toEqual([[]]);
  });
});

describe('canonicalJson', () => {
  test('prints bigints with an n and typed arrays as arrays', () => {
    expect(canonicalJson({ seq: 5n, bytes: Uint8Array.from([1, 2]), text: 'a' })).toBe(
      '{"seq":"5n","bytes":[1,2],"text":"a"}',
    );
  });
});
