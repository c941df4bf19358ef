/**
 * Recording a stage once (issue 4: the explorer never re-runs a workload per cut): the image the
 * stage started from, its instruction trace and its marks. A stage is the workload, or one run
 * of recovery on a rebooted crash image (for nested crashes).
 */
import type { HeaderInfo, TraceLog } from '../../src/nvram/addon-api.js';
import { headerBytes } from '../../src/nvram/arguments.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { assert } from '../assert.js';
import type { RecoveryDevice } from './recovery-device.js';
import { canonicalJson, type CrashSubject, type StageContext } from '../subject.js';

export interface Mark<M> {
  /** The instruction counter when the mark was made: it is seen by cuts k >= at. */
  at: number;
  value: M;
}

export interface StageRecording<M> {
  /** The image the stage started from (volatile equals durable there). */
  start: Uint8Array;
  trace: TraceLog;
  instructions: number;
  marks: Mark<M>[];
}

/**
 * A fingerprint of a recording: FNV-1a (two 32-bit lanes) over the start image and the trace.
 * Plans carry the workload's, so that a token replayed against another spec, input or format
 * is refused (plan.ts).
 */
export function recordingFingerprint(recording: StageRecording<unknown>): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ recording.instructions;
  const byte = (value: number): void => {
    a = Math.imul(a ^ value, 0x01000193);
    b = Math.imul(b ^ value, 0x5bd1e995) ^ (b >>> 15);
  };
  const number = (value: number): void => {
    for (let v = value, k = 0; k < 6; k++, v = Math.floor(v / 256)) byte(v & 0xff);
  };
  for (let i = 0; i < recording.start.length; i++) {
    const value = recording.start[i] as number;
    if (value !== 0) {
      number(i);
      byte(value);
    }
  }
  const { trace } = recording;
  for (let i = 0; i < recording.instructions; i++) {
    byte(trace.kinds[i] as number);
    number(trace.offsets[i] as number);
    number(trace.lengths[i] as number);
  }
  for (let i = 0; i < trace.data.length; i++) byte(trace.data[i] as number);
  const hex = (lane: number): string => (lane >>> 0).toString(16).padStart(8, '0');
  return hex(a) + hex(b);
}

/** Lets replay watch the device (explain/sites.ts); the explorer passes it through. */
export type DeviceWrapper = (device: TracedNvram) => NvramDevice;

/** The default device id of crash subjects: the same image on every machine. */
export const subjectDeviceId = 1n;

/** Formats the subject's device and runs its workload once with the trace recorded. */
export function recordWorkload<R, M>(
  subject: CrashSubject<R, M>,
  wrap: DeviceWrapper = (device) => device,
): StageRecording<M> {
  const start = startImage(subject);
  const device = TracedNvram.fromImage(start, { record: true, boot: false });
  const marks: Mark<M>[] = [];
  subject.workload(wrap(device), markingContext(device, marks));
  assert(!device.poweredOff, 'the recorded workload runs without a power cut');
  const recording = {
    start,
    trace: device.exportTrace(),
    instructions: device.instructionCount,
    marks,
  };
  device.close();
  return recording;
}

/** The formatted (and prepared) image a subject's workload starts from; everything durable. */
export function startImage<R, M>(subject: CrashSubject<R, M>): Uint8Array {
  const { sizeBytes, sections, deviceId } = subject.format;
  const device = TracedNvram.format(sizeBytes, sections, { deviceId: deviceId ?? subjectDeviceId });
  if (subject.prepare !== undefined) {
    subject.prepare(device);
    assert(
      device.pendingStores().ids.length === 0,
      `${subject.name}: prepare left stores unpersisted`,
    );
  }
  const start = new Uint8Array(device.native.buffer).slice();
  device.close();
  return start;
}

export interface RecoveryRun<R, M> {
  recovered: R | undefined;
  /** What recovery threw, if it did not complete. */
  error: unknown;
  threw: boolean;
  /** One byte per device word: 1 = recovery loaded it. */
  loads: Uint8Array;
  marks: Mark<M>[];
  /** Present when recorded for nested crashes: the stage recovery ran as. */
  recording?: StageRecording<M>;
}

/** Reboots a crash image (boot counter + 1) and runs the subject's recovery on it. */
export function runRecovery<R, M>(
  subject: CrashSubject<R, M>,
  image: Uint8Array,
  record: boolean,
  wrap: DeviceWrapper = (device) => device,
): RecoveryRun<R, M> {
  const device = TracedNvram.fromImage(image, { record, boot: true });
  const start = record ? new Uint8Array(device.native.buffer).slice() : undefined;
  const marks: Mark<M>[] = [];
  let recovered: R | undefined;
  let error: unknown;
  let threw = false;
  device.startLoadRecording();
  try {
    recovered = subject.recover(wrap(device), markingContext(device, marks));
  } catch (thrown) {
    error = thrown;
    threw = true;
  }
  const loads = device.stopLoadRecording();
  const run: RecoveryRun<R, M> = { recovered, error, threw, loads, marks };
  if (start !== undefined) {
    run.recording = {
      start,
      trace: device.exportTrace(),
      instructions: device.instructionCount,
      marks,
    };
  }
  device.close();
  return run;
}

/**
 * Runs the subject's recovery as the last one of a crash state, on the reusable lab device
 * (recovery-device.ts). `loads` in the result is the device's own array: use it before the
 * next run.
 */
export function runFinalRecovery<R, M>(
  subject: CrashSubject<R, M>,
  device: RecoveryDevice,
  image: Uint8Array,
): RecoveryRun<R, M> {
  device.reset(image);
  const marks: Mark<M>[] = [];
  const context: StageContext<M> = {
    mark: (value) => marks.push({ at: device.instructionCount, value }),
  };
  try {
    return {
      recovered: subject.recover(device, context),
      error: undefined,
      threw: false,
      loads: device.loads,
      marks,
    };
  } catch (error) {
    return { recovered: undefined, error, threw: true, loads: device.loads, marks };
  }
}

/** The header a stage's crash images have after their reboot, and its page (cached per header). */
export function bootedHeader(start: Uint8Array): { header: HeaderInfo; page: Uint8Array } {
  const key = Buffer.from(start.buffer, start.byteOffset, headerBytes).toString('base64');
  let booted = bootedHeaders.get(key);
  if (booted === undefined) {
    const device = TracedNvram.fromImage(start, { boot: true });
    booted = {
      header: device.header,
      page: new Uint8Array(device.native.buffer, 0, headerBytes).slice(),
    };
    device.close();
    if (bootedHeaders.size > 64) bootedHeaders.clear();
    bootedHeaders.set(key, booted);
  }
  return booted;
}

const bootedHeaders = new Map<string, { header: HeaderInfo; page: Uint8Array }>();

/** The marks made before instruction `cut` ran. */
export function marksBefore<M>(marks: readonly Mark<M>[], cut: number): M[] {
  const seen: M[] = [];
  for (const mark of marks) {
    if (mark.at > cut) break;
    seen.push(mark.value);
  }
  return seen;
}

/** The epoch of a cut: which marks the checker sees (see state-index.ts). */
export function epochOf<M>(parentEpoch: string, level: number, marks: readonly M[]): string {
  // Level 1 marks are a prefix of one fixed list: their count names them exactly.
  const own = level === 1 ? String(marks.length) : canonicalJson(marks);
  return `${parentEpoch}/${own}`;
}

function markingContext<M>(device: TracedNvram, marks: Mark<M>[]): StageContext<M> {
  return {
    mark(value: M): void {
      marks.push({ at: device.instructionCount, value });
    },
  };
}
