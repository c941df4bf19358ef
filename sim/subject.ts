/**
 * What the crash lab tests: a *crash subject* is any persistent structure written against the
 * `NvramDevice` interface, described by four parts (issue 4, harness API):
 *
 *   format    the device geometry (size and named sections);
 *   workload  what runs before the power cut, on a freshly formatted device;
 *   recover   what runs after the reboot, on the post-crash image; returns what it recovered;
 *   check     judges one crash state: what recovery returned against what the workload had
 *             been told before the cut (its *marks*). Returns findings, or throws.
 *
 * Marks are how a workload says "this became true here" (an append was acknowledged, a
 * confirmation was made durable). The lab stamps each mark with the instruction counter, and
 * the checker of a crash state at cut k sees exactly the marks made before instruction k ran.
 *
 * Both `workload` and `recover` must be deterministic, and `recover` must depend only on the
 * device: the lab records a workload's trace once and replays it, and it prunes crash images
 * that differ only in words recovery never loaded.
 */
import type { SectionSpec } from '../src/nvram/addon-api.js';
import type { NvramDevice } from '../src/nvram/device.js';

export interface DeviceFormat {
  sizeBytes: number;
  sections: SectionSpec[];
  /** Default 1: the same image on every machine, so that plans replay byte for byte. */
  deviceId?: bigint;
}

export interface StageContext<M> {
  /** Records that `value` became true at this point of the program (see the file comment). */
  mark(value: M): void;
}

/** One crash state as the checker sees it. */
export interface CrashOutcome<R, M> {
  /** What the final, completed recovery returned. */
  recovered: R;
  /** The workload's marks made before the (first) power cut. */
  marks: readonly M[];
  /** For nested crashes: the marks each interrupted recovery made before its power cut. */
  interruptedMarks: readonly (readonly M[])[];
  /** The marks the final recovery made. */
  recoveryMarks: readonly M[];
  /** Media faults (bit flips) were injected: damaged items may be lost, never delivered. */
  mediaFaults: boolean;
}

/** One broken invariant. `invariant` names it (SPEC 4 number or the subject's own name). */
export interface Finding {
  invariant: string;
  message: string;
  /** Event sequence numbers (or other item identities) involved, when the subject has them. */
  sequences?: number[];
}

/** What a simulated node says of itself: it refused to boot, or it broke (a defect). */
export type NodeMark =
  | { kind: 'refused'; node: string; code: string }
  | { kind: 'defect'; node: string; message: string };

/** A node's refusal to boot breaks recovery; a defect is one of its own. */
export function nodeMarkFinding(mark: NodeMark): Finding {
  return mark.kind === 'refused'
    ? { invariant: 'recovery', message: `${mark.node} refused to boot: ${mark.code}` }
    : { invariant: 'defect', message: `${mark.node}: ${mark.message}` };
}

/**
 * What a check returns: nothing (fine), findings, or a boolean (the fast-check habit: true is
 * fine, false is one finding).
 */
export type CheckResult =
  void | undefined | boolean | string | Finding | readonly (string | Finding)[];

export interface CrashSubject<R = unknown, M = unknown> {
  /** Names the subject in plans and reports. */
  readonly name: string;
  readonly format: DeviceFormat;
  /**
   * Optional: runs once on the formatted device before the workload and is not crash-tested
   * (e.g. formatting the structure). Everything it stores must be persisted.
   */
  prepare?(device: NvramDevice): void;
  workload(device: NvramDevice, context: StageContext<M>): void;
  recover(device: NvramDevice, context: StageContext<M>): R;
  check(outcome: CrashOutcome<R, M>): CheckResult;
  /** A canonical string of a recovered value (default: JSON with bigint support). */
  outcomeKey?(recovered: R): string;
}

/** Normalises what `check` returned (or threw) into findings. */
export function toFindings(result: CheckResult): Finding[] {
  if (result === undefined || result === null || result === true) return [];
  if (result === false) return [{ invariant: 'check', message: 'check returned false' }];
  const items: unknown[] = Array.isArray(result) ? result : [result];
  return items.map((item): Finding => {
    if (typeof item === 'string') return { invariant: 'check', message: item };
    if (
      typeof item === 'object' &&
      item !== null &&
      typeof (item as Finding).invariant === 'string' &&
      typeof (item as Finding).message === 'string'
    )
      return item as Finding;
    throw new TypeError(
      `check must return nothing, a boolean, a string, { invariant, message } or an array of ` +
        `strings and findings; it returned ${describeValue(item)}`,
    );
  });
}

function describeValue(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    try {
      return `an object ${JSON.stringify(value).slice(0, 80)}`;
    } catch {
      return 'an object';
    }
  }
  return `${typeof value} ${String(value)}`;
}

/**
 * The subject's check of one recovered crash state, its result as findings; a check that
 * throws is a finding too. `interrupted[0]` holds the workload's marks, the rest those of each
 * recovery cut short. Throws a TypeError if the check returned something it should not.
 */
export function checkOutcome<R, M>(
  subject: CrashSubject<R, M>,
  recovered: R,
  interrupted: M[][],
  recoveryMarks: M[],
  mediaFaults: boolean,
): Finding[] {
  let result: CheckResult;
  try {
    result = subject.check({
      recovered,
      marks: interrupted[0] ?? [],
      interruptedMarks: interrupted.slice(1),
      recoveryMarks,
      mediaFaults,
    });
  } catch (error) {
    return [thrownFinding('check', error)];
  }
  // Outside the try: a check returning something else is a usage error, not a finding.
  return toFindings(result);
}

/** A thrown error as a finding: the check (or recovery) itself failed on this state. */
export function thrownFinding(invariant: string, error: unknown): Finding {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { invariant, message };
}

/** JSON that also prints bigints and typed arrays: the default outcome key. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return `${item}n`;
    if (ArrayBuffer.isView(item)) return Array.from(item as Uint8Array);
    return item;
  });
}
