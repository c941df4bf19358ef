/**
 * Running the explorer on a named workload, on both cores when the work is large (issue 4).
 * The main thread records the workload once to choose the cut points, then hands contiguous
 * chunks of them to worker processes on demand (so a slow stretch of the trace does not leave a
 * core idle). Each worker keeps one explorer, and so one state index, for all its chunks:
 * neighbouring cuts share most of their images, and pruning across them is where the savings
 * are. Workers rebuild the subject from its name and parameters (workloads/registry.ts).
 *
 * Workers are processes, not threads: every recovery boots a node, and threads of one process
 * share one address space and one heap, so what a boot maps and unmaps stalls the other thread
 * too (with record buffers in WebAssembly memory, two threads gave 1.15x one, two processes
 * 1.7x; the event workload now boots with the TypeScript checksum, which maps nothing).
 * They are kept (unreferenced, so they never hold this process open) and reused by the next
 * exploration: a new one spends its first second compiling and warming up the runtime, about
 * as long as a whole exploration of the default workload takes once warm.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fork, type ChildProcess } from 'node:child_process';
import type { PersistencyModel } from '../../src/nvram/addon-api.js';
import type { WorkloadParams } from '../plan.js';
import { clusterWorkload, workloadSubject } from '../workloads/registry.js';
import { exploreCluster } from '../cluster/explore-cluster.js';
import {
  Explorer,
  type ExploreCounts,
  zeroCounts,
  type ExploreOptions,
  type ExploreProgress,
  type ViolationReport,
} from './explorer.js';

export interface ExploreRequest {
  workload: string;
  params?: WorkloadParams;
  options: ExploreOptions;
  /**
   * Cores used: this process and workers - 1 worker processes; 1 explores here alone. Default:
   * 2 when the work is large.
   */
  workers?: number;
  onProgress?: (progress: ExploreProgress) => void;
}

export interface ExploreSummary {
  workload: string;
  params: WorkloadParams;
  model: PersistencyModel;
  depth: number;
  counts: ExploreCounts;
  violations: ViolationReport[];
  /** Violating crash states per invariant. */
  invariants: Record<string, number>;
  outcomes: Set<string>;
  cutPoints: number[];
  elapsedMs: number;
  /** Crash states explored (rebooted, recovered, checked) per second. */
  statesPerSecond: number;
  /** Images visited (explored or shown equivalent to an explored state) per second. */
  imagesPerSecond: number;
  workers: number;
}

/** Messages between the main thread and a worker (one exploration: start, chunks, finish). */
export type ToWorker =
  { type: 'start'; setup: WorkerSetup } | { type: 'chunk'; cuts: number[] } | { type: 'finish' };
export type FromWorker =
  | { type: 'progress'; cutsDone: number; crashStates: number }
  | { type: 'idle' }
  | {
      type: 'result';
      counts: ExploreCounts;
      violations: ViolationReport[];
      invariants: Record<string, number>;
      outcomes: string[];
    };

export interface WorkerSetup {
  workload: string;
  params: WorkloadParams;
  options: ExploreOptions;
}

/** Below this many first-level cuts one thread is quicker than starting workers. */
const parallelCutsMin = 1000;
/** A first-level cut with nested crashes costs about this many plain ones. */
const nestedWorkFactor = 50;
/** Cuts this thread explores between two looks at its workers' messages. */
const mainSliceCuts = 4;
/**
 * A chunk is this part of what is left of its taker's share (CutShares): long chunks first,
 * short ones at the end, so that no core waits long for the other to finish.
 */
const chunkShare = 0.35;
/** The shortest chunk, in cuts. */
const chunkCutsMin = 4;

/**
 * The cut points as one contiguous share per participant (this thread is 0). Each takes its
 * chunks from the front of its own share, so its state index sees one long run of neighbouring
 * cuts (they share most of their images: pruning is where the savings are); one whose share
 * is used up takes the back half of the largest share left.
 */
export class CutShares {
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];

  constructor(
    readonly cutPoints: readonly number[],
    count: number,
  ) {
    for (let p = 0; p < count; p++) {
      this.#starts.push(Math.floor((cutPoints.length * p) / count));
      this.#ends.push(Math.floor((cutPoints.length * (p + 1)) / count));
    }
  }

  /** The next cuts for participant `who` (ascending), or undefined when none are left. */
  take(who: number): number[] | undefined {
    if (this.#left(who) === 0 && !this.#steal(who)) return undefined;
    const start = this.#starts[who] as number;
    const size = Math.max(chunkCutsMin, Math.ceil(this.#left(who) * chunkShare));
    const end = Math.min(start + size, this.#ends[who] as number);
    this.#starts[who] = end;
    return this.cutPoints.slice(start, end);
  }

  #left(who: number): number {
    return (this.#ends[who] as number) - (this.#starts[who] as number);
  }

  #steal(who: number): boolean {
    let victim = -1;
    for (let p = 0; p < this.#starts.length; p++) {
      if (this.#left(p) > 0 && (victim < 0 || this.#left(p) > this.#left(victim))) victim = p;
    }
    if (victim < 0) return false;
    const left = this.#left(victim);
    // A short remainder is taken whole rather than split into chunks shorter than the least.
    const keep = left < 2 * chunkCutsMin ? 0 : Math.floor(left / 2);
    const middle = (this.#starts[victim] as number) + keep;
    this.#starts[who] = middle;
    this.#ends[who] = this.#ends[victim] as number;
    this.#ends[victim] = middle;
    return true;
  }
}

export async function exploreWorkload(request: ExploreRequest): Promise<ExploreSummary> {
  const cluster = clusterWorkload(request.workload, request.params);
  if (cluster !== null)
    return exploreCluster(cluster.workload, cluster.params, request.options, request.onProgress);
  const started = performance.now();
  const { params, subject } = workloadSubject(request.workload, request.params);
  const explorer = new Explorer(subject, request.options, { workload: request.workload, params });
  const cutPoints = explorer.cutPoints();
  const script = workerScript();
  // Nested crashes multiply the work of every cut by the recovery's own cuts.
  const work = cutPoints.length * (explorer.options.depth > 1 ? nestedWorkFactor : 1);
  const wanted = request.workers ?? (work >= parallelCutsMin ? 2 : 1);
  const workers = script === undefined ? 1 : Math.max(1, Math.min(wanted, cutPoints.length));
  let merged: Omit<ExploreSummary, 'elapsedMs' | 'statesPerSecond' | 'imagesPerSecond'>;
  const base = {
    workload: request.workload,
    params,
    model: explorer.options.model,
    depth: explorer.options.depth,
  };
  if (workers === 1 || script === undefined) {
    explorer.onProgress = request.onProgress;
    explorer.run(cutPoints);
    const { counts, violations, outcomes } = explorer;
    const invariants = Object.fromEntries(explorer.invariants);
    merged = { ...base, counts, violations, invariants, outcomes, cutPoints, workers: 1 };
  } else {
    const setup: WorkerSetup = { workload: request.workload, params, options: explorer.options };
    const results = await runShared(
      explorer,
      script,
      setup,
      cutPoints,
      workers,
      request.onProgress,
    );
    merged = {
      ...base,
      ...mergeResults(results, explorer.options.violationsMax),
      cutPoints,
      workers,
    };
    merged.counts.instructions = explorer.counts.instructions;
  }
  const elapsedMs = performance.now() - started;
  const perSecond = (n: number): number => (elapsedMs > 0 ? (n * 1000) / elapsedMs : 0);
  return {
    ...merged,
    elapsedMs,
    statesPerSecond: perSecond(merged.counts.crashStates),
    imagesPerSecond: perSecond(merged.counts.imagesVisited),
  };
}

/** The compiled worker: beside this module, or under dist/ when running from TypeScript. */
export function workerScript(): URL | undefined {
  if (import.meta.url.endsWith('.js')) {
    const beside = new URL('./worker.js', import.meta.url);
    if (existsSync(fileURLToPath(beside))) return beside;
  }
  const built = new URL('../../dist/sim/explore/worker.js', import.meta.url);
  return existsSync(fileURLToPath(built)) ? built : undefined;
}

type WorkerResult = Extract<FromWorker, { type: 'result' }>;

/**
 * Chunks of cut points handed out on demand to `count - 1` worker processes and to this thread,
 * which explores between its event-loop turns: no core waits for a worker to start.
 */
async function runShared(
  explorer: Explorer<unknown, unknown>,
  script: URL,
  setup: WorkerSetup,
  cutPoints: number[],
  count: number,
  onProgress?: (progress: ExploreProgress) => void,
): Promise<WorkerResult[]> {
  const shares = new CutShares(cutPoints, count);
  const done = new Array<number>(count).fill(0);
  const states = new Array<number>(count).fill(0);
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
  const report = (): void =>
    onProgress?.({ cutsDone: sum(done), cutsTotal: cutPoints.length, crashStates: sum(states) });
  const threads = Array.from({ length: count - 1 }, (_, w) =>
    runWorker(
      script,
      setup,
      () => shares.take(w + 1),
      (cutsDone, crashStates) => {
        done[w + 1] = cutsDone;
        states[w + 1] = crashStates;
        report();
      },
    ),
  );
  for (let chunk = shares.take(0); chunk !== undefined; chunk = shares.take(0)) {
    // A few cuts at a time, yielding between them, so that a worker asking for its next chunk
    // is answered at once (its messages wait for this thread's event loop).
    for (let at = 0; at < chunk.length; at += mainSliceCuts) {
      const cuts = chunk.slice(at, at + mainSliceCuts);
      explorer.run(cuts);
      done[0] = (done[0] as number) + cuts.length;
      states[0] = explorer.counts.crashStates;
      report();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  const own: WorkerResult = {
    type: 'result',
    counts: explorer.counts,
    violations: explorer.violations,
    invariants: Object.fromEntries(explorer.invariants),
    outcomes: [...explorer.outcomes],
  };
  return [own, ...(await Promise.all(threads))];
}

/** Idle worker processes, kept for the next exploration (see the file comment). */
const idleWorkers: ChildProcess[] = [];

function pooledWorker(script: URL): ChildProcess {
  const worker =
    idleWorkers.pop() ??
    fork(fileURLToPath(script), [], {
      serialization: 'advanced', // structured clone, as between threads
      execArgv: [], // not this process's flags (an inspector port, a profiler)
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  worker.ref();
  worker.channel?.ref();
  return worker;
}

function releaseWorker(worker: ChildProcess): void {
  worker.unref();
  worker.channel?.unref();
  idleWorkers.push(worker);
}

/** Ends the kept worker processes (they are unreferenced: this process may also just exit). */
export async function closeExploreWorkers(): Promise<void> {
  const workers = idleWorkers.splice(0);
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.exitCode !== null || worker.signalCode !== null) return resolve();
          worker.once('exit', () => resolve());
          worker.ref(); // so that this process waits for the exit (kept workers are unreferenced)
          worker.disconnect(); // its channel closes: it exits (worker.ts)
        }),
    ),
  );
}

function runWorker(
  script: URL,
  setup: WorkerSetup,
  take: () => number[] | undefined,
  progress: (cutsDone: number, crashStates: number) => void,
): Promise<WorkerResult> {
  return new Promise<WorkerResult>((resolve, reject) => {
    const worker = pooledWorker(script);
    let cutsBefore = 0;
    let cutsDone = 0;
    const send = (message: ToWorker): void => {
      worker.send(message);
    };
    const detach = (): void => {
      worker.off('message', onMessage);
      worker.off('error', fail);
      worker.off('exit', onExit);
    };
    function fail(error: Error): void {
      detach();
      worker.kill();
      reject(error);
    }
    function onExit(code: number | null, signal: string | null): void {
      fail(new Error(`crash-lab worker exited with ${signal ?? `code ${code}`}`));
    }
    function onMessage(message: FromWorker): void {
      if (message.type === 'idle') {
        cutsBefore = cutsDone;
        const cuts = take();
        send(cuts === undefined ? { type: 'finish' } : { type: 'chunk', cuts });
        return;
      }
      if (message.type === 'progress') {
        cutsDone = cutsBefore + message.cutsDone;
        progress(cutsDone, message.crashStates);
        return;
      }
      detach();
      releaseWorker(worker);
      resolve(message);
    }
    worker.on('message', onMessage);
    worker.on('error', fail);
    worker.on('exit', onExit);
    send({ type: 'start', setup });
  });
}

function mergeResults(
  results: WorkerResult[],
  violationsMax: number,
): Pick<ExploreSummary, 'counts' | 'violations' | 'outcomes' | 'invariants'> {
  const counts: ExploreCounts = zeroCounts();
  const outcomes = new Set<string>();
  const violations: ViolationReport[] = [];
  const invariants: Record<string, number> = {};
  for (const result of results) {
    for (const [invariant, states] of Object.entries(result.invariants)) {
      invariants[invariant] = (invariants[invariant] ?? 0) + states;
    }
    for (const key of Object.keys(counts) as (keyof ExploreCounts)[]) {
      if (key !== 'instructions') counts[key] += result.counts[key];
    }
    for (const outcome of result.outcomes) outcomes.add(outcome);
    violations.push(...result.violations);
  }
  violations.sort((a, b) => (a.plan.steps[0]?.cut ?? 0) - (b.plan.steps[0]?.cut ?? 0));
  return { counts, outcomes, invariants, violations: violations.slice(0, violationsMax) };
}
