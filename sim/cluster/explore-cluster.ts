/**
 * The crash lab for several devices (`nvrelay crashtest --workload mux`): cuts the power of
 * each device of a cluster at each of its instructions, the others running on, and checks
 * every run end to end (./cluster-check.ts). One clean run says how many instructions each
 * device runs; then, for every (device, instruction) or a seeded sample of them, the cluster
 * runs again from the start with that cut armed, once per post-crash image visited (all the
 * model allows at that cut up to `imagesPerCut`, else a seeded sample with both extremes).
 * Depth 2 adds, to each run, a second cut of a seeded device at a seeded instruction of its
 * next boot image (sampled, never exhaustive).
 *
 * Every run starts the whole cluster again, so nothing is pruned: the figures count runs.
 */
import type { Finding } from '../subject.js';
import { encodePlan, type CrashPlan, type WorkloadParams } from '../plan.js';
import {
  zeroCounts,
  type ExploreOptions,
  type ExploreProgress,
  type ViolationReport,
} from '../explore/explorer.js';
import type { ExploreSummary } from '../explore/parallel.js';
import { Prng } from '../prng.js';
import { checkCluster } from './cluster-check.js';
import { ClusterRun, type ClusterCut, type ClusterRunOptions } from './cluster-run.js';
import { clusterNodes } from './topology.js';

export interface ClusterWorkload {
  name: string;
  run: Pick<ClusterRunOptions, 'seed' | 'events' | 'Multiplexer'>;
}

/** One run with these cuts, checked. */
export async function runClusterPlan(
  workload: ClusterWorkload,
  model: ExploreOptions['model'],
  imagesPerCut: number,
  cuts: ClusterCut[],
): Promise<{
  findings: Finding[];
  fired: { cut: ClusterCut; allowed: number }[];
  instructions: number[][];
}> {
  const run = new ClusterRun({ ...workload.run, model, imagesPerCut }, cuts);
  const result = await run.run();
  return {
    findings: checkCluster(result.marks, result.leftHeld),
    fired: result.fired,
    instructions: result.instructions,
  };
}

export async function exploreCluster(
  workload: ClusterWorkload,
  params: WorkloadParams,
  options: ExploreOptions,
  onProgress?: (progress: ExploreProgress) => void,
): Promise<ExploreSummary> {
  const started = performance.now();
  const clean = await runClusterPlan(workload, options.model, options.imagesPerCut, []);
  const perDevice = clean.instructions.map((counts) => counts[0] ?? 0);
  const all: { device: number; instruction: number }[] = [];
  perDevice.forEach((count, device) => {
    for (let instruction = 0; instruction < count; instruction++) all.push({ device, instruction });
  });
  const prng = new Prng(options.seed);
  const chosen = options.cuts === 'all' ? all : sample(all, options.cuts, prng);
  const counts = { ...zeroCounts(), instructions: all.length };
  const violations: ViolationReport[] = [];
  const invariants: Record<string, number> = {};
  const note = (findings: Finding[], cuts: ClusterCut[]): void => {
    if (findings.length === 0) return;
    counts.violationStates++;
    for (const finding of findings)
      invariants[finding.invariant] = (invariants[finding.invariant] ?? 0) + 1;
    if (violations.length >= options.violationsMax) return;
    const plan = clusterPlan(workload.name, params, options, cuts);
    const first = findings[0] as Finding;
    violations.push({ ...first, plan, token: encodePlan(plan) });
  };
  note(clean.findings, []);
  for (const target of chosen) {
    let allowed = 1;
    for (let image = 0; image < Math.min(allowed, options.imagesPerCut); image++) {
      const cuts: ClusterCut[] = [{ ...target, incarnation: 0, image }];
      if (options.depth > 1) cuts.push(nestedCut(prng, target.device, perDevice));
      const result = await runClusterPlan(workload, options.model, options.imagesPerCut, cuts);
      const first = result.fired.find(
        (f) => f.cut.device === target.device && f.cut.incarnation === 0,
      );
      allowed = first?.allowed ?? 1;
      if (image === 0) {
        counts.naiveStates += allowed;
        if (allowed > options.imagesPerCut) counts.sampledCuts++;
      }
      if (options.depth > 1 && result.fired.length < 2) counts.nestedCutsSkipped++;
      counts.imagesVisited++;
      counts.crashStates++;
      counts.recoveries += result.fired.length;
      note(result.findings, cuts);
    }
    counts.cuts++;
    onProgress?.({
      cutsDone: counts.cuts,
      cutsTotal: chosen.length,
      crashStates: counts.crashStates,
    });
  }
  // the clean run's own instruction count is a cut point of each device that never fires
  const elapsedMs = performance.now() - started;
  return {
    workload: workload.name,
    params: {
      ...params,
      devices: clusterNodes.map((n) => n.name).join(','),
      instructionsPerDevice: perDevice.join(','),
    },
    model: options.model,
    depth: options.depth,
    counts,
    violations,
    invariants,
    outcomes: new Set(),
    cutPoints: chosen.map((c) => c.instruction),
    elapsedMs,
    statesPerSecond: counts.crashStates / (elapsedMs / 1000),
    imagesPerSecond: counts.imagesVisited / (elapsedMs / 1000),
    workers: 1,
  };
}

/**
 * Depth 2: a second cut, of a seeded device: the same one in its next boot image (early: its
 * recovery), or another in its first (anywhere in what a clean run gives it).
 */
function nestedCut(prng: Prng, first: number, perDevice: readonly number[]): ClusterCut {
  const device = prng.below(clusterNodes.length);
  const same = device === first;
  return {
    device,
    incarnation: same ? 1 : 0,
    instruction: prng.below(same ? 120 : Math.max(1, perDevice[device] ?? 1)),
    image: prng.below(2),
  };
}

/** The step of a plan without cuts (the clean run): never reached. */
const cleanCut = 2 ** 31;

function sample<T>(items: T[], count: number, prng: Prng): T[] {
  if (count >= items.length) return items;
  const picked = new Set<number>();
  while (picked.size < count) picked.add(prng.below(items.length));
  return [...picked].sort((a, b) => a - b).map((i) => items[i] as T);
}

/**
 * A plan for a cluster run: the cuts travel in the params (device, incarnation, instruction,
 * image), so a token replays the run with `nvrelay crashtest --replay`.
 */
export function clusterPlan(
  workload: string,
  params: WorkloadParams,
  options: ExploreOptions,
  cuts: ClusterCut[],
): CrashPlan {
  return {
    workload,
    params: {
      ...params,
      imagesPerCut: options.imagesPerCut,
      cuts: cuts.map((c) => `${c.device}.${c.incarnation}.${c.instruction}.${c.image}`).join(','),
    },
    model: options.model,
    // a plan has at least one step: the clean run's is a cut past the end, which never fires
    steps:
      cuts.length === 0
        ? [{ cut: cleanCut, survivors: [] }]
        : cuts.map((c) => ({ cut: c.instruction, survivors: [] })),
  };
}

export function cutsOfPlan(plan: CrashPlan): ClusterCut[] {
  const text = plan.params['cuts'];
  if (typeof text !== 'string' || text === '') return [];
  return text.split(',').map((item) => {
    const [device, incarnation, instruction, image] = item.split('.').map(Number);
    return {
      device: device ?? 0,
      incarnation: incarnation ?? 0,
      instruction: instruction ?? 0,
      image: image ?? 0,
    };
  });
}
