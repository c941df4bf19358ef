/**
 * sim/mutants/self-test.ts's verdicts, with the exploration replaced by a stub (the real one,
 * every mutant explored, is test/sim/mutants.test.ts): what each mutant's exploration is asked,
 * and when a mutant counts as caught or as survived.
 */
import { describe, expect, test, vi } from 'vitest';
import type { exploreWorkload } from '../../sim/explore/parallel.js';

type Request = Parameters<typeof exploreWorkload>[0];

const requests: Request[] = [];

vi.mock('../../sim/explore/parallel.js', () => ({
  exploreWorkload: (request: Request) => {
    requests.push(request);
    // the survivor and the mislabelled one find no violation of what they expect
    if (request.workload === 'stub-survivor')
      return Promise.resolve({
        counts: { crashStates: 7, violationStates: 0 },
        invariants: {},
        violations: [],
      });
    const invariant = request.workload === 'stub-wrong-invariant' ? 'order' : 'no-loss';
    return Promise.resolve({
      counts: { crashStates: 9, violationStates: 2 },
      invariants: { [invariant]: 2 },
      violations: [
        { invariant, message: `${request.workload} broke ${invariant}`, token: 'nvr1.stub' },
      ],
    });
  },
}));

const { mutantList, registerMutant, runSelfTest } = await import('../../sim/mutants/self-test.js');

describe('the self-test verdicts', () => {
  test('a registered mutant that breaks nothing is reported as survived, with no first violation', async () => {
    registerMutant({
      workload: 'stub-survivor',
      description: 'a correct variant',
      expects: ['no-loss'],
      params: { seed: 3, events: 4 },
    });
    registerMutant({
      workload: 'stub-wrong-invariant',
      description: 'breaks another invariant than it should',
      expects: ['no-loss'],
    });
    const heard: string[] = [];
    const onProgress = (): void => {};
    const results = await runSelfTest({
      workers: 2,
      onProgress,
      onMutant: (result) => heard.push(result.mutant),
    });
    expect(results.map((result) => result.mutant)).toEqual(
      mutantList().map((entry) => entry.workload),
    );
    expect(heard).toEqual(results.map((result) => result.mutant));

    const survivor = results.find((result) => result.mutant === 'stub-survivor');
    expect(survivor).toEqual({
      mutant: 'stub-survivor',
      description: 'a correct variant',
      expects: ['no-loss'],
      caught: false,
      crashStates: 7,
      violationStates: 0,
      invariants: {},
    });
    const wrong = results.find((result) => result.mutant === 'stub-wrong-invariant');
    expect(wrong?.caught).toBe(false);
    expect(wrong?.first).toEqual({
      invariant: 'order',
      message: 'stub-wrong-invariant broke order',
      token: 'nvr1.stub',
    });

    // each exploration stops at its first violation, with the mutant's own params and options
    const asked = requests.find((request) => request.workload === 'stub-survivor');
    expect(asked?.params).toEqual({ seed: 3, events: 4 });
    expect(asked?.workers).toBe(2);
    expect(asked?.onProgress).toBe(onProgress);
    expect(asked?.options?.violationsMax).toBe(1);
    const mux = requests.find((request) => request.workload === 'mutant-mux-no-origin-index');
    expect(mux?.params).toEqual({});
    expect(mux?.options).toMatchObject({ violationsMax: 1, imagesPerCut: 2, cuts: 90 });
  });

  test('without workers or a progress callback the exploration is asked with neither', async () => {
    requests.length = 0;
    const results = await runSelfTest();
    expect(results.filter((result) => result.caught).map((result) => result.mutant)).not.toContain(
      'stub-survivor',
    );
    expect(requests.length).toBe(mutantList().length);
    for (const request of requests) {
      expect(request).not.toHaveProperty('workers');
      expect(request).not.toHaveProperty('onProgress');
    }
  });
});
