/**
 * The dead-letter workload (`--workload dead-letters`): a node whose `sink` recipient never
 * confirms an event it is delivered for the first time: it refuses one of an even seq at once
 * (Recipient.refuse, as a sink does on a permanent error: reason `refused`), and for the others
 * the manual clock, stepped past every retry timeout, exhausts its attempts and the engine
 * dead-letters the event (both in one persist order: the record copied into the dead-letter
 * section, then the recipient's confirmation bit, see src/engine/dead-letter.ts). An operator then re-delivers the dead letters
 * (node.redeliverDeadLetters) and the sink confirms each re-delivery (it carries originalSeq).
 * An `audit` recipient confirms everything at once, so the head moves only once the sink's bit
 * is set.
 *
 * Before the cut: boot, register, start, emit `events` events (most of them for the sink) with
 * a drain after each and the clock stepped past the retry timeout after every second one, then
 * past the remaining attempts; after each step a drain, and if it dead-lettered anything, the
 * operator re-delivers and a drain delivers the re-deliveries. One more emit at the end. After the cut: boot, register, start,
 * emit one event for the sink, then drain, re-deliver the dead letters and step the clock in
 * rounds until nothing is pending and no dead letter is held (pending sink events are
 * dead-lettered again, and re-delivered, in the recovery).
 *
 * Marks are SPEC 4 observations (checker/spec4.ts), with two for the dead-letter contract: a
 * delivery's `originalSeq`, and `dead-lettered` when a drain returns with a new dead letter.
 */
import type { Clock } from '../../src/engine/distribution-engine.js';
import type { EventView } from '../../src/engine/event-view.js';
import type { Recipient } from '../../src/engine/recipient.js';
import { NodeError, QueueFull } from '../../src/events/errors.js';
import { formatNode, nodeLayout, type NodeLimits } from '../../src/node/layout.js';
import { Node, type NodeOptions } from '../../src/node/node.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import type { WorkloadParams } from '../plan.js';
import { Prng } from '../prng.js';
import type { CrashSubject, StageContext } from '../subject.js';
import { PrefixCache, checkEvents, hexOf, type EventMark, type EventRecovered } from './events.js';

const runtimeSlots = 8;

/**
 * Small: a runtime ring that wraps within the workload, and a dead-letter section that fills
 * after a few reboots (an event waits in flight until an entry is freed).
 */
export const deadLetterLimits: NodeLimits = {
  detailsBytesMax: 16,
  bootSlots: 4,
  runtimeSlots,
  deadLetterSlots: 4,
  recipientsMax: 4,
};

const recipients = [
  { name: 'audit', prefixes: [''], severityMax: 7, confirms: 'at-once' },
  { name: 'sink', prefixes: ['disk.'], severityMax: 7, confirms: 're-deliveries' },
] as const;

const producers = [
  { name: 'raid', types: ['disk.failed', 'disk.rebuilt'] },
  { name: 'nic', types: ['net.up'] },
] as const;

const recoveryRoundsMax = 16;

export interface DeadLetterWorkloadOptions {
  seed: number;
  /** Emits before the clock runs out the sink's attempts. */
  events: number;
  /** The retry policy's attempts: the clock steps past each of them. */
  attemptsMax: number;
  /**
   * 1: end with auto scheduling's fence order (a pass retires, its fence comes later) on a
   * ring filled to the brim, and emit in between (the durable-head rule, see runWorkload).
   */
  deferredFence: number;
  /** Broken runtime classes (mutants/). */
  variant?: Pick<NodeOptions, 'Fifo' | 'Replay' | 'Engine' | 'SeqLease'>;
  name?: string;
}

/** Drives one stage of the node and turns what it observes into marks. */
class DeadLetterStageDriver {
  readonly node: Node;
  readonly #context: StageContext<EventMark>;
  readonly #clock: { time: number } & Clock;
  readonly #retry: { timeoutMs: number; backoffFactor: number; timeoutMaxMs: number };
  readonly #boot: number;
  readonly #epoch: number;
  readonly attemptsMax: number;
  /** Dead letters listed so far (`recipientId#seq`); those found at boot are not marked. */
  readonly #listed = new Set<string>();
  #counter = 0;
  /** Re-deliveries refused for a full pool: the node counts them with rejected emits. */
  #refusedRedeliveries = 0;

  constructor(
    device: NvramDevice,
    context: StageContext<EventMark>,
    start: number,
    options: DeadLetterWorkloadOptions,
  ) {
    this.#context = context;
    const clock = { time: start, now: () => clock.time };
    this.#clock = clock;
    this.#boot = device.header.bootCount;
    this.#epoch = this.#boot - 1;
    context.mark({ kind: 'boot', epoch: this.#epoch });
    this.#retry = { timeoutMs: 100, backoffFactor: 2, timeoutMaxMs: 200 };
    this.attemptsMax = options.attemptsMax;
    this.node = Node.boot(device, {
      scheduling: 'manual',
      clock,
      retry: { ...this.#retry, attemptsMax: options.attemptsMax },
      checksum: 'typescript',
      ...options.variant,
    });
    for (const letter of this.node.deadLetterList())
      this.#listed.add(`${letter.recipientId}#${letter.seq}`);
  }

  register(): void {
    for (const spec of recipients) {
      const subscription = { prefixes: spec.prefixes, severityMax: spec.severityMax };
      this.node.registerRecipient(spec.name, subscription, (event, recipient) =>
        this.#handle(spec.confirms, event, recipient),
      );
    }
  }

  start(): void {
    this.node.start();
    this.#context.mark({ kind: 'started', epoch: this.#epoch });
  }

  #handle(confirms: 'at-once' | 're-deliveries', event: EventView, recipient: Recipient): void {
    const seq = event.seq;
    const originalSeq = event.originalSeq;
    this.#context.mark({
      kind: 'delivered',
      epoch: this.#epoch,
      recipient: recipient.name,
      seq,
      source: event.source,
      type: event.type,
      severity: event.level,
      key: `${event.source}/${hexOf(event.bytes, event.detailsOffset, event.detailsBytes)}`,
      replayed: event.replayed,
      ...(originalSeq === 0 ? {} : { originalSeq }),
    });
    // the sink never confirms a first delivery: it refuses an event of an even seq at once (a
    // sink's permanent error: dead-lettered now, reason refused), and the others' attempts run
    // out and they are dead-lettered; both in the same persist order
    if (confirms === 're-deliveries' && originalSeq === 0) {
      if (seq % 2 === 0) recipient.refuse(seq, 400);
      return;
    }
    this.#context.mark({ kind: 'confirming', epoch: this.#epoch, recipient: recipient.name, seq });
    if (recipient.confirm(seq)) {
      this.#context.mark({ kind: 'confirmed', epoch: this.#epoch, recipient: recipient.name, seq });
    }
  }

  emit(producer: number, type: number, severity: number): void {
    const spec = producers[producer % producers.length] as (typeof producers)[number];
    const typeName = spec.types[type % spec.types.length] as string;
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
    });
    try {
      const seq = this.node.producer(spec.name).emit(typeName, severity, details);
      this.#context.mark({ kind: 'emitted', epoch: this.#epoch, key, seq });
    } catch (error) {
      if (!(error instanceof QueueFull)) throw error;
      this.#context.mark({ kind: 'rejected', epoch: this.#epoch, key, code: error.code });
    }
  }

  /**
   * One pass; then the dead letters it made (durable, with their bits) are marked. `fenced`
   * false: the engine's fence at the pass end is off (auto scheduling's order), so nothing the
   * pass confirmed is durable yet (see fence).
   */
  drain(fenced = true): boolean {
    const progress = this.node.drain();
    if (!fenced) return progress;
    this.#context.mark({ kind: 'durable', epoch: this.#epoch });
    for (const letter of this.node.deadLetterList()) {
      const id = `${letter.recipientId}#${letter.seq}`;
      if (this.#listed.has(id)) continue;
      this.#listed.add(id);
      this.#context.mark({
        kind: 'dead-lettered',
        epoch: this.#epoch,
        recipient: letter.recipient,
        seq: letter.seq,
      });
    }
    return progress;
  }

  /** The fence auto scheduling makes on the turn after a pass: its confirmations durable. */
  fence(): void {
    this.node.engine.confirmationsDurable();
    this.#context.mark({ kind: 'durable', epoch: this.#epoch });
  }

  /** The operator re-delivers every dead letter (each freed once its re-delivery is durable). */
  redeliver(): number {
    const rejected = this.node.counters.rejectedQueueFull;
    const count = this.node.redeliverDeadLetters();
    this.#refusedRedeliveries += this.node.counters.rejectedQueueFull - rejected;
    const held = new Set(this.node.deadLetterList().map((l) => `${l.recipientId}#${l.seq}`));
    for (const id of this.#listed) if (!held.has(id)) this.#listed.delete(id);
    return count;
  }

  held(): number {
    return this.node.deadLetters.held();
  }

  /**
   * The clock past every retry timeout, a drain (which re-delivers, or dead-letters after the
   * last attempt), and the operator re-delivering what it dead-lettered, then a drain.
   */
  passTimeout(): void {
    this.stepPastTimeout();
    this.drain();
    if (this.held() === 0) return;
    this.redeliver();
    this.drain();
  }

  /** Past the longest retry timeout: every attempt in flight times out at the next drain. */
  stepPastTimeout(): void {
    this.#clock.time += this.#retry.timeoutMaxMs + 1;
  }

  finish(): void {
    this.#context.mark({
      kind: 'counters',
      epoch: this.#epoch,
      rejected: this.node.counters.rejectedQueueFull - this.#refusedRedeliveries,
    });
    // a dead letter still held is owed: the node is not done
    this.#context.mark({
      kind: 'quiescent',
      epoch: this.#epoch,
      idle: this.node.idle() && this.held() === 0,
      pending: this.node.queue.length() + this.held(),
    });
  }
}

function runWorkload(
  device: NvramDevice,
  context: StageContext<EventMark>,
  options: DeadLetterWorkloadOptions,
): void {
  const prng = new Prng(options.seed);
  const driver = new DeadLetterStageDriver(device, context, 1_000_000, options);
  driver.register();
  driver.start();
  for (let i = 0; i < options.events; i++) {
    // two in three are disk events (for the sink too)
    driver.emit(prng.below(3) === 0 ? 1 : 0, prng.below(2), prng.below(8));
    driver.drain();
    // every second event the clock moves: attempts run out in waves, and each wave's dead
    // letters are re-delivered between new events (the ring wraps with re-deliveries)
    if (i % 2 === 1) driver.passTimeout();
  }
  for (let attempt = 0; attempt < options.attemptsMax; attempt++) driver.passTimeout();
  driver.emit(0, 0, 3);
  driver.drain();
  if (options.deferredFence !== 0) fillThenEmitBeforeFence(driver);
}

/**
 * The durable-head rule: a slot is reused only once the head past it is durable. Under auto
 * scheduling a drain pass retires events (the head moves in memory) and its fence waits for
 * the next turn of the event loop, so an emit can come in between. Here: the ring is filled to
 * the brim with events only `audit` takes (it confirms at once), a pass delivers and retires
 * them without a fence, and two emits follow before the fence. The pool must fence the head
 * before it hands out a retired slot; a pool that counted against the volatile head would
 * overwrite the record of an event the durable head still calls pending, and a cut inside that
 * record's fence leaves the head word old and the slot holding another position's record.
 */
function fillThenEmitBeforeFence(driver: DeadLetterStageDriver): void {
  // the sink's last event dead-lettered and re-delivered: nothing pending
  for (let attempt = 0; attempt < driver.attemptsMax; attempt++) driver.passTimeout();
  const engine = driver.node.engine;
  engine.fenceAtPassEnd = false;
  for (let i = 0; i < runtimeSlots; i++) driver.emit(1, 0, 2); // net.up, err
  driver.drain(false); // delivered, confirmed, retired: the head word not yet stored
  driver.emit(1, 0, 2);
  driver.emit(0, 0, 6);
  driver.fence(); // the deferred fence (auto scheduling's next turn)
  engine.fenceAtPassEnd = true;
  driver.drain();
}

function runRecovery(
  device: NvramDevice,
  context: StageContext<EventMark>,
  options: DeadLetterWorkloadOptions,
): EventRecovered {
  let driver: DeadLetterStageDriver;
  try {
    driver = new DeadLetterStageDriver(device, context, 5_000_000, options);
  } catch (error) {
    if (error instanceof NodeError && error.code === 'NODE_CORRUPT') {
      return { idle: false, refused: `${error.code}: ${error.message}` };
    }
    throw error;
  }
  driver.register();
  driver.start();
  driver.emit(0, 1, 4);
  for (let round = 0; round < recoveryRoundsMax; round++) {
    for (let pass = 0; pass < 16; pass++) if (!driver.drain() || driver.node.idle()) break;
    // drain the re-deliveries before the clock moves; none fit while the ring is full of sink
    // events, which the clock then runs out of attempts (dead-lettered, their slots retired)
    if (driver.held() > 0 && driver.redeliver() > 0) continue;
    if (driver.node.idle()) break;
    driver.stepPastTimeout();
  }
  driver.finish();
  return { idle: driver.node.idle() && driver.held() === 0 };
}

/** The crash subject of the dead-letter workload. */
export function deadLetterSubject(
  options: DeadLetterWorkloadOptions,
): CrashSubject<EventRecovered, EventMark> {
  const layout = nodeLayout(deadLetterLimits);
  const prefixes = new PrefixCache();
  return {
    name: options.name ?? 'dead-letters',
    format: { sizeBytes: layout.sizeBytes, sections: layout.sections },
    prepare: (device) => formatNode(device, deadLetterLimits),
    workload: (device, context) => runWorkload(device, context, options),
    recover: (device, context) => runRecovery(device, context, options),
    check: (outcome) => checkEvents(outcome, prefixes),
  };
}

export function deadLetterOptions(params: WorkloadParams, name: string): DeadLetterWorkloadOptions {
  const number = (key: string, min: number): number => {
    const value = params[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new Error(
        `workload ${name}: parameter ${key} must be an integer >= ${min}, got ${String(value)}`,
      );
    }
    return value;
  };
  return {
    name,
    seed: number('seed', 0),
    events: number('events', 0),
    attemptsMax: number('attemptsMax', 1),
    deferredFence: number('deferredFence', 0),
  };
}
