/**
 * The crash-state explorer (issue 4). It records the workload's trace once, then walks the cut
 * points in ascending order on a second traced device (the *cursor*) that it advances with
 * `applyTrace`, never re-running the workload. At each cut it builds the post-crash images the
 * model allows (candidates.ts), skips those equivalent to a state already explored
 * (state-index.ts), reboots the others, runs recovery with load recording on, and checks the
 * outcome. With depth D > 1 it also records each recovery and crashes it in turn (SPEC 4.6:
 * recovery is restartable), down to D power cuts in a row.
 */
import type { PersistencyModel } from '../../src/nvram/addon-api.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { assert } from '../assert.js';
import { encodePlan, type CrashPlan, type CrashStep, type WorkloadParams } from '../plan.js';
import { deriveSeed, Prng } from '../prng.js';
import {
  canonicalJson,
  checkOutcome,
  thrownFinding,
  type CrashSubject,
  type Finding,
} from '../subject.js';
import { imagesAtCut } from './candidates.js';
import {
  epochOf,
  marksBefore,
  recordingFingerprint,
  bootedHeader,
  recordWorkload,
  runFinalRecovery,
  runRecovery,
  type RecoveryRun,
  type StageRecording,
} from './recording.js';
import { applyFlips, chooseWordFlips } from '../faults.js';
import { ImageKeys } from './image-keys.js';
import { RecoveryDevice } from './recovery-device.js';
import { addWords, footprintWords, StateIndex, type IndexedState } from './state-index.js';

export interface ExploreOptions {
  model: PersistencyModel;
  /** Every cut point, or a seeded sample of this many. */
  cuts: 'all' | number;
  /** Enumerate every image when a cut has at most this many, else sample this many. */
  imagesPerCut: number;
  /** Power cuts in a row: 1 = crash the workload; 2 = also crash the first recovery; ... */
  depth: number;
  seed: number;
  /** False explores every visited image (for showing that pruning loses no outcome). */
  prune: boolean;
  /** Keep the set of distinct outcomes (epoch, recovered value, findings). */
  collectOutcomes: boolean;
  /** Violations reported in full (with plans); the rest are only counted. */
  violationsMax: number;
  /** Cut points of each recovery when depth > 1: every one, or a seeded sample of this many. */
  nestedCuts: 'all' | number;
  /** Images per cut of each recovery when depth > 1 (enumerated up to this many, else sampled). */
  nestedImagesPerCut: number;
  /** Media faults: extra images per first-level cut with seeded bit flips in a section. */
  mediaFaults?: MediaFaultOptions;
}

export interface MediaFaultOptions {
  /** Bits flipped per faulted image, in words the clean image's recovery loaded. */
  flips: number;
  /** Faulted images per cut (alternately everything and nothing pending survived). */
  imagesPerCut: number;
}

export const defaultExploreOptions: ExploreOptions = {
  model: 'px86',
  cuts: 'all',
  imagesPerCut: 64,
  depth: 1,
  seed: 1,
  prune: true,
  collectOutcomes: false,
  violationsMax: 20,
  nestedCuts: 4,
  nestedImagesPerCut: 4,
};

export interface ViolationReport extends Finding {
  plan: CrashPlan;
  token: string;
}

export interface ExploreCounts {
  /** Instructions of the workload. */
  instructions: number;
  /** Cut points visited in the workload (first level). */
  cuts: number;
  /**
   * Images the model allows at the cuts visited, nested crashes included: no pruning, no
   * sampling.
   */
  naiveStates: number;
  /** Images built and looked up. */
  imagesVisited: number;
  /** Crash states explored: recovered (or given an identical earlier recovery) and checked. */
  crashStates: number;
  /** Recoveries actually run. */
  recoveries: number;
  /** Images found equivalent to an explored state. */
  prunedStates: number;
  /** Explored states with at least one finding. */
  violationStates: number;
  /** Cuts (any level) with more images than imagesPerCut: a seeded sample was visited. */
  sampledCuts: number;
  /** Cut points of recoveries (depth > 1) not visited: nestedCuts sampled them. */
  nestedCutsSkipped: number;
}

/**
 * Whether an exploration visited every crash state the model allows: every cut point of the
 * workload (and, with depth > 1, of every recovery), every image at each. Pruned states count
 * as visited (pruning is exact, state-index.ts); sampled ones do not.
 */
export function isExhaustive(counts: ExploreCounts): boolean {
  return (
    counts.cuts === counts.instructions + 1 &&
    counts.sampledCuts === 0 &&
    counts.nestedCutsSkipped === 0
  );
}

export interface ExploreProgress {
  cutsDone: number;
  cutsTotal: number;
  crashStates: number;
}

export interface ExploreIdentity {
  workload: string;
  params: WorkloadParams;
}

const recoveryEpoch = 'recovery';
/** Final recoveries kept for reuse (about 50 KB each with an event workload's marks). */
const recoveriesKeptMax = 2048;

interface StagePath<M> {
  /** 1 for the workload's cuts, 2 for the first recovery's, ... */
  level: number;
  steps: CrashStep[];
  epoch: string;
  /** Marks of the stages above that a power cut interrupted (the workload's first). */
  interrupted: M[][];
}

interface Walk {
  cursor: TracedNvram;
  lab: RecoveryDevice | undefined;
  scratch: Uint8Array;
  keys: ImageKeys;
}

interface ExploredState {
  /** The footprint as word indices (with nested crashes: of the whole sub-exploration). */
  words: Int32Array;
  naiveStates: number;
}

/** Counts of an exploration that has not started (also the identity for merging workers'). */
export function zeroCounts(): ExploreCounts {
  return {
    instructions: 0,
    cuts: 0,
    naiveStates: 0,
    imagesVisited: 0,
    crashStates: 0,
    recoveries: 0,
    prunedStates: 0,
    violationStates: 0,
    sampledCuts: 0,
    nestedCutsSkipped: 0,
  };
}

/** A final recovery (run or reused) with the words it loaded. */
type FinalRun<R, M> = Omit<RecoveryRun<R, M>, 'loads' | 'recording'> & { words: Int32Array };

export class Explorer<R, M> {
  readonly counts: ExploreCounts = zeroCounts();
  readonly violations: ViolationReport[] = [];
  /** Crash states per broken invariant, over every violating state (not only those reported). */
  readonly invariants = new Map<string, number>();
  readonly outcomes = new Set<string>();
  readonly options: ExploreOptions;
  readonly #index = new StateIndex();
  /** Final recoveries by footprint alone (no epoch): see #finalRecovery. */
  #recoveries = new StateIndex();
  #recording: StageRecording<M> | undefined;
  #fingerprint: string | undefined;
  #root: Walk | undefined;

  constructor(
    readonly subject: CrashSubject<R, M>,
    options: Partial<ExploreOptions> = {},
    readonly identity: ExploreIdentity = { workload: subject.name, params: {} },
    public onProgress?: (progress: ExploreProgress) => void,
  ) {
    this.options = { ...defaultExploreOptions, ...options };
    assert(this.options.depth >= 1, 'depth is at least 1');
  }

  /** The workload's recording, made once. */
  get recording(): StageRecording<M> {
    this.#recording ??= recordWorkload(this.subject);
    this.counts.instructions = this.#recording.instructions;
    return this.#recording;
  }

  /** The first-level cut points the options ask for. */
  cutPoints(): number[] {
    return chooseCuts(this.recording.instructions, this.options.cuts, this.options.seed);
  }

  /** Explores the workload's cut points (or only `cutList`: one worker's share, ascending). */
  run(cutList?: readonly number[]): void {
    const recording = this.recording;
    const cuts = cutList ?? this.cutPoints();
    this.counts.cuts += cuts.length;
    const root: StagePath<M> = { level: 1, steps: [], epoch: '', interrupted: [] };
    this.counts.naiveStates += this.#exploreStage(recording, cuts, root, undefined);
  }

  /** Explores one stage's cuts; returns its naive state count. Grows `footprint` if given. */
  #exploreStage(
    recording: StageRecording<M>,
    cuts: readonly number[],
    path: StagePath<M>,
    footprint: Uint8Array | undefined,
  ): number {
    const walk = this.#walkFor(recording, cuts[0] ?? 0, path.level);
    const { cursor, lab, scratch, keys } = walk;
    const { model, imagesPerCut, seed, prune } = this.options;
    let naive = 0;
    for (let c = 0; c < cuts.length; c++) {
      const cut = cuts[c] as number;
      assert(
        cut >= cursor.instructionCount && cut <= recording.instructions,
        'cuts ascend within the trace',
      );
      keys.advance(cursor, cut);
      const marks = marksBefore(recording.marks, cut);
      const epoch = epochOf(path.epoch, path.level, marks);
      const perCut = path.level === 1 ? imagesPerCut : this.options.nestedImagesPerCut;
      const images = imagesAtCut(cursor, model, perCut, deriveSeed(seed, path.level, cut));
      if (images.survivors.length < images.count) this.counts.sampledCuts++;
      naive += images.count - images.survivors.length;
      // Words recovery loaded from the two extreme images: where media faults are aimed.
      const loaded: Int32Array[] = [];
      images.survivors.forEach((survivors, index) => {
        this.counts.imagesVisited++;
        keys.setCandidate(survivors);
        const hit = prune ? this.#index.find(keys, epoch) : undefined;
        if (hit !== undefined) {
          this.counts.prunedStates++;
          naive += hit.state.naiveStates;
          if (footprint !== undefined) addWords(footprint, hit.group.words);
          if (this.options.collectOutcomes) this.outcomes.add(hit.state.outcome);
          if (index < 2) loaded[index] = hit.group.words;
          return;
        }
        // Built only if needed: a reused recovery and the index need the candidate's keys only.
        let built = false;
        const image = (): Uint8Array => {
          if (!built) cursor.buildImage(survivors, scratch);
          built = true;
          return scratch;
        };
        const step = { cut, survivors: Array.from(survivors) };
        const state = this.#exploreState(image, step, marks, epoch, path, { lab, keys });
        naive += state.naiveStates;
        if (footprint !== undefined) addWords(footprint, state.words);
        if (index < 2) loaded[index] = state.words;
      });
      if (path.level === 1 && this.options.mediaFaults !== undefined) {
        const targets = { candidates: images.survivors, loaded };
        naive += this.#exploreFaulted(cursor, targets, cut, marks, epoch, path, lab);
      }
      if (path.level === 1) this.#reportProgress(c + 1, cuts.length);
    }
    if (walk !== this.#root) cursor.close();
    return naive;
  }

  /**
   * The cursor that walks a stage's cuts, with its lab device and image keys. The workload's
   * one is kept between calls of run(): a worker's (or the main thread's) next chunk of cuts
   * continues from where the last one stopped instead of replaying the trace from the start.
   */
  #walkFor(recording: StageRecording<M>, firstCut: number, level: number): Walk {
    const root = this.#root;
    if (level === 1 && root !== undefined && root.cursor.instructionCount <= firstCut) return root;
    if (level === 1) root?.cursor.close();
    const cursor = TracedNvram.fromImage(recording.start, { boot: false });
    const booted = bootedHeader(recording.start);
    const walk: Walk = {
      cursor,
      lab:
        level === this.options.depth ? new RecoveryDevice(booted.header, booted.page) : undefined,
      scratch: new Uint8Array(cursor.sizeBytes),
      keys: new ImageKeys(recording.trace, recording.instructions, cursor.sizeBytes),
    };
    if (level === 1) this.#root = walk;
    return walk;
  }

  /**
   * Images of one cut with seeded bit flips (fault injector, faults.ts), aimed at words the
   * clean image's recovery loaded (flips elsewhere change nothing it sees); returns naive states.
   */
  #exploreFaulted(
    cursor: TracedNvram,
    targets: { candidates: Float64Array[]; loaded: Int32Array[] },
    cut: number,
    marks: M[],
    epoch: string,
    path: StagePath<M>,
    lab: RecoveryDevice | undefined,
  ): number {
    const faults = this.options.mediaFaults as MediaFaultOptions;
    const image = new Uint8Array(cursor.sizeBytes);
    const words = new Uint32Array(image.buffer);
    const faultedEpoch = `${epoch}#media`;
    let naive = 0;
    for (let f = 0; f < faults.imagesPerCut; f++) {
      // Alternately: everything survived (index 1, or 0 when there is one image) and nothing.
      const pick = f % 2 === 0 && targets.candidates.length > 1 ? 1 : 0;
      const survivors = targets.candidates[pick] as Float64Array;
      const aim = targets.loaded[pick];
      if (aim === undefined || aim.length === 0) continue;
      const flips = chooseWordFlips(
        aim,
        faults.flips,
        deriveSeed(this.options.seed, cut, f, 0xf11b),
      );
      cursor.buildImage(survivors, image);
      applyFlips(image, flips);
      this.counts.imagesVisited++;
      const hit = this.options.prune ? this.#index.findImage(words, faultedEpoch) : undefined;
      if (hit !== undefined) {
        this.counts.prunedStates++;
        naive += hit.state.naiveStates;
        if (this.options.collectOutcomes) this.outcomes.add(hit.state.outcome);
        continue;
      }
      const step = { cut, survivors: Array.from(survivors), flips };
      const lookup = { lab, keys: undefined };
      const built = (): Uint8Array => image;
      naive += this.#exploreState(built, step, marks, faultedEpoch, path, lookup).naiveStates;
    }
    return naive;
  }

  /**
   * Reboots one crash image, recovers, checks, and (below the depth) crashes recovery too.
   * `via.keys` holds the image as the cut's current candidate, when it is one (not faulted);
   * `image()` builds it.
   */
  #exploreState(
    image: () => Uint8Array,
    step: CrashStep,
    marks: M[],
    epoch: string,
    path: StagePath<M>,
    via: { lab: RecoveryDevice | undefined; keys: ImageKeys | undefined },
  ): ExploredState {
    const deeper = path.level < this.options.depth;
    const run: RecoveryRun<R, M> | FinalRun<R, M> = deeper
      ? runRecovery(this.subject, image(), true)
      : this.#finalRecovery(image, via);
    this.counts.crashStates++;
    const steps = [...path.steps, step];
    const interrupted = [...path.interrupted, marks];
    const findings = run.threw
      ? [thrownFinding('recovery completes', run.error)]
      : checkOutcome(
          this.subject,
          run.recovered as R,
          interrupted,
          run.marks.map((mark) => mark.value),
          steps.some((s) => (s.flips?.length ?? 0) > 0),
        );
    if (findings.length > 0) this.#recordViolations(findings, steps);
    const outcome = this.options.collectOutcomes
      ? outcomeKeyOf(this.subject, epoch, run, findings)
      : '';
    if (this.options.collectOutcomes) this.outcomes.add(outcome);
    let naiveStates = 1;
    let loaded: Int32Array;
    if ('words' in run) loaded = run.words;
    else {
      // Grows by what the sub-exploration loads (state-index.ts: nested footprints).
      const footprint = run.loads;
      const nested = run.recording;
      assert(nested !== undefined, 'a recovery below the depth is recorded');
      const cuts = chooseCuts(
        nested.instructions,
        this.options.nestedCuts,
        deriveSeed(this.options.seed, ...step.survivors, step.cut),
      );
      this.counts.nestedCutsSkipped += nested.instructions + 1 - cuts.length;
      const below: StagePath<M> = { level: path.level + 1, steps, epoch, interrupted };
      naiveStates += this.#exploreStage(nested, cuts, below, footprint);
      loaded = footprintWords(footprint);
    }
    if (this.options.prune)
      addState(this.#index, image, via.keys, loaded, epoch, { naiveStates, outcome });
    return { words: loaded, naiveStates };
  }

  /**
   * The last recovery of a crash state. Recovery depends only on the words it loads, not on
   * the marks the checker will compare it with, so an image that agrees with an earlier one on
   * that footprint reuses its recovery, even at another cut; only the check runs again.
   */
  #finalRecovery(
    image: () => Uint8Array,
    { lab, keys }: { lab: RecoveryDevice | undefined; keys: ImageKeys | undefined },
  ): FinalRun<R, M> {
    // The candidate's keys hash only the words its survivors wrote (image-keys.ts).
    const known = !this.options.prune
      ? undefined
      : keys !== undefined
        ? this.#recoveries.find(keys, recoveryEpoch)
        : this.#recoveries.findImage(wordsOf(image()), recoveryEpoch);
    if (known?.state.recovery !== undefined) {
      return {
        ...(known.state.recovery as Omit<FinalRun<R, M>, 'words'>),
        words: known.group.words,
      };
    }
    this.counts.recoveries++;
    const run =
      lab === undefined
        ? runRecovery(this.subject, image(), false)
        : runFinalRecovery(this.subject, lab, image());
    // Read at once: the lab device reuses its load marks for the next state.
    const loaded = footprintWords(run.loads);
    if (this.options.prune) {
      const recovery = {
        recovered: run.recovered,
        error: run.error,
        threw: run.threw,
        marks: run.marks,
      };
      // Bounded: each entry keeps a recovery's marks, and nested crashes run many recoveries.
      if (this.#recoveries.states >= recoveriesKeptMax) this.#recoveries = new StateIndex();
      const entry = { naiveStates: 0, outcome: '', recovery };
      addState(this.#recoveries, image, keys, loaded, recoveryEpoch, entry);
    }
    return {
      recovered: run.recovered,
      error: run.error,
      threw: run.threw,
      marks: run.marks,
      words: loaded,
    };
  }

  #recordViolations(findings: Finding[], steps: CrashStep[]): void {
    this.counts.violationStates++;
    for (const invariant of new Set(findings.map((finding) => finding.invariant))) {
      this.invariants.set(invariant, (this.invariants.get(invariant) ?? 0) + 1);
    }
    if (this.violations.length >= this.options.violationsMax) return;
    this.#fingerprint ??= recordingFingerprint(this.recording);
    const plan: CrashPlan = {
      ...this.identity,
      model: this.options.model,
      steps,
      trace: this.#fingerprint,
    };
    const token = encodePlan(plan);
    for (const finding of findings) {
      if (this.violations.length >= this.options.violationsMax) break;
      this.violations.push({ ...finding, plan, token });
    }
  }

  #reportProgress(cutsDone: number, cutsTotal: number): void {
    this.onProgress?.({ cutsDone, cutsTotal, crashStates: this.counts.crashStates });
  }
}

/** An image's words (u32, little-endian like the device). */
function wordsOf(image: Uint8Array): Uint32Array {
  return new Uint32Array(image.buffer, image.byteOffset, image.length / 4);
}

/** Adds an explored state to an index, hashed by the candidate's keys when it has them. */
function addState(
  index: StateIndex,
  image: () => Uint8Array,
  keys: ImageKeys | undefined,
  words: Int32Array,
  epoch: string,
  state: IndexedState,
): void {
  if (keys !== undefined) index.addKeyed(keys, words, epoch, state);
  else index.add(wordsOf(image()), words, epoch, state);
}

/** Every cut point 0..instructions, or `count` of them drawn with `seed`, ascending. */
export function chooseCuts(instructions: number, cuts: 'all' | number, seed: number): number[] {
  const points = instructions + 1;
  if (cuts === 'all' || cuts >= points) return Array.from({ length: points }, (_, k) => k);
  assert(Number.isSafeInteger(cuts) && cuts > 0, 'a positive cut count');
  const prng = new Prng(seed);
  const chosen = new Set<number>();
  // Floyd's algorithm: `cuts` distinct points in `cuts` draws.
  for (let j = points - cuts; j < points; j++) {
    const t = prng.below(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

function outcomeKeyOf<R, M>(
  subject: CrashSubject<R, M>,
  epoch: string,
  run: { recovered: R | undefined; threw: boolean; marks: { value: M }[] },
  findings: Finding[],
): string {
  const recovered = run.threw
    ? 'threw'
    : subject.outcomeKey !== undefined
      ? subject.outcomeKey(run.recovered as R)
      : canonicalJson(run.recovered);
  const marks = canonicalJson(run.marks.map((mark) => mark.value));
  return `${epoch}#${recovered}#${marks}#${findings.map((f) => `${f.invariant}:${f.message}`).join('|')}`;
}
