/**
 * The event workloads (`--workload events`): a whole nvrelay node on the traced device, driven
 * by a seeded script, crash-tested against SPEC section 4 (checker/spec4.ts).
 *
 * Before the cut (the workload): boot, register four recipients with different behaviours
 * (the recipient faults of issue 4: confirms at once, confirms late, confirms twice, throws on
 * a first attempt), emit a few events while booting (boot pool [130]), start, then emit from
 * three producers with drains, late confirmations and clock steps (retries) in between.
 * After the cut (recovery): boot [231], re-register the same recipients, emit one event while
 * booting and two after start (replay must come first [230-240]), and drain with clock steps
 * until the node is idle. Every observation is a mark: an `Observation` of the SPEC 4 checker
 * (checker/spec4.ts), stamped with its stage as the epoch when the history is assembled.
 */
import type { Clock } from '../../src/engine/distribution-engine.js';
import type { EventView } from '../../src/engine/event-view.js';
import type { Recipient } from '../../src/engine/recipient.js';
import { NodeError, QueueFull } from '../../src/events/errors.js';
import { formatNode, nodeLayout, type NodeLimits } from '../../src/node/layout.js';
import { Node, type NodeOptions } from '../../src/node/node.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { DeviceWrapper } from '../device-wrapper.js';
import { HistoryChecker, type Observation } from '../checker/spec4.js';
import type { WorkloadParams } from '../plan.js';
import { assert } from '../assert.js';
import { Prng } from '../prng.js';
import type { CrashOutcome, CrashSubject, Finding, StageContext } from '../subject.js';

/** The default geometry: a 64 KiB device (issue 4's benchmark size). */
export const eventLimits: NodeLimits = {
  detailsBytesMax: 32,
  bootSlots: 16,
  runtimeSlots: 64,
  deadLetterSlots: 8,
  recipientsMax: 8,
};
export const eventDeviceBytes = 64 * 1024;

/** A mark is an observation; its epoch is set when the stages are put together. */
export type EventMark = Observation;

type Behaviour = 'at-once' | 'late' | 'twice' | 'throws-first';

interface RecipientSpec {
  name: string;
  prefixes: readonly string[];
  /** Deliver events of this level or lower (0 emerg .. 7 debug). */
  severityMax: number;
  behaviour: Behaviour;
}

const recipients: readonly RecipientSpec[] = [
  { name: 'audit', prefixes: [''], severityMax: 7, behaviour: 'at-once' },
  { name: 'pager', prefixes: ['disk.'], severityMax: 3, behaviour: 'late' },
  { name: 'stats', prefixes: ['net.', 'disk.'], severityMax: 7, behaviour: 'twice' },
  { name: 'flaky', prefixes: ['app.'], severityMax: 7, behaviour: 'throws-first' },
];

const producers = [
  { name: 'raid', types: ['disk.failed', 'disk.rebuilt'] },
  { name: 'nic', types: ['net.up', 'net.down'] },
  { name: 'app', types: ['app.started', 'app.audit'] },
] as const;

/** Retry timing of every recipient: short, so that a clock step re-delivers. */
const retry = { timeoutMs: 100, backoffFactor: 2, timeoutMaxMs: 400, attemptsMax: 8 };
const recoveryRoundsMax = 24;

export interface EventWorkloadOptions {
  /** Emits after start. */
  events: number;
  /** Emits while booting (boot pool). */
  bootEvents: number;
  seed: number;
  /** Broken runtime classes (mutants/). */
  variant?: Pick<NodeOptions, 'Fifo' | 'Replay' | 'Engine' | 'SeqLease'>;
  /**
   * Pipelined group commit (NodeOptions.pipelinedFence): the script issues group fences and
   * completes them itself (the traced device's manual completion), emitting in between, so
   * cuts fall between an issue and its completion.
   */
  pipelined?: boolean;
  name?: string;
}

export interface EventRecovered {
  idle: boolean;
  /** The boot refused the device with this typed error (e.g. NODE_CORRUPT): detected, reported. */
  refused?: string;
}

/** Drives one stage of a node and turns what it observes into marks. */
class EventStageDriver {
  readonly node: Node;
  readonly #context: StageContext<EventMark>;
  readonly #clock: { time: number } & Clock;
  readonly #late: { recipient: Recipient; seq: number }[] = [];
  /** Keys of group-commit emits not yet published, in emit order. */
  #grouped: string[] = [];
  /** The traced device whose fence completions the script drives (pipelined), or null. */
  readonly #fences: TracedNvram | null;
  readonly #boot: number;
  /** The stage's epoch: 0 for the workload, i for the i-th recovery (one boot each). */
  readonly #epoch: number;
  #counter = 0;

  constructor(
    device: NvramDevice,
    context: StageContext<EventMark>,
    start: number,
    options: EventWorkloadOptions,
  ) {
    this.#context = context;
    const clock = { time: start, now: () => clock.time };
    this.#clock = clock;
    this.#boot = device.header.bootCount;
    // The subject's start image has booted once (format): boot n is stage n - 1.
    this.#epoch = this.#boot - 1;
    context.mark({ kind: 'boot', epoch: this.#epoch });
    // The TypeScript checksum: the same bytes as the default, and no WebAssembly instance (with
    // its address-space reservation) for each of the thousands of boots an exploration makes.
    const pipelined = options.pipelined ?? false;
    // recovery only emits synchronously: no fence of its own to complete
    this.#fences = pipelined ? tracedUnder(device) : null;
    if (this.#fences !== null) this.#fences.asyncFenceCompletion = 'manual';
    this.node = Node.boot(device, {
      scheduling: 'manual',
      clock,
      retry,
      checksum: 'typescript',
      pipelinedFence: pipelined,
      ...options.variant,
    });
    // a group is acknowledged when it is durable: its emits, the oldest keys waiting
    this.node.recorder.onGroupDurable = (group) => {
      for (const seq of group.seqs) {
        const key = this.#grouped.shift();
        if (key !== undefined)
          this.#context.mark({ kind: 'emitted', epoch: this.#epoch, key, seq });
      }
    };
  }

  /** Pipelined: issues the open group's fence (Node.commit). */
  commit(): void {
    this.node.commit();
  }

  /** Pipelined: the oldest fence in flight completes (its group is published). */
  completeFence(): void {
    this.#fences?.completeFence();
  }

  register(lateConfirms: boolean): void {
    for (const spec of recipients) {
      const behaviour = spec.behaviour === 'late' && !lateConfirms ? 'at-once' : spec.behaviour;
      const subscription = { prefixes: spec.prefixes, severityMax: spec.severityMax };
      this.node.registerRecipient(spec.name, subscription, (event, recipient) =>
        this.#handle(behaviour, event, recipient),
      );
    }
  }

  start(): void {
    this.node.start();
    this.#context.mark({ kind: 'started', epoch: this.#epoch });
  }

  #handle(behaviour: Behaviour, event: EventView, recipient: Recipient): void {
    const seq = event.seq;
    this.#context.mark({
      kind: 'delivered',
      epoch: this.#epoch,
      recipient: recipient.name,
      seq,
      source: event.source,
      type: event.type,
      severity: event.level,
      // The details read in place (no copy): a delivery per mark, thousands of recoveries.
      key: `${event.source}/${hexOf(event.bytes, event.detailsOffset, event.detailsBytes)}`,
      replayed: event.replayed,
    });
    if (behaviour === 'late') {
      this.#late.push({ recipient, seq });
      return;
    }
    if (behaviour === 'throws-first' && event.attempt === 1 && seq % 3 === 0) {
      throw new Error('recipient fault: a handler that throws');
    }
    this.#confirm(recipient, seq);
    if (behaviour === 'twice') this.#confirm(recipient, seq);
  }

  #confirm(recipient: Recipient, seq: number): void {
    this.#context.mark({ kind: 'confirming', epoch: this.#epoch, recipient: recipient.name, seq });
    if (recipient.confirm(seq)) {
      this.#context.mark({ kind: 'confirmed', epoch: this.#epoch, recipient: recipient.name, seq });
    }
  }

  confirmLate(count: number): void {
    for (const { recipient, seq } of this.#late.splice(0, count)) this.#confirm(recipient, seq);
  }

  /** One emit; `grouped`: emitAsync (group commit), durable once the next drain returns. */
  emit(producer: number, type: number, severity: number, grouped = false): void {
    const spec = producers[producer % producers.length] as (typeof producers)[number];
    const typeName = spec.types[type % spec.types.length] as string;
    // Unique content across the whole history: producer, boot and a counter.
    const details = new Uint8Array(12);
    const view = new DataView(details.buffer);
    view.setUint32(0, producer, true);
    view.setUint32(4, this.#boot, true);
    view.setUint32(8, ++this.#counter, true);
    const key = `${spec.name}/${hexOf(details, 0, details.length)}`;
    const intended = recipients
      .filter((r) => severity <= r.severityMax && r.prefixes.some((p) => typeName.startsWith(p)))
      .map((r) => r.name);
    this.#context.mark({
      kind: 'attempt',
      epoch: this.#epoch,
      key,
      source: spec.name,
      type: typeName,
      severity,
      intended,
      grouped,
    });
    try {
      if (grouped) {
        // a cut inside the group's fence rejects the promise: the driver learns from the drain
        void this.node
          .producer(spec.name)
          .emitAsync(typeName, severity, details)
          .catch(() => {});
        this.#grouped.push(key);
        return;
      }
      const seq = this.node.producer(spec.name).emit(typeName, severity, details);
      this.#context.mark({ kind: 'emitted', epoch: this.#epoch, key, seq });
    } catch (error) {
      if (!(error instanceof QueueFull)) throw error;
      this.#context.mark({ kind: 'rejected', epoch: this.#epoch, key, code: error.code });
    }
  }

  /**
   * True if the pass delivered or retired anything (Node.drain). The pass first commits the open
   * group: its emits are durable once it returns.
   */
  drain(): boolean {
    const progress = this.node.drain(); // without pipelining: the open group is committed first
    this.#context.mark({ kind: 'durable', epoch: this.#epoch });
    return progress;
  }

  step(ms: number): void {
    this.#clock.time += ms;
  }

  /** The end of a completed stage: the visible counters, and whether the node is idle. */
  finish(): void {
    this.#context.mark({
      kind: 'counters',
      epoch: this.#epoch,
      rejected: this.node.counters.rejectedQueueFull,
    });
    this.#context.mark({
      kind: 'quiescent',
      epoch: this.#epoch,
      idle: this.node.idle(),
      pending: this.node.queue.length(),
    });
  }
}

const hexDigits = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Lower-case hex of bytes [offset, offset + length), as Buffer's toString('hex'). */
export function hexOf(bytes: Uint8Array, offset: number, length: number): string {
  let hex = '';
  for (let i = offset; i < offset + length; i++) hex += hexDigits[bytes[i] as number] as string;
  return hex;
}

function runWorkload(
  device: NvramDevice,
  context: StageContext<EventMark>,
  options: EventWorkloadOptions,
): void {
  const prng = new Prng(options.seed);
  const driver = new EventStageDriver(device, context, 1_000_000, options);
  driver.register(true);
  for (let i = 0; i < options.bootEvents; i++)
    driver.emit(prng.below(3), prng.below(2), prng.below(8));
  driver.start();
  for (let i = 0; i < options.events; i++) {
    // one emit in three joins a group commit (emitAsync), published by the next drain, or
    // (pipelined) by the completion of the fence a commit issued
    driver.emit(prng.below(3), prng.below(2), prng.below(8), prng.below(3) === 0);
    if (options.pipelined === true) {
      if (prng.below(2) === 0) driver.commit();
      if (prng.below(3) === 0) driver.completeFence();
    }
    const action = prng.below(4);
    if (action === 1) driver.confirmLate(1 + prng.below(3));
    if (action === 2) driver.step(retry.timeoutMs + 1);
    if (action !== 3) driver.drain();
  }
  driver.confirmLate(Infinity);
  if (options.pipelined === true) {
    driver.commit();
    driver.completeFence();
    driver.commit();
    driver.completeFence();
  }
  driver.drain();
}

/**
 * The traced device a (wrapped) device stands on, whose fence completions the script drives;
 * null for recovery's device (recovery emits synchronously: it issues no fence to complete).
 */
function tracedUnder(device: NvramDevice): TracedNvram | null {
  let inner: unknown = device;
  while (inner instanceof DeviceWrapper) inner = inner.inner;
  return inner instanceof TracedNvram ? inner : null;
}

function runRecovery(
  device: NvramDevice,
  context: StageContext<EventMark>,
  options: EventWorkloadOptions,
): EventRecovered {
  let driver: EventStageDriver;
  try {
    driver = new EventStageDriver(device, context, 5_000_000, options);
  } catch (error) {
    // A damaged descriptor or control block stops the boot with a typed error (decision D1).
    if (error instanceof NodeError && error.code === 'NODE_CORRUPT') {
      return { idle: false, refused: `${error.code}: ${error.message}` };
    }
    throw error;
  }
  driver.register(false);
  driver.emit(2, 0, 6); // while booting: must be delivered after the replay
  driver.start();
  driver.emit(0, 0, 3);
  driver.emit(1, 1, 6);
  for (let round = 0; round < recoveryRoundsMax && !driver.node.idle(); round++) {
    for (let pass = 0; pass < 64; pass++) {
      // A pass that delivered and retired nothing leaves the next one nothing to do until
      // the clock moves (a retry's timeout): step it instead of draining again.
      const progress = driver.drain();
      if (driver.node.idle() || !progress) break;
    }
    driver.step(retry.timeoutMaxMs + 1);
  }
  driver.finish();
  return { idle: driver.node.idle() };
}

/** The crash subject of an event workload. */
export function eventSubject(
  options: EventWorkloadOptions,
): CrashSubject<EventRecovered, EventMark> {
  const layout = nodeLayout(eventLimits);
  const prefixes = new PrefixCache();
  return {
    name: options.name ?? 'events',
    format: { sizeBytes: Math.max(eventDeviceBytes, layout.sizeBytes), sections: layout.sections },
    prepare: (device) => formatNode(device, eventLimits),
    workload: (device, context) => runWorkload(device, context, options),
    recover: (device, context) => runRecovery(device, context, options),
    check: (outcome) => checkEvents(outcome, prefixes),
  };
}

/**
 * SPEC 4 on the history. With media faults a damaged record may be lost (it is detected,
 * discarded and reported) or a handled event handed out again, so 4.1 and 4.3 are waived for
 * those states; nothing damaged may be delivered. A boot that refuses a damaged device
 * (typed error) is the right answer to media faults, and a finding without them.
 */
export function checkEvents(
  outcome: CrashOutcome<EventRecovered, EventMark>,
  prefixes: PrefixCache,
): Finding[] {
  assert(
    outcome.recoveryMarks[0]?.epoch === outcome.interruptedMarks.length + 1,
    'the final recovery marks carry its stage as their epoch',
  );
  // A trial: the prefix's checker is left as it was for the next state of this cut.
  const findings = prefixes.checkerAfter(outcome.marks, outcome.mediaFaults).trial((checker) => {
    checker.observe({ kind: 'cut', epoch: 0 });
    outcome.interruptedMarks.forEach((marks, i) => {
      checker.observeAll(marks);
      checker.observe({ kind: 'cut', epoch: i + 1 });
    });
    checker.observeAll(outcome.recoveryMarks);
    return checker.finish().findings;
  });
  const refused = outcome.recovered.refused;
  if (!outcome.mediaFaults) {
    if (refused === undefined) return findings;
    return [
      ...findings,
      { invariant: 'recovery completes', message: `the boot refused the device: ${refused}` },
    ];
  }
  return findings.filter((finding) => !mediaWaived.has(finding.invariant));
}

/**
 * What media faults may legitimately cause: a damaged record is dropped (4.1), and a damaged
 * confirmation word or head pointer can hand a handled event out again (4.3). Garbage, order
 * and identity still hold.
 */
const mediaWaived = new Set(['no-loss', 'no-zombies']);

/**
 * The checker's state after the workload's marks before a cut, kept for the next check: every
 * image of a cut shares those marks, and the next cut's marks extend them (the checker is only
 * ever changed by trials, which undo themselves, so it is extended in place).
 */
export class PrefixCache {
  #marks: readonly EventMark[] = [];
  #mediaFaults = false;
  #checker: HistoryChecker = new HistoryChecker();

  checkerAfter(marks: readonly EventMark[], mediaFaults: boolean): HistoryChecker {
    const known = this.#marks;
    if (marks === known && mediaFaults === this.#mediaFaults) return this.#checker;
    const extends_ =
      mediaFaults === this.#mediaFaults &&
      marks.length >= known.length &&
      (known.length === 0 || marks[known.length - 1] === known[known.length - 1]);
    const checker = extends_ ? this.#checker : new HistoryChecker({ mediaFaults });
    for (let i = extends_ ? known.length : 0; i < marks.length; i++)
      checker.observe(marks[i] as EventMark);
    this.#marks = marks;
    this.#mediaFaults = mediaFaults;
    this.#checker = checker;
    return checker;
  }
}

export function eventOptions(params: WorkloadParams, name: string): EventWorkloadOptions {
  const number = (key: string): number => {
    const value = params[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new Error(
        `workload ${name}: parameter ${key} must be a non-negative integer, got ${String(value)}`,
      );
    }
    return value;
  };
  return {
    name,
    seed: number('seed'),
    events: number('events'),
    bootEvents: number('bootEvents'),
    ...(params['pipelined'] !== undefined ? { pipelined: number('pipelined') === 1 } : {}),
  };
}
