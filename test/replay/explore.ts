/**
 * Crash exploration for event workloads on the traced device: a power cut at every instruction
 * of the workload, a few post-crash images per cut (SPEC 3 models), a reboot with replay until
 * quiescent, and the SPEC 4 checker on the whole history; optionally nested cuts during the
 * recovery (SPEC 4.6).
 */
import { formatNode, nodeLayout, type NodeLimits } from '../../src/node/layout.js';
import type { NodeOptions } from '../../src/node/node.js';
import { TracedNvram, type PersistencyModel } from '../../src/nvram/index.js';
import { AssertionError } from '../../src/events/assert.js';
import { checkHistory, type Finding, type Invariant } from '../../sim/checker/spec4.js';
import { crashLimits, Driver, type Workload } from './workload.js';

export interface ExploreOptions {
  /** Seeds the image sample and the nested cut points (deterministic). */
  seed: number;
  /** Nested cuts sampled per cut (0: none); each at a seeded instruction of the recovery. */
  nestedPerCut?: number;
  /** Visit only every n-th cut (1: every cut). */
  cutStride?: number;
  nodeOptions?: NodeOptions;
  limits?: NodeLimits;
}

export interface Violation extends Omit<Finding, 'invariant'> {
  /** A SPEC 4 invariant, or 'assertion': the runtime stopped on a broken invariant of its own. */
  invariant: Invariant | 'assertion';
  /** How to reach the state: cut, image, and nested cut if any. */
  state: string;
}

export interface Exploration {
  instructions: number;
  cuts: number;
  states: number;
  duplicates: number;
  violations: Violation[];
}

const baseImages = new Map<string, Uint8Array>();

/** A formatted node image for the limits (made once). */
export function baseImage(limits: NodeLimits = crashLimits): Uint8Array {
  const key = JSON.stringify(limits);
  let image = baseImages.get(key);
  if (image === undefined) {
    const layout = nodeLayout(limits);
    const device = TracedNvram.format(layout.sizeBytes, layout.sections);
    formatNode(device, limits);
    image = device.buildDurableImage();
    baseImages.set(key, image);
  }
  return image;
}

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ImageChoice {
  label: string;
  ids: Float64Array;
}

/**
 * Post-crash images: under px86 nothing pending survived (index 0), everything survived, and
 * two seeded choices; one seeded choice each under relaxed and eadr. Duplicates removed.
 */
export function imageChoices(device: TracedNvram, seed: number): ImageChoice[] {
  const choices: ImageChoice[] = [
    { label: 'px86:index0', ids: device.survivorsByIndex('px86', 0) },
    { label: 'px86:all', ids: device.pendingStores().ids },
  ];
  const seeded: [PersistencyModel, number][] = [
    ['px86', seed],
    ['px86', seed + 1],
    ['relaxed', seed + 2],
    ['eadr', seed + 3],
  ];
  for (const [model, s] of seeded)
    choices.push({ label: `${model}:seed${s}`, ids: device.survivorsBySeed(model, s) });
  const seen = new Set<string>();
  return choices.filter((choice) => {
    const key = Array.from(choice.ids).join(',');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Runs the workload to completion once: how many instructions it has. */
export function workloadInstructions(workload: Workload, options: ExploreOptions): number {
  const device = TracedNvram.fromImage(baseImage(options.limits));
  const driver = new Driver(workload, [], options.nodeOptions);
  if (driver.runWorkload(device, 0) !== 'done')
    throw new Error('the workload was cut without a cut point');
  return device.instructionCount;
}

export function exploreWorkload(workload: Workload, options: ExploreOptions): Exploration {
  const instructions = workloadInstructions(workload, options);
  const result: Exploration = { instructions, cuts: 0, states: 0, duplicates: 0, violations: [] };
  const random = prng(options.seed);
  for (let cut = 0; cut < instructions; cut += options.cutStride ?? 1) {
    result.cuts++;
    const device = TracedNvram.fromImage(baseImage(options.limits));
    device.setPowerCut(cut);
    const driver = new Driver(workload, [], options.nodeOptions);
    if (driver.runWorkload(device, 0) !== 'cut') throw new Error(`cut ${cut} was not reached`);
    for (const choice of imageChoices(device, options.seed + cut * 8)) {
      const image = device.buildImage(choice.ids);
      const state = `cut ${cut}, image ${choice.label}`;
      const recovery = recoverAndCheck(driver.fork(), image, 1, state, result);
      for (let n = 0; n < (options.nestedPerCut ?? 0) && recovery > 0; n++) {
        nestedCut(driver.fork(), image, Math.floor(random() * recovery), state, options, result);
      }
    }
  }
  return result;
}

/** Recovers from `image` until quiescent and checks; returns the recovery's instruction count. */
function recoverAndCheck(
  driver: Driver,
  image: Uint8Array,
  epoch: number,
  state: string,
  result: Exploration,
): number {
  const device = TracedNvram.fromImage(image);
  result.states++;
  try {
    driver.runRecovery(device, epoch);
  } catch (error) {
    if (!(error instanceof AssertionError)) throw error;
    result.violations.push({ invariant: 'assertion', message: error.message, state });
    return 0;
  }
  const report = checkHistory(driver.history);
  result.duplicates += report.duplicates;
  for (const finding of report.findings) result.violations.push({ ...finding, state });
  return device.instructionCount;
}

/** SPEC 4.6: a second power cut during recovery, at instruction `at`, then a full recovery. */
function nestedCut(
  driver: Driver,
  image: Uint8Array,
  at: number,
  state: string,
  options: ExploreOptions,
  result: Exploration,
): void {
  const device = TracedNvram.fromImage(image);
  device.setPowerCut(at);
  try {
    if (driver.runRecovery(device, 1) !== 'cut') return;
  } catch (error) {
    if (!(error instanceof AssertionError)) throw error;
    result.violations.push({
      invariant: 'assertion',
      message: error.message,
      state: `${state}, nested`,
    });
    return;
  }
  const choices = imageChoices(device, options.seed + at);
  const choice = choices[at % choices.length] as ImageChoice;
  recoverAndCheck(
    driver,
    device.buildImage(choice.ids),
    2,
    `${state}, nested cut ${at} image ${choice.label}`,
    result,
  );
}
