/**
 * `nvrelay crashtest --self-test` (issue 4): the explorer must catch every deliberately broken
 * variant of our own code, or the checker is vacuous. Each mutant is a registered workload
 * (so its violations replay from a token) with the exploration that must catch it.
 */
import type { ExploreOptions, ExploreProgress } from '../explore/explorer.js';
import { defaultExploreOptions } from '../explore/explorer.js';
import { exploreWorkload } from '../explore/parallel.js';
import type { WorkloadParams } from '../plan.js';
import { eventMutants } from './event-mutants.js';
import { muxMutants } from './mux-mutants.js';

export interface MutantEntry {
  /** The registered workload that runs the mutant. */
  workload: string;
  description: string;
  /** Caught means: a violation of one of these invariants was found. */
  expects: readonly string[];
  params?: WorkloadParams;
  options?: Partial<ExploreOptions>;
}

const mutants: MutantEntry[] = [
  ...eventMutants.map((mutant) => ({
    workload: mutant.name,
    description: mutant.description,
    expects: mutant.expects,
    ...(mutant.options === undefined ? {} : { options: mutant.options }),
  })),
  ...muxMutants.map((mutant) => ({
    workload: mutant.name,
    description: mutant.description,
    expects: mutant.expects,
    // a seeded sample of 90 cuts of the three devices catches each (test/sim/cluster.test.ts);
    // every cut of a whole cluster, rerun per cut, would take a minute per mutant
    options: { imagesPerCut: 2, cuts: 90 },
  })),
  {
    workload: 'log-missing-fence',
    description: 'example log: entry flushed but not fenced before the count is published',
    expects: ['no garbage'],
  },
];

export function registerMutant(entry: MutantEntry): void {
  mutants.push(entry);
}

export function mutantList(): readonly MutantEntry[] {
  return mutants;
}

export interface SelfTestResult {
  mutant: string;
  description: string;
  expects: readonly string[];
  /** A violation of an expected invariant was found. */
  caught: boolean;
  crashStates: number;
  violationStates: number;
  /** Violating crash states per broken invariant. */
  invariants: Record<string, number>;
  first?: { invariant: string; message: string; token: string };
}

export interface SelfTestOptions {
  workers?: number;
  onMutant?: (result: SelfTestResult) => void;
  onProgress?: (progress: ExploreProgress) => void;
}

export async function runSelfTest(options: SelfTestOptions = {}): Promise<SelfTestResult[]> {
  const results: SelfTestResult[] = [];
  for (const mutant of mutants) {
    const summary = await exploreWorkload({
      workload: mutant.workload,
      params: mutant.params ?? {},
      options: { ...defaultExploreOptions, violationsMax: 1, ...mutant.options },
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    const first = summary.violations[0];
    const result: SelfTestResult = {
      mutant: mutant.workload,
      description: mutant.description,
      expects: mutant.expects,
      caught: mutant.expects.some((invariant) => (summary.invariants[invariant] ?? 0) > 0),
      crashStates: summary.counts.crashStates,
      violationStates: summary.counts.violationStates,
      invariants: summary.invariants,
    };
    if (first !== undefined) {
      result.first = { invariant: first.invariant, message: first.message, token: first.token };
    }
    options.onMutant?.(result);
    results.push(result);
  }
  return results;
}
