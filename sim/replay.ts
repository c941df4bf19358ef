/**
 * Replaying a crash plan (issue 4, reproduction): re-runs exactly one crash state, byte for
 * byte, and keeps what explains it: each stage's trace with the source site of every
 * instruction, the non-durable word-stores at each cut and which of them survived, and the
 * crash image next to the durable image.
 */
import type { TraceLog, WordStoreList } from '../src/nvram/addon-api.js';
import { TracedNvram } from '../src/nvram/traced.js';
import { blameSites, SiteRecordingDevice } from './explain/sites.js';
import { applyFlips } from './faults.js';
import {
  marksBefore,
  recordingFingerprint,
  recordWorkload,
  runRecovery,
  type DeviceWrapper,
  type StageRecording,
} from './explore/recording.js';
import { CrashPlanError, type CrashPlan } from './plan.js';
import { checkOutcome, thrownFinding, type CrashSubject, type Finding } from './subject.js';

export interface ReplayedStage {
  /** 'workload' or 'recovery 1', 'recovery 2', ... */
  name: string;
  trace: TraceLog;
  instructions: number;
  /** Per instruction: where it was issued (blameSites: a helper's caller, via the helper). */
  sites: string[];
  /** Per instruction: a few user frames of its stack, innermost first. */
  stacks: string[][];
  cut: number;
  /** The non-durable word-stores at the cut. */
  pending: WordStoreList;
  survivors: Set<number>;
  crashImage: Uint8Array;
  /** What survives whatever the cut keeps: the durable image (eadr: plus every fenced store). */
  durableImage: Uint8Array;
  /** Every non-durable word-store applied: the image had the power not failed. */
  fullImage: Uint8Array;
}

export interface ReplayResult<R> {
  plan: CrashPlan;
  stages: ReplayedStage[];
  recovered: R | undefined;
  findings: Finding[];
  /** One byte per device word (8 bytes): 1 = the final recovery loaded it. */
  recoveryLoads?: Uint8Array;
}

export interface ReplayOptions {
  /** Record the source site of every instruction (slow; default true). */
  sites?: boolean;
}

export function replayPlan<R, M>(
  subject: CrashSubject<R, M>,
  plan: CrashPlan,
  options: ReplayOptions = {},
): ReplayResult<R> {
  const withSites = options.sites ?? true;
  const siteRecorder = withSites ? recordingSites : noSites;
  const stages: ReplayedStage[] = [];
  const interrupted: M[][] = [];
  let sites = siteRecorder();
  let recording: StageRecording<M> = recordWorkload(subject, sites.wrap);
  if (plan.trace !== undefined && recordingFingerprint(recording) !== plan.trace) {
    throw new CrashPlanError(
      `this token was made for another workload trace (fingerprint ${plan.trace}, this ` +
        `${plan.workload} records ${recordingFingerprint(recording)}): a different spec, input, ` +
        `format or code; re-run the crash test that made it`,
    );
  }
  for (let s = 0; ; s++) {
    const step = plan.steps[s];
    if (step === undefined) throw new CrashPlanError('plan has no steps');
    const name = s === 0 ? 'workload' : `recovery ${s}`;
    const stage = crashStage(name, recording, sites.stacks(), plan, s);
    stages.push(stage);
    interrupted.push(marksBefore(recording.marks, step.cut));
    const last = s === plan.steps.length - 1;
    sites = siteRecorder();
    const run = runRecovery(subject, stage.crashImage, !last, sites.wrap);
    if (!last) {
      if (run.recording === undefined)
        throw new CrashPlanError(`${name}: recovery was not recorded`);
      recording = run.recording;
      continue;
    }
    const findings = run.threw
      ? [thrownFinding('recovery completes', run.error)]
      : checkOutcome(
          subject,
          run.recovered as R,
          interrupted,
          run.marks.map((mark) => mark.value),
          plan.steps.some((step) => (step.flips?.length ?? 0) > 0),
        );
    return { plan, stages, recovered: run.recovered, findings, recoveryLoads: run.loads };
  }
}

function crashStage<M>(
  name: string,
  recording: StageRecording<M>,
  stacks: string[][],
  plan: CrashPlan,
  s: number,
): ReplayedStage {
  const step = plan.steps[s] as CrashPlan['steps'][number];
  if (step.cut > recording.instructions) {
    throw new CrashPlanError(
      `step ${s}: cut ${step.cut} is past the end of the ${name} (${recording.instructions} instructions)`,
    );
  }
  const cursor = TracedNvram.fromImage(recording.start, { boot: false });
  cursor.applyTrace(recording.trace, 0, step.cut);
  const survivors = Float64Array.from(step.survivors);
  if (!cursor.allows(plan.model, survivors)) {
    throw new CrashPlanError(
      `step ${s}: the ${plan.model} model does not allow these surviving word-stores`,
    );
  }
  const stage: ReplayedStage = {
    name,
    trace: recording.trace,
    instructions: recording.instructions,
    sites: blameSites(stacks),
    stacks,
    cut: step.cut,
    pending: cursor.pendingStores(),
    survivors: new Set(step.survivors),
    crashImage: faulted(cursor.buildImage(survivors), step.flips),
    durableImage: cursor.buildImage(cursor.survivorsByIndex(plan.model, 0)),
    fullImage: new Uint8Array(cursor.native.buffer).slice(),
  };
  cursor.close();
  return stage;
}

function faulted(image: Uint8Array, flips: number[] | undefined): Uint8Array {
  if (flips !== undefined) applyFlips(image, flips);
  return image;
}

interface SiteRecorder {
  wrap: DeviceWrapper;
  stacks: () => string[][];
}

function noSites(): SiteRecorder {
  return { wrap: (traced) => traced, stacks: () => [] };
}

function recordingSites(): SiteRecorder {
  let device: SiteRecordingDevice | undefined;
  return {
    wrap: (traced) => (device = new SiteRecordingDevice(traced)),
    stacks: () => device?.stacks ?? [],
  };
}
