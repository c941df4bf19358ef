/**
 * The harness API for users' own persistent code (issue 4):
 *
 *   const result = crashTest({ format, workload, recover, check }, { input, model: 'px86' });
 *   if (!result.ok) console.log(result.explain());
 *
 * `format` is the device geometry; `workload(device, context, input)` runs the structure's
 * operations and calls `context.mark(x)` when an operation is acknowledged; `recover(device)`
 * runs after the reboot and returns what it recovered; `check(outcome, input)` returns findings
 * (strings or `{ invariant, message }`) or throws (an `expect` failure is a finding too).
 * The explorer visits every cut point and every post-crash image the model allows (or seeded
 * samples), prunes images that recovery cannot tell apart, and reports each violation with a
 * replay token that `replayCrashTest` turns back into the one failing crash state.
 */
import type { NvramDevice } from '../../src/nvram/device.js';
import { formatReplay, orderingGaps, type OrderingGap } from '../explain/explain.js';
import {
  Explorer,
  isExhaustive,
  type ExploreCounts,
  type ExploreOptions,
  type ViolationReport,
} from '../explore/explorer.js';
import { CrashPlanError, decodePlan, encodePlan, type CrashPlan } from '../plan.js';
import { replayPlan, type ReplayResult } from '../replay.js';
import {
  canonicalJson,
  type CheckResult,
  type CrashOutcome,
  type CrashSubject,
  type DeviceFormat,
  type StageContext,
} from '../subject.js';

export interface CrashSpec<W, R, M = unknown> {
  /** Names the structure in plans and reports (default 'subject'). */
  name?: string;
  format: DeviceFormat;
  /**
   * Optional set-up on the freshly formatted device (e.g. formatting the structure), run
   * before the workload is recorded and never cut: the workload and recovery start from its
   * result. Everything it stores must be persisted (flush + fence).
   */
  prepare?(device: NvramDevice, input: W): void;
  workload(device: NvramDevice, context: StageContext<M>, input: W): void;
  recover(device: NvramDevice, context: StageContext<M>): R;
  check(outcome: CrashOutcome<R, M>, input: W): CheckResult;
  outcomeKey?(recovered: R): string;
}

export interface CrashTestOptions<W> extends Partial<ExploreOptions> {
  /** The workload's input (e.g. the values to append). */
  input: W;
}

export interface CrashTestResult<R> {
  /** No crash state visited broke the check (see `exhaustive`: were they all visited?). */
  ok: boolean;
  /**
   * Every cut point and every image the model allows were visited (pruned ones included).
   * False when `cuts` or `nestedCuts` sampled cut points or a cut allowed more than
   * `imagesPerCut` images (then a seeded sample was visited: see `coverage`).
   */
  exhaustive: boolean;
  coverage: Coverage;
  counts: ExploreCounts;
  violations: ViolationReport[];
  /** Distinct outcomes, when `collectOutcomes` was asked for. */
  outcomes: Set<string>;
  /** Replays a violation (default: the first) with source sites and explains it in words. */
  explain(violation?: ViolationReport): string;
  /** Replays a violation and returns the raw replay (stages, images, findings). */
  replay(violation?: ViolationReport): ReplayResult<R>;
}

export interface Coverage {
  /** Cut points of the workload, and how many were visited. */
  cutPoints: number;
  cutsVisited: number;
  /** Cuts whose images were sampled (more than imagesPerCut allowed). */
  sampledCuts: number;
  /** Crash states the model allows at the cuts visited, and how many were visited. */
  statesAllowed: number;
  statesVisited: number;
}

export function coverageOf(counts: ExploreCounts): Coverage {
  return {
    cutPoints: counts.instructions + 1,
    cutsVisited: counts.cuts,
    sampledCuts: counts.sampledCuts,
    statesAllowed: counts.naiveStates,
    statesVisited: counts.imagesVisited,
  };
}

/** The spec with its input bound: the lab's `CrashSubject`. */
export function subjectOf<W, R, M>(spec: CrashSpec<W, R, M>, input: W): CrashSubject<R, M> {
  const subject: CrashSubject<R, M> = {
    name: spec.name ?? 'subject',
    format: spec.format,
    workload: (device, context) => spec.workload(device, context, input),
    recover: (device, context) => spec.recover(device, context),
    check: (outcome) => spec.check(outcome, input),
  };
  if (spec.outcomeKey !== undefined) subject.outcomeKey = spec.outcomeKey.bind(spec);
  if (spec.prepare !== undefined) {
    const prepare = spec.prepare.bind(spec);
    subject.prepare = (device) => prepare(device, input);
  }
  return subject;
}

export function crashTest<W, R, M>(
  spec: CrashSpec<W, R, M>,
  options: CrashTestOptions<W>,
): CrashTestResult<R> {
  const { input, ...exploreOptions } = options;
  const subject = subjectOf(spec, input);
  const explorer = new Explorer(subject, exploreOptions, {
    workload: subject.name,
    params: inputParams(input),
  });
  explorer.run();
  const pick = (violation?: ViolationReport): ViolationReport => {
    const chosen = violation ?? explorer.violations[0];
    if (chosen === undefined) throw new Error('crashTest: no violation to replay');
    return chosen;
  };
  return {
    ok: explorer.counts.violationStates === 0,
    exhaustive: isExhaustive(explorer.counts),
    coverage: coverageOf(explorer.counts),
    counts: explorer.counts,
    violations: explorer.violations,
    outcomes: explorer.outcomes,
    replay: (violation) => replayPlan(subject, pick(violation).plan),
    explain: (violation) => {
      const chosen = pick(violation);
      return formatReplay(replayPlan(subject, chosen.plan), chosen.token);
    },
  };
}

/**
 * Re-runs the one crash state a token names. The input comes from the token when it was JSON,
 * else pass it.
 */
export function replayCrashTest<W, R, M>(
  spec: CrashSpec<W, R, M>,
  token: string,
  input?: W,
): { result: ReplayResult<R>; text: string; gaps: OrderingGap[] } {
  const plan = decodePlan(token);
  const name = spec.name ?? 'subject';
  if (plan.workload !== name) {
    throw new CrashPlanError(
      `this token is for the workload '${plan.workload}', not for the spec '${name}'`,
    );
  }
  const bound = input ?? inputFromParams<W>(plan);
  const result = replayPlan(subjectOf(spec, bound), plan);
  const gaps = result.stages.flatMap((stage) => orderingGaps(stage));
  return { result, text: formatReplay(result, encodePlan(plan)), gaps };
}

/** Plans carry a JSON input so that a token alone replays (inputs that are not JSON are left out). */
export function inputParams(input: unknown): Record<string, string> {
  try {
    const text = canonicalJson(input);
    if (text !== undefined && canonicalJson(JSON.parse(text)) === text) return { input: text };
  } catch {
    // not JSON: the caller passes the input to replay
  }
  return {};
}

function inputFromParams<W>(plan: CrashPlan): W {
  const text = plan.params['input'];
  if (typeof text !== 'string')
    throw new CrashPlanError('this plan carries no input: pass it to replay');
  return JSON.parse(text) as W;
}
