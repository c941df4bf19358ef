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
import { inputParams, subjectOf, type CrashSpec } from './crash-test.js';

const lineBytes = 64;

export interface CrashCase<W> {
  input: W;
  /** Taken modulo (instructions + 1): shrinking it moves the cut earlier. */
  cut: number;
  /** Positions in the non-durable word-store list (modulo its length) that survive. */
  picks: number[];
}

export function crashCases<W>(input: fc.Arbitrary<W>, picksMax = 8): fc.Arbitrary<CrashCase<W>> {
  return fc.record({
    input,
    cut: fc.nat({ max: 1 << 20 }),
    picks: fc.uniqueArray(fc.nat({ max: 1 << 10 }), { maxLength: picksMax }),
  });
}

/** The crash plan a case stands for: the picked survivors closed under the model's rule. */
export function planOfCase<W, R, M>(
  spec: CrashSpec<W, R, M>,
  crash: CrashCase<W>,
  model: PersistencyModel,
): CrashPlan {
  const subject = subjectOf(spec, crash.input);
  const recording = recordWorkload(subject);
  const cut = crash.cut % (recording.instructions + 1);
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
  const chosen = new Set(picks.map((pick) => pick % count));
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
    readonly crash: CrashCase<unknown>,
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
  throw explainCase(spec, crash, verdict);
}

export function explainCase<W, R, M>(
  spec: CrashSpec<W, R, M>,
  crash: CrashCase<W>,
  verdict: CaseVerdict,
): CrashCounterexample {
  const replay = replayPlan(subjectOf(spec, crash.input), verdict.plan);
  const gaps = replay.stages.flatMap((stage) => orderingGaps(stage));
  const input = JSON.stringify(crash.input);
  const step = verdict.plan.steps[0];
  const message = [
    `crash counterexample: input ${input}, cut ${step?.cut}, ${step?.survivors.length ?? 0} surviving word-stores`,
    ...gaps.map((gap) => `  ${gap.summary}`),
    formatReplay(replay, verdict.token),
  ].join('\n');
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
}

/**
 * Runs the property and, on failure, throws the shrunk counterexample explained (plus
 * fast-check's seed and path, which reproduce the whole run).
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
  const failure = explainCase(spec, crash, runCrashCase(spec, crash, model));
  failure.message += `\nfast-check: seed ${details.seed}, path "${details.counterexamplePath}"`;
  throw failure;
}
