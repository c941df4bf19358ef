/**
 * fast-check integration of the harness (issue 4): a crash case is a workload input, a cut and
 * a set of surviving word-stores, each drawn by an arbitrary that shrinks towards "smaller":
 * fewer operations, an earlier cut, fewer survivors. A failing property therefore shrinks to
 * the smallest workload, cut and survivor set that still break the structure, and the failure
 * message explains that one crash state (with the missing fence named) and prints its replay
 * token.
 *
 *   test.prop([crashCases(fc.array(fc.nat()))])('survives any power cut', (c) => {
 *     expectCrashSafe(spec, c, 'px86');
 *   });
 *
 * or, in one call that also explains the shrunk counterexample: `assertCrashSafe(spec, {...})`.
 */
import fc from 'fast-check';
import type { PersistencyModel, WordStoreList } from '../../src/nvram/addon-api.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { assert } from '../assert.js';
import { formatReplay, orderingGaps, type OrderingGap } from '../explain/explain.js';
import { recordingFingerprint, recordWorkload } from '../explore/recording.js';
import { encodePlan, type CrashPlan } from '../plan.js';
import { replayPlan } from '../replay.js';
import type { Finding } from '../subject.js';
import { crashTest, inputParams, subjectOf, type CrashSpec } from './crash-test.js';

const lineBytes = 64;

export interface CrashCase<W> {
  input: W;
  /**
   * The power cut, counted back from the end of the recorded workload: the cut is at
   * instruction instructions - (back mod (instructions + 1)). Drawn so, the cut keeps its
   * place in the last operations while shrinking drops earlier ones, and shrinking `back`
   * moves it towards the end: fast-check can shrink the input, the cut and the survivors each
   * on its own (assertCrashSafe then makes the result minimal: minimizeCrash).
   */
  back?: number;
  /** The power cut as an instruction index (clamped to the workload); wins over `back`. */
  cut?: number;
  /**
   * Which non-durable word-stores at the cut survive: positions counted back from the newest
   * (modulo their number), closed under the model's rule. Counted from the newest so that
   * they too keep their meaning while earlier operations are dropped.
   */
  picks: number[];
}

/** A crash case resolved on its recorded workload: the cut and survivors it stands for. */
export interface ResolvedCrashCase<W> {
  input: W;
  /** The instruction index of the power cut (the one the explanation prints). */
  cut: number;
  /** Ids of the surviving word-stores. */
  survivors: number[];
}

export function crashCases<W>(input: fc.Arbitrary<W>, picksMax = 8): fc.Arbitrary<CrashCase<W>> {
  return fc.record({
    input,
    back: fc.nat({ max: 1 << 20 }),
    picks: fc.uniqueArray(fc.nat({ max: 1 << 10 }), { maxLength: picksMax }),
  });
}

/** The instruction index a case cuts at, for a workload of `instructions` instructions. */
export function cutOfCase(crash: CrashCase<unknown>, instructions: number): number {
  if (crash.cut !== undefined) return Math.max(0, Math.min(crash.cut, instructions));
  return instructions - ((crash.back ?? 0) % (instructions + 1));
}

/** The crash plan a case stands for: the picked survivors closed under the model's rule. */
export function planOfCase<W, R, M>(
  spec: CrashSpec<W, R, M>,
  crash: CrashCase<W>,
  model: PersistencyModel,
): CrashPlan {
  const subject = subjectOf(spec, crash.input);
  const recording = recordWorkload(subject);
  const cut = cutOfCase(crash, recording.instructions);
  const cursor = TracedNvram.fromImage(recording.start, { boot: false });
  cursor.applyTrace(recording.trace, 0, cut);
  const pending = cursor.pendingStores();
  const fenced = pending.ids.length - (cursor.imageCount('eadr') - 1);
  const survivors = closeUnderModel(model, pending, crash.picks, fenced);
  assert(cursor.allows(model, Float64Array.from(survivors)), 'a closed survivor set is allowed');
  cursor.close();
  return {
    workload: subject.name,
    params: inputParams(crash.input),
    model,
    steps: [{ cut, survivors }],
    trace: recordingFingerprint(recording),
  };
}

/**
 * The smallest survivor set the model allows that contains the picked word-stores:
 * px86 adds every earlier non-durable store of the same line, eadr every earlier store and the
 * `fenced` first ones (issued before the last fence: durable under eadr).
 */
export function closeUnderModel(
  model: PersistencyModel,
  pending: WordStoreList,
  picks: readonly number[],
  fenced = 0,
): number[] {
  const count = pending.ids.length;
  if (count === 0) return [];
  // Counted back from the newest store: stable while earlier operations are dropped.
  const chosen = new Set(picks.map((pick) => count - 1 - (pick % count)));
  const keep = new Uint8Array(count);
  if (model === 'eadr') keep.fill(1, 0, fenced);
  for (const at of chosen) {
    keep[at] = 1;
    if (model === 'relaxed') continue;
    const line = Math.floor((pending.offsets[at] as number) / lineBytes);
    for (let earlier = 0; earlier < at; earlier++) {
      if (model === 'eadr' || Math.floor((pending.offsets[earlier] as number) / lineBytes) === line)
        keep[earlier] = 1;
    }
  }
  const survivors: number[] = [];
  for (let i = 0; i < count; i++) if (keep[i] === 1) survivors.push(pending.ids[i] as number);
  return survivors;
}

export interface CaseVerdict {
  plan: CrashPlan;
  token: string;
  findings: Finding[];
}

export function runCrashCase<W, R, M>(
  spec: CrashSpec<W, R, M>,
  crash: CrashCase<W>,
  model: PersistencyModel,
): CaseVerdict {
  const plan = planOfCase(spec, crash, model);
  const result = replayPlan(subjectOf(spec, crash.input), plan, { sites: false });
  return { plan, token: encodePlan(plan), findings: result.findings };
}

/** A shrunk counterexample, explained. */
export class CrashCounterexample extends Error {
  readonly code = 'CRASH_COUNTEREXAMPLE';
  constructor(
    message: string,
    /** The crash state explained: its input, the cut the message prints, the survivors. */
    readonly crash: ResolvedCrashCase<unknown>,
    readonly plan: CrashPlan,
    readonly token: string,
    readonly findings: Finding[],
    readonly gaps: OrderingGap[],
  ) {
    super(message);
    this.name = 'CrashCounterexample';
  }
}

/** Throws a `CrashCounterexample` (explained, with the token) if the case breaks the spec. */
export function expectCrashSafe<W, R, M>(
  spec: CrashSpec<W, R, M>,
  crash: CrashCase<W>,
  model: PersistencyModel,
): void {
  const verdict = runCrashCase(spec, crash, model);
  if (verdict.findings.length === 0) return;
  throw explainCase(spec, crash.input, verdict);
}

export function explainCase<W, R, M>(
  spec: CrashSpec<W, R, M>,
  input: W,
  verdict: CaseVerdict,
): CrashCounterexample {
  const replay = replayPlan(subjectOf(spec, input), verdict.plan);
  const gaps = replay.stages.flatMap((stage) => orderingGaps(stage));
  const step = verdict.plan.steps[0] as CrashPlan['steps'][number];
  const message = [
    `crash counterexample: input ${JSON.stringify(input)}, cut ${step.cut}, ${step.survivors.length} surviving word-stores`,
    ...gaps.map((gap) => `  ${gap.summary}`),
    formatReplay(replay, verdict.token),
  ].join('\n');
  const crash = { input, cut: step.cut, survivors: step.survivors };
  return new CrashCounterexample(
    message,
    crash,
    verdict.plan,
    verdict.token,
    replay.findings,
    gaps,
  );
}

export interface AssertCrashSafeOptions<W> {
  input: fc.Arbitrary<W>;
  model?: PersistencyModel;
  numRuns?: number;
  seed?: number;
  picksMax?: number;
  /**
   * After fast-check's shrinking, make the counterexample minimal (default true): no single
   * element of an array input can be dropped, the cut is the earliest failing one of that
   * input, and no survivor can be dropped (see `minimizeCrash`).
   */
  minimize?: boolean;
}

/**
 * Runs the property and, on failure, throws the shrunk (and minimized) counterexample
 * explained, plus fast-check's seed and path, which reproduce the whole run.
 */
export function assertCrashSafe<W, R, M>(
  spec: CrashSpec<W, R, M>,
  options: AssertCrashSafeOptions<W>,
): void {
  const model = options.model ?? 'px86';
  const property = fc.property(crashCases(options.input, options.picksMax), (crash) => {
    return runCrashCase(spec, crash, model).findings.length === 0;
  });
  const parameters: fc.Parameters<[CrashCase<W>]> = { numRuns: options.numRuns ?? 200 };
  if (options.seed !== undefined) parameters.seed = options.seed;
  const details = fc.check(property, parameters);
  if (!details.failed || details.counterexample === null) return;
  const [crash] = details.counterexample;
  const shrunk = runCrashCase(spec, crash, model);
  const minimal =
    options.minimize === false
      ? { input: crash.input, verdict: shrunk }
      : minimizeCrash(spec, crash.input, shrunk, model);
  const failure = explainCase(spec, minimal.input, minimal.verdict);
  failure.message += `\nfast-check: seed ${details.seed}, path "${details.counterexamplePath}"`;
  throw failure;
}

/**
 * Makes a failing crash state minimal, by exhaustive search where fast-check's random shrinks
 * can stall: (1) while an element of an array input can be dropped with some crash state of
 * the shorter input still failing (the explorer finds it), drop it: the input ends 1-minimal;
 * (2) the earliest failing cut of that input; (3) survivors dropped one at a time while the
 * set stays allowed and the state still fails. Inputs that are not arrays keep steps 2 and 3.
 */
export function minimizeCrash<W, R, M>(
  spec: CrashSpec<W, R, M>,
  input: W,
  verdict: CaseVerdict,
  model: PersistencyModel,
): { input: W; verdict: CaseVerdict } {
  let best = { input, verdict };
  if (Array.isArray(input)) {
    let items = [...(input as unknown[])];
    for (let i = 0; i < items.length;) {
      const shorter = [...items.slice(0, i), ...items.slice(i + 1)];
      const found = firstFailure(spec, shorter as W, model);
      if (found === undefined) {
        i++;
        continue;
      }
      items = shorter;
      best = { input: shorter as W, verdict: found };
      i = 0;
    }
  }
  const earliest = firstFailure(spec, best.input, model);
  if (earliest !== undefined && earliestCut(earliest) <= earliestCut(best.verdict)) {
    best = { ...best, verdict: earliest };
  }
  return { input: best.input, verdict: fewerSurvivors(spec, best.input, best.verdict, model) };
}

function earliestCut(verdict: CaseVerdict): number {
  return verdict.plan.steps[0]?.cut ?? 0;
}

/** The first violation the explorer finds (earliest cut, fewest survivors there), if any. */
function firstFailure<W, R, M>(
  spec: CrashSpec<W, R, M>,
  input: W,
  model: PersistencyModel,
): CaseVerdict | undefined {
  const result = crashTest(spec, { input, model, imagesPerCut: 256, violationsMax: 64 });
  const first = result.violations[0];
  if (first === undefined) return undefined;
  const cut = first.plan.steps[0]?.cut;
  const atCut = result.violations.filter((v) => v.plan.steps[0]?.cut === cut);
  const size = (v: (typeof atCut)[number]): number => v.plan.steps[0]?.survivors.length ?? 0;
  const chosen = atCut.reduce((a, b) => (size(b) < size(a) ? b : a));
  const plan = { ...chosen.plan, steps: chosen.plan.steps.slice(0, 1) };
  if (chosen.plan.steps.length > 1) return undefined; // nested crashes: not a one-cut case
  const findings = replayPlan(subjectOf(spec, input), plan, { sites: false }).findings;
  return findings.length === 0 ? undefined : { plan, token: encodePlan(plan), findings };
}

function fewerSurvivors<W, R, M>(
  spec: CrashSpec<W, R, M>,
  input: W,
  verdict: CaseVerdict,
  model: PersistencyModel,
): CaseVerdict {
  const step = verdict.plan.steps[0];
  if (step === undefined || step.survivors.length === 0) return verdict;
  const subject = subjectOf(spec, input);
  const recording = recordWorkload(subject);
  const cursor = TracedNvram.fromImage(recording.start, { boot: false });
  cursor.applyTrace(recording.trace, 0, step.cut);
  let best = verdict;
  let survivors = [...step.survivors];
  for (let i = survivors.length - 1; i >= 0; i--) {
    const fewer = [...survivors.slice(0, i), ...survivors.slice(i + 1)];
    if (!cursor.allows(model, Float64Array.from(fewer))) continue;
    const plan: CrashPlan = { ...verdict.plan, steps: [{ cut: step.cut, survivors: fewer }] };
    const findings = replayPlan(subject, plan, { sites: false }).findings;
    if (findings.length === 0) continue;
    survivors = fewer;
    best = { plan, token: encodePlan(plan), findings };
  }
  cursor.close();
  return best;
}
