/**
 * What `nvrelay crashtest` does (cli/crashtest.ts only parses the command line and loads this
 * module when the command runs): explore a named workload, replay one crash plan, or run the
 * self-test against mutants. It writes through a `Terminal` and returns the exit code, so tests
 * run it in-process; the progress bar is the terminal's (cli/crashtest-progress.ts).
 * Exit codes (issue 4): 0 no invariant broken, 1 a violation (or a mutant survived), 2 bad usage.
 */
import { accessSync, constants, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PersistencyModel } from '../../src/nvram/addon-api.js';
import { formatReplay } from '../explain/explain.js';
import { diffRows, bytesHex } from '../explain/hex-diff.js';
import {
  Explorer,
  isExhaustive,
  type ExploreCounts,
  type ExploreOptions,
  type ExploreProgress,
} from '../explore/explorer.js';
import { exploreWorkload, type ExploreSummary } from '../explore/parallel.js';
import { recordWorkload } from '../explore/recording.js';
import {
  CrashPlanError,
  decodePlan,
  encodePlan,
  type CrashPlan,
  type WorkloadParams,
} from '../plan.js';
import { replayPlan, type ReplayResult } from '../replay.js';
import type { CrashSubject } from '../subject.js';
import { inputParams, replayCrashTest, subjectOf, type CrashSpec } from '../harness/crash-test.js';
import { renderReport, type ReportViolation } from '../report/html.js';
import { runSelfTest, type SelfTestResult } from '../mutants/self-test.js';
import { UnknownWorkloadError, clusterWorkload, workloadSubject } from '../workloads/registry.js';
import { cutsOfPlan, runClusterPlan, type ClusterWorkload } from '../cluster/explore-cluster.js';

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
  /**
   * A module exporting a user's crash spec (default export or `spec`; `input` for exploring
   * it): explore that instead of a workload, or replay its tokens.
   */
  spec?: string;
  selfTest: boolean;
}

/** A command-line mistake found before the run (bad --spec module, unwritable --report). */
export class CrashtestUsageError extends Error {
  constructor(
    message: string,
    readonly code = 'CRASHTEST_USAGE',
  ) {
    super(message);
    this.name = 'CrashtestUsageError';
  }
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
    if (args.report !== undefined) checkReportPath(args.report);
    if (args.spec !== undefined) {
      const loaded = await loadSpecModule(args.spec);
      if (args.replay !== undefined)
        return replaySpecToken(loaded, args.replay, args.json, terminal);
      return exploreSpec(loaded, args, terminal);
    }
    if (args.replay !== undefined) return await replayToken(args.replay, args.json, terminal);
    if (args.selfTest) return await selfTest(args, terminal);
    return await explore(args, terminal);
  } catch (error) {
    if (
      error instanceof CrashPlanError ||
      error instanceof UnknownWorkloadError ||
      error instanceof CrashtestUsageError
    ) {
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
  if (args.report !== undefined && clusterWorkload(summary.workload, {}) === null) {
    const { subject } = workloadSubject(summary.workload, summary.params);
    writeReport(args.report, summary, subject, terminal);
  }
  terminal.out(args.json ? JSON.stringify(summaryJson(summary)) : summaryText(summary));
  return summary.counts.violationStates > 0 ? exitViolation : exitClean;
}

/**
 * --report is checked before the run: its folder must exist and be writable, and the path must
 * not be a folder (an hour of exploring should not end in ENOENT).
 */
export function checkReportPath(path: string): void {
  const target = resolve(path);
  if (existsSync(target) && statSync(target).isDirectory())
    throw new CrashtestUsageError(`--report ${path} is a folder: name a file (e.g. report.html)`);
  const folder = dirname(target);
  if (!existsSync(folder) || !statSync(folder).isDirectory())
    throw new CrashtestUsageError(`--report ${path}: the folder ${folder} does not exist`);
  try {
    accessSync(folder, constants.W_OK);
    if (existsSync(target)) accessSync(target, constants.W_OK);
  } catch {
    throw new CrashtestUsageError(`--report ${path}: not writable`);
  }
}

interface LoadedSpec {
  path: string;
  spec: CrashSpec<unknown, unknown, unknown>;
  input: unknown;
  hasInput: boolean;
}

/** Imports a spec module (JavaScript: compile TypeScript first) and checks its shape. */
export async function loadSpecModule(path: string): Promise<LoadedSpec> {
  const file = resolve(path);
  if (!existsSync(file)) throw new CrashtestUsageError(`--spec ${path}: no such file`);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CrashtestUsageError(`--spec ${path}: cannot load the module: ${reason}`);
  }
  const spec = (module['spec'] ?? module['default']) as CrashSpec<unknown, unknown> | undefined;
  const parts = ['workload', 'recover', 'check'] as const;
  if (
    typeof spec !== 'object' ||
    spec === null ||
    typeof spec.format !== 'object' ||
    parts.some((part) => typeof spec[part] !== 'function')
  ) {
    throw new CrashtestUsageError(
      `--spec ${path}: export the crash spec as \`spec\` or as the default export ` +
        `({ format, workload, recover, check }), and its \`input\` to explore it`,
    );
  }
  return { path, spec, input: module['input'], hasInput: 'input' in module };
}

function replaySpecToken(
  loaded: LoadedSpec,
  token: string,
  json: boolean,
  terminal: Terminal,
): number {
  const plan = decodePlan(token);
  const input = plan.params['input'] === undefined && loaded.hasInput ? loaded.input : undefined;
  const { result, text } = replayCrashTest(loaded.spec, token, input);
  terminal.out(json ? JSON.stringify(replayJson(result)) : text);
  return result.findings.length > 0 ? exitViolation : exitClean;
}

function exploreSpec(loaded: LoadedSpec, args: CrashtestArgs, terminal: Terminal): number {
  if (!loaded.hasInput) {
    throw new CrashtestUsageError(
      `--spec ${loaded.path}: export the workload's \`input\` to explore it (only --replay works without)`,
    );
  }
  const subject = subjectOf(loaded.spec, loaded.input);
  const params = inputParams(loaded.input);
  const progress = progressBar(terminal, !args.json);
  const started = performance.now();
  const explorer = new Explorer(
    subject,
    exploreOptionsOf(args),
    { workload: subject.name, params },
    progress.update,
  );
  explorer.run();
  progress.stop();
  const elapsedMs = performance.now() - started;
  const invariants = Object.fromEntries(explorer.invariants);
  const summary: ExploreSummary = {
    workload: subject.name,
    params,
    model: args.model,
    depth: args.depth,
    counts: explorer.counts,
    violations: explorer.violations,
    invariants,
    outcomes: explorer.outcomes,
    cutPoints: explorer.cutPoints(),
    elapsedMs,
    statesPerSecond: (explorer.counts.crashStates * 1000) / Math.max(elapsedMs, 1e-3),
    imagesPerSecond: (explorer.counts.imagesVisited * 1000) / Math.max(elapsedMs, 1e-3),
    workers: 1,
  };
  if (args.report !== undefined) writeReport(args.report, summary, subject, terminal);
  terminal.out(
    args.json ? JSON.stringify(summaryJson(summary)) : summaryText(summary, loaded.path),
  );
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
    exhaustive: isExhaustive(counts),
    cutPoints: counts.instructions + 1,
    sampledCuts: counts.sampledCuts,
    nestedCutsSkipped: counts.nestedCutsSkipped,
    statesAllowed: counts.naiveStates,
    statesVisited: counts.imagesVisited,
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

function summaryText(summary: ExploreSummary, replayWith = ''): string {
  const { counts } = summary;
  const factor =
    counts.crashStates > 0 ? (counts.naiveStates / counts.crashStates).toFixed(1) : '-';
  const lines = [
    `crashtest ${summary.workload} ${JSON.stringify(summary.params)}: model ${summary.model}, depth ${summary.depth}`,
    `  ${counts.instructions} instructions, ${counts.cuts} of ${counts.instructions + 1} cut points visited`,
    `  ${coverageLine(counts)}`,
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
    const how = replayWith === '' ? '' : ` --spec ${replayWith}`;
    lines.push(`      replay: nvrelay crashtest${how} --replay ${violation.token}`);
  }
  return lines.join('\n');
}

/** Whether every crash state was visited, or what was sampled. */
export function coverageLine(counts: ExploreCounts): string {
  if (isExhaustive(counts)) return 'exhaustive: every cut point, every image the model allows';
  const parts: string[] = [];
  if (counts.cuts < counts.instructions + 1)
    parts.push(`${counts.cuts} of ${counts.instructions + 1} cut points`);
  if (counts.sampledCuts > 0)
    parts.push(`images sampled at ${counts.sampledCuts} cuts (more than --images-per-cut allowed)`);
  if (counts.nestedCutsSkipped > 0)
    parts.push(`${counts.nestedCutsSkipped} cut points of recoveries skipped`);
  return `SAMPLED, not exhaustive: ${parts.join('; ')}; ${counts.imagesVisited} of ${counts.naiveStates} allowed crash states visited`;
}

async function replayToken(token: string, json: boolean, terminal: Terminal): Promise<number> {
  const plan = decodePlan(token);
  const cluster = clusterWorkload(plan.workload, plan.params);
  if (cluster !== null) return replayClusterToken(plan, cluster.workload, json, terminal);
  const { subject } = workloadSubject(plan.workload, plan.params);
  const result = replayPlan(subject, plan);
  if (json) {
    terminal.out(JSON.stringify(replayJson(result)));
  } else {
    terminal.out(formatReplay(result, encodePlan(plan)));
  }
  return result.findings.length > 0 ? exitViolation : exitClean;
}

/** A cluster run replayed from its token: the cuts, and what the end-to-end check found. */
async function replayClusterToken(
  plan: CrashPlan,
  workload: ClusterWorkload,
  json: boolean,
  terminal: Terminal,
): Promise<number> {
  const imagesPerCut = Number(plan.params['imagesPerCut'] ?? 3);
  const result = await runClusterPlan(workload, plan.model, imagesPerCut, cutsOfPlan(plan));
  if (json) terminal.out(JSON.stringify({ plan, token: encodePlan(plan), ...result }));
  else {
    const cuts = result.fired.map(
      ({ cut, allowed }) =>
        `power cut: device ${cut.device} (boot image ${cut.incarnation}) at instruction ${cut.instruction}, image ${cut.image} of ${allowed} allowed`,
    );
    const findings = result.findings.map((f) => `  ${f.invariant}: ${f.message}`);
    terminal.out(
      [
        ...cuts,
        findings.length === 0 ? 'no violation' : `${findings.length} violations:`,
        ...findings,
      ].join('\n'),
    );
  }
  return result.findings.length > 0 ? exitViolation : exitClean;
}

function replayJson(result: ReplayResult<unknown>): Record<string, unknown> {
  return {
    plan: result.plan,
    token: encodePlan(result.plan),
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
  };
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

function writeReport(
  path: string,
  summary: ExploreSummary,
  subject: CrashSubject<unknown, unknown>,
  terminal: Terminal,
): void {
  const recording = recordWorkload(subject);
  // Every violation reported in full (the explorer keeps violationsMax); the report counts the rest.
  const violations: ReportViolation[] = summary.violations.map((violation) => ({
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
  terminal.err(`nvrelay crashtest: report written to ${resolve(path)}`);
}

function progressBar(terminal: Terminal, wanted: boolean): Progress {
  if (!terminal.tty || !wanted || terminal.progress === undefined) {
    return { update: () => undefined, stop: () => undefined };
  }
  return terminal.progress();
}
