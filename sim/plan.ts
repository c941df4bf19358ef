/**
 * Crash plans (issue 4, reproduction): a small portable description of one crash state that
 * replays byte for byte on any machine. A plan names the workload (and its parameters, which
 * include its seed), the persistency model, and one step per power cut: the cut point and the
 * ids of the word-stores that survived it. Step 0 cuts the workload; step i > 0 cuts the i-th
 * recovery (nested crashes). Word-store ids are dense and in program order (addon-api.ts), so
 * they are the same on every replay of the same trace.
 *
 * The one-line token is `nvr1.` + base64url of compact JSON in which survivor id lists are
 * written as ranges ("3-7.9").
 */
import type { PersistencyModel } from '../src/nvram/addon-api.js';

export type WorkloadParams = Record<string, number | string | boolean>;

export interface CrashStep {
  /** Instructions 0..cut-1 ran, instruction `cut` did not (SPEC 3). */
  cut: number;
  /** Ids of the surviving non-durable word-stores, ascending. */
  survivors: number[];
  /** Media fault: bit positions (byte offset x 8 + bit) flipped in the crash image, ascending. */
  flips?: number[];
}

export interface CrashPlan {
  workload: string;
  params: WorkloadParams;
  model: PersistencyModel;
  steps: CrashStep[];
  /**
   * The fingerprint of the workload's recording (start image and trace, recording.ts): a
   * replay of the plan on anything else is refused instead of finding nothing.
   */
  trace?: string;
}

const tokenPrefix = 'nvr1.';
const models: readonly PersistencyModel[] = ['px86', 'relaxed', 'eadr'];

export class CrashPlanError extends Error {
  readonly code = 'CRASH_PLAN_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'CrashPlanError';
  }
}

export function encodePlan(plan: CrashPlan): string {
  const compact = {
    w: plan.workload,
    p: plan.params,
    m: plan.model,
    s: plan.steps.map((step) =>
      step.flips === undefined || step.flips.length === 0
        ? [step.cut, encodeIds(step.survivors)]
        : [step.cut, encodeIds(step.survivors), encodeIds(step.flips)],
    ),
    ...(plan.trace === undefined ? {} : { t: plan.trace }),
  };
  return tokenPrefix + Buffer.from(JSON.stringify(compact), 'utf8').toString('base64url');
}

export function decodePlan(token: string): CrashPlan {
  const text = token.trim();
  if (!text.startsWith(tokenPrefix)) {
    throw new CrashPlanError(
      `a replay token starts with "${tokenPrefix}", got "${text.slice(0, 12)}"`,
    );
  }
  let compact: unknown;
  try {
    compact = JSON.parse(Buffer.from(text.slice(tokenPrefix.length), 'base64url').toString('utf8'));
  } catch {
    throw new CrashPlanError('the replay token is not valid base64url JSON (was it cut short?)');
  }
  return planFromCompact(compact);
}

/** The plan as readable JSON (what `--json` prints next to the token). */
export function planJson(plan: CrashPlan): string {
  return JSON.stringify(plan);
}

function planFromCompact(compact: unknown): CrashPlan {
  if (typeof compact !== 'object' || compact === null)
    throw new CrashPlanError('plan is not an object');
  const { w, p, m, s, t } = compact as Record<string, unknown>;
  if (t !== undefined && (typeof t !== 'string' || !/^[0-9a-f]{1,32}$/.test(t)))
    throw new CrashPlanError('plan trace fingerprint invalid');
  if (typeof w !== 'string' || w.length === 0) throw new CrashPlanError('plan names no workload');
  if (typeof p !== 'object' || p === null || Array.isArray(p))
    throw new CrashPlanError('plan params invalid');
  if (!models.includes(m as PersistencyModel))
    throw new CrashPlanError(`unknown model ${String(m)}`);
  if (!Array.isArray(s) || s.length === 0) throw new CrashPlanError('plan has no steps');
  const steps = s.map((item: unknown, at): CrashStep => {
    if (!Array.isArray(item) || item.length < 2 || item.length > 3) {
      throw new CrashPlanError(`step ${at} malformed`);
    }
    const [cut, ids, flips] = item as unknown[];
    if (!Number.isSafeInteger(cut) || (cut as number) < 0)
      throw new CrashPlanError(`step ${at}: bad cut`);
    if (typeof ids !== 'string') throw new CrashPlanError(`step ${at}: bad survivor list`);
    const step: CrashStep = { cut: cut as number, survivors: decodeIds(ids, at) };
    if (flips !== undefined) {
      if (typeof flips !== 'string') throw new CrashPlanError(`step ${at}: bad flip list`);
      step.flips = decodeIds(flips, at);
    }
    return step;
  });
  const plan: CrashPlan = {
    workload: w,
    params: p as WorkloadParams,
    model: m as PersistencyModel,
    steps,
  };
  if (typeof t === 'string') plan.trace = t;
  return plan;
}

/** "0-3.7.9-10" for [0,1,2,3,7,9,10]. */
export function encodeIds(ids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ids.length;) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === (ids[j] as number) + 1) j++;
    parts.push(j === i ? String(ids[i]) : `${ids[i]}-${ids[j]}`);
    i = j + 1;
  }
  return parts.join('.');
}

function decodeIds(text: string, step: number): number[] {
  if (text === '') return [];
  const ids: number[] = [];
  for (const part of text.split('.')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (match === null) throw new CrashPlanError(`step ${step}: bad survivor range "${part}"`);
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || (ids.length > 0 && first <= (ids[ids.length - 1] as number))) {
      throw new CrashPlanError(`step ${step}: survivor ids must ascend`);
    }
    for (let id = first; id <= last; id++) ids.push(id);
  }
  return ids;
}
