/**
 * What `nvrelay crashtest` does (cli/crashtest.ts only parses the command line and loads this
 * module when the command runs): explore a named workload, replay one crash plan, or run the
 * self-test against mutants. It writes through a `Terminal` and returns the exit code, so tests
 * run it in-process; the progress bar is the terminal's (cli/crashtest-progress.ts).
 * Exit codes (issue 4): 0 no invariant broken, 1 a violation (or a mutant survived), 2 bad usage.
 */
import { writeFileSync } from 'node:fs';
import type { PersistencyModel } from '../../src/nvram/addon-api.js';
import { formatReplay } from '../explain/explain.js';
import { diffRows, bytesHex } from '../explain/hex-diff.js';
import type { ExploreOptions, ExploreProgress } from '../explore/explorer.js';
import { exploreWorkload, type ExploreSummary } from '../explore/parallel.js';
import { recordWorkload } from '../explore/recording.js';
import { CrashPlanError, decodePlan, encodePlan, type WorkloadParams } from '../plan.js';
import { replayPlan } from '../replay.js';
import { renderReport, type ReportViolation } from '../report/html.js';
import { runSelfTest, type SelfTestResult } from '../mutants/self-test.js';
import { UnknownWorkloadError, workloadSubject } from '../workloads/registry.js';

export interface CrashtestArgs {
  workload: string;
  params: WorkloadParams;
  model: PersistencyModel;
  cuts: 'all' | number;
  imagesPerCut: number;
  depth: number;
  nestedCuts: 'all' | number;
  nestedImagesPerCut: number;
  /** Bits flipped per faulted image (0: no media faults), in words recovery loaded. */
  mediaFaults: number;
  seed: number;
  prune: boolean;
  workers?: number;
  json: boolean;
  report?: string;
  replay?: string;
  selfTest: boolean;
}

export interface Terminal {
  out(text: string): void;
  err(text: string): void;
  /** Progress bars only on a terminal (and never with --json). */
  tty: boolean;
  /** Starts a progress display; without one (or off a terminal) progress is not shown. */
  progress?: () => Progress;
}

/** A progress display of an exploration or a self-test. */
export interface Progress {
  update: (progress: ExploreProgress) => void;
  stop: () => void;
}

export const exitClean = 0;
export const exitViolation = 1;
export const exitUsage = 2;

export async function runCrashtest(args: CrashtestArgs, terminal: Terminal): Promise<number> {
  try {
    if (args.replay !== undefined) return replayToken(args.replay, args.json, terminal);
    if (args.selfTest) return await selfTest(args, terminal);
    return await explore(args, terminal);
  } catch (error) {
    if (error instanceof CrashPlanError || error instanceof UnknownWorkloadError) {
      terminal.err(`nvrelay crashtest: ${error.message} (${error.code})`);
      return exitUsage;
    }
    throw error;
  }
}

export function exploreOptionsOf(args: CrashtestArgs): ExploreOptions {
  return {
    model: args.model,
    cuts: args.cuts,
    imagesPerCut: args.imagesPerCut,
    depth: args.depth,
    nestedCuts: args.nestedCuts,
    nestedImagesPerCut: args.nestedImagesPerCut,
    ...(args.mediaFaults > 0 ? { mediaFaults: { flips: args.mediaFaults, imagesPerCut: 2 } } : {}),
    seed: args.seed,
    prune: args.prune,
    collectOutcomes: false,
    violationsMax: 20,
  };
}

async function explore(args: CrashtestArgs, terminal: Terminal): Promise<number> {
  const params = { seed: args.seed, ...args.params };
  const progress = progressBar(terminal, !args.json);
  const request = {
    workload: args.workload,
    params,
    options: exploreOptionsOf(args),
    onProgress: progress.update,
  };
  const summary = await exploreWorkload(
    args.workers === undefined ? request : { ...request, workers: args.workers },
  );
  progress.stop();
  if (args.report !== undefined) writeReport(args.report, summary);
  terminal.out(args.json ? JSON.stringify(summaryJson(summary)) : summaryText(summary));
  return summary.counts.violationStates > 0 ? exitViolation : exitClean;
}

export function summaryJson(summary: ExploreSummary): Record<string, unknown> {
  const { counts } = summary;
  return {
    workload: summary.workload,
    params: summary.params,
    model: summary.model,
    depth: summary.depth,
    instructions: counts.instructions,
    cuts: counts.cuts,
    naiveStates: counts.naiveStates,
    imagesVisited: counts.imagesVisited,
    crashStates: counts.crashStates,
    recoveries: counts.recoveries,
    prunedStates: counts.prunedStates,
    pruningFactor: counts.crashStates > 0 ? counts.naiveStates / counts.crashStates : null,
    violationStates: counts.violationStates,
    invariants: summary.invariants,
    violations: summary.violations.map((violation) => ({
      invariant: violation.invariant,
      message: violation.message,
      sequences: violation.sequences ?? [],
      cut: violation.plan.steps[0]?.cut,
      depth: violation.plan.steps.length,
      token: violation.token,
      plan: violation.plan,
    })),
    elapsedMs: Math.round(summary.elapsedMs),
    statesPerSecond: Math.round(summary.statesPerSecond),
    imagesPerSecond: Math.round(summary.imagesPerSecond),
    workers: summary.workers,
  };
}

function summaryText(summary: ExploreSummary): string {
  const { counts } = summary;
  const factor =
    counts.crashStates > 0 ? (counts.naiveStates / counts.crashStates).toFixed(1) : '-';
  const lines = [
    `crashtest ${summary.workload} ${JSON.stringify(summary.params)}: model ${summary.model}, depth ${summary.depth}`,
    `  ${counts.instructions} instructions, ${counts.cuts} cut points visited`,
    `  ${counts.naiveStates} naive crash states; ${counts.imagesVisited} images visited, ` +
      `${counts.crashStates} explored (${counts.recoveries} recoveries run), ${counts.prunedStates} pruned (${factor}x fewer than naive)`,
    `  ${Math.round(summary.statesPerSecond)} states/s, ${Math.round(summary.imagesPerSecond)} images/s, ` +
      `${(summary.elapsedMs / 1000).toFixed(2)} s on ${summary.workers} core${summary.workers === 1 ? '' : 's'}`,
    counts.violationStates === 0
      ? '  no invariant broken'
      : `  VIOLATIONS in ${counts.violationStates} crash states; the first ${summary.violations.length}:`,
  ];
  for (const violation of summary.violations) {
    lines.push(
      `    [${violation.invariant}] ${violation.message} (cut ${violation.plan.steps[0]?.cut})`,
    );
    lines.push(`      replay: nvrelay crashtest --replay ${violation.token}`);
  }
  return lines.join('\n');
}

function replayToken(token: string, json: boolean, terminal: Terminal): number {
  const plan = decodePlan(token);
  const { subject } = workloadSubject(plan.workload, plan.params);
  const result = replayPlan(subject, plan);
  if (json) {
    terminal.out(
      JSON.stringify({
        plan,
        token: encodePlan(plan),
        findings: result.findings,
        stages: result.stages.map((stage) => ({
          name: stage.name,
          cut: stage.cut,
          instructions: stage.instructions,
          survivors: [...stage.survivors],
          pending: Array.from(stage.pending.ids),
          diff: diffRows(stage.durableImage, stage.crashImage, 64).map((row) => ({
            offset: row.offset,
            durable: bytesHex(row.before),
            crash: bytesHex(row.after),
          })),
        })),
      }),
    );
  } else {
    terminal.out(formatReplay(result, encodePlan(plan)));
  }
  return result.findings.length > 0 ? exitViolation : exitClean;
}

async function selfTest(args: CrashtestArgs, terminal: Terminal): Promise<number> {
  const progress = progressBar(terminal, !args.json);
  const results: SelfTestResult[] = await runSelfTest({
    workers: args.workers,
    onMutant: (result) => {
      if (!args.json && !terminal.tty) terminal.out(selfTestLine(result));
    },
    onProgress: progress.update,
  });
  progress.stop();
  const survivors = results.filter((result) => !result.caught);
  if (args.json) {
    terminal.out(JSON.stringify({ ok: survivors.length === 0, mutants: results }));
  } else {
    if (terminal.tty) for (const result of results) terminal.out(selfTestLine(result));
    terminal.out(
      survivors.length === 0
        ? `self-test: all ${results.length} mutants caught`
        : `self-test: ${survivors.length} of ${results.length} mutants SURVIVED: ${survivors.map((s) => s.mutant).join(', ')}`,
    );
  }
  return survivors.length === 0 ? exitClean : exitViolation;
}

function selfTestLine(result: SelfTestResult): string {
  const verdict = result.caught ? 'caught  ' : 'SURVIVED';
  const broken = Object.entries(result.invariants)
    .map(([invariant, states]) => `${invariant} x${states}`)
    .join(', ');
  return `  ${verdict} ${result.mutant}: ${result.description} (${broken === '' ? 'no violation' : broken})`;
}

function writeReport(path: string, summary: ExploreSummary): void {
  const { subject } = workloadSubject(summary.workload, summary.params);
  const recording = recordWorkload(subject);
  const violations: ReportViolation[] = summary.violations.slice(0, 8).map((violation) => ({
    violation,
    replay: replayPlan(subject, violation.plan),
  }));
  writeFileSync(
    path,
    renderReport({
      summary: summaryJson(summary),
      recording,
      violations,
      cutPoints: summary.cutPoints,
    }),
  );
}

function progressBar(terminal: Terminal, wanted: boolean): Progress {
  if (!terminal.tty || !wanted || terminal.progress === undefined) {
    return { update: () => undefined, stop: () => undefined };
  }
  return terminal.progress();
}
