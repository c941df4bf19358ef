/**
 * Event workloads for crash tests: a small program of emits (sync and group commit), drains
 * and out-of-order confirmations, run on a node before a power cut, and the recovery run after
 * it. Both record what producers and recipients observed, for the checker (./checker.ts).
 */
import fc from 'fast-check';
import type { EventView } from '../../src/engine/event-view.js';
import type { Recipient } from '../../src/engine/recipient.js';
import { NodeError } from '../../src/events/errors.js';
import { Node, type NodeOptions } from '../../src/node/node.js';
import type { NodeLimits } from '../../src/node/layout.js';
import { PowerCutError, type NvramDevice } from '../../src/nvram/index.js';
import type { Observation } from '../../sim/checker/spec4.js';

export interface RecipientSpec {
  name: string;
  /** Prefixes ending in '.', or '' for all. */
  prefixes: readonly string[];
  severityMax: number;
  /** 'sync': confirms in the handler; 'held': confirms when a `confirm` op picks it. */
  confirms: 'sync' | 'held';
}

export interface EmitOp {
  kind: 'emit';
  producer: number;
  type: string;
  severity: number;
  detailsBytes: number;
  /** emitAsync (group commit), published by the next drain. */
  grouped: boolean;
}

export type WorkloadOp =
  EmitOp | { kind: 'drain' } | { kind: 'confirm'; recipient: number; pick: number };

export interface Workload {
  recipients: RecipientSpec[];
  /** Emitted while the node is booting (boot pool [130]). */
  bootOps: EmitOp[];
  ops: WorkloadOp[];
}

/** Small on purpose: rings wrap and fill within a dozen events. */
export const crashLimits: NodeLimits = {
  detailsBytesMax: 16,
  bootSlots: 4,
  runtimeSlots: 6,
  deadLetterSlots: 2,
  recipientsMax: 4,
};

const types = ['disk.failed', 'disk.scrub', 'net.down', 'app.note'] as const;

const emitOp: fc.Arbitrary<EmitOp> = fc.record({
  kind: fc.constant('emit' as const),
  producer: fc.integer({ min: 0, max: 1 }),
  type: fc.constantFrom(...types),
  severity: fc.integer({ min: 0, max: 7 }),
  detailsBytes: fc.integer({ min: 3, max: 16 }),
  grouped: fc.boolean(),
});

const recipientSpecs: fc.Arbitrary<RecipientSpec[]> = fc
  .array(
    fc.record({
      prefixes: fc.constantFrom([''], ['disk.'], ['net.', 'app.']),
      severityMax: fc.constantFrom(7, 4),
      confirms: fc.constantFrom('sync' as const, 'held' as const),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((specs) => specs.map((spec, i) => ({ ...spec, name: `r${i}` })));

export const workloadArbitrary: fc.Arbitrary<Workload> = fc.record({
  recipients: recipientSpecs,
  bootOps: fc.array(
    emitOp.map((op) => ({ ...op, grouped: false })),
    { maxLength: 2 },
  ),
  ops: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: emitOp },
      { weight: 3, arbitrary: fc.constant({ kind: 'drain' as const }) },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('confirm' as const),
          recipient: fc.nat({ max: 2 }),
          pick: fc.nat(),
        }),
      },
    ),
    { minLength: 2, maxLength: 12 },
  ),
});

function intendedFor(
  recipients: readonly RecipientSpec[],
  type: string,
  severity: number,
): string[] {
  return recipients
    .filter((r) => severity <= r.severityMax && r.prefixes.some((p) => type.startsWith(p)))
    .map((r) => r.name);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export type RunEnd = 'done' | 'cut';

/**
 * Runs workloads and recoveries against devices, appending to one history. `counter` makes
 * every event's details unique across the whole history (the checker's content key).
 */
export class Driver {
  readonly workload: Workload;
  readonly history: Observation[];
  readonly nodeOptions: NodeOptions;
  counter = 0;
  #held: number[][] = [];
  #grouped: string[] = [];

  constructor(workload: Workload, history: Observation[] = [], nodeOptions: NodeOptions = {}) {
    this.workload = workload;
    this.history = history;
    this.nodeOptions = nodeOptions;
  }

  /** A copy with its own history (so one cut can be followed by several recoveries). */
  fork(): Driver {
    const copy = new Driver(this.workload, [...this.history], this.nodeOptions);
    copy.counter = this.counter;
    return copy;
  }

  /** The workload on a node booted from `device`; stops at a power cut. */
  runWorkload(device: NvramDevice, epoch: number): RunEnd {
    return this.#guard(
      epoch,
      (node) => {
        this.#register(node, epoch, false);
        for (const op of this.workload.bootOps) this.#emit(node, op, epoch);
        node.start();
        this.history.push({ kind: 'started', epoch });
        for (const op of this.workload.ops) this.#step(node, op, epoch);
      },
      device,
    );
  }

  /**
   * Boot after a cut: replay, one new event while booting, one after, a group commit of two,
   * until quiescent.
   */
  runRecovery(device: NvramDevice, epoch: number): RunEnd {
    return this.#guard(
      epoch,
      (node) => {
        this.#register(node, epoch, true);
        this.#emit(
          node,
          {
            kind: 'emit',
            producer: 0,
            type: 'app.note',
            severity: 6,
            detailsBytes: 4,
            grouped: false,
          },
          epoch,
        );
        node.start();
        this.history.push({ kind: 'started', epoch });
        this.#emit(
          node,
          {
            kind: 'emit',
            producer: 1,
            type: 'disk.failed',
            severity: 3,
            detailsBytes: 5,
            grouped: false,
          },
          epoch,
        );
        // a group commit after a reboot: a nested cut inside it leaves intact records beyond
        // a torn one, and stale ones of an earlier cut-short group (lazy tail word, row D4)
        for (const producer of [0, 1]) {
          this.#emit(
            node,
            {
              kind: 'emit',
              producer,
              type: 'net.down',
              severity: 4,
              detailsBytes: 6,
              grouped: true,
            },
            epoch,
          );
        }
        this.#drain(node, epoch); // replayed records are examined now, interning their types...
        for (const type of types) {
          // ...which must still reach their subscribers when emitted again
          const op: EmitOp = {
            kind: 'emit',
            producer: 0,
            type,
            severity: 2,
            detailsBytes: 3,
            grouped: false,
          };
          this.#emit(node, op, epoch);
        }
        for (let pass = 0; pass < 100 && !node.idle(); pass++) this.#drain(node, epoch);
        this.#drain(node, epoch);
        this.#counters(node, epoch);
        this.history.push({
          kind: 'quiescent',
          epoch,
          idle: node.idle(),
          pending: node.queue.length(),
        });
      },
      device,
    );
  }

  #guard(epoch: number, body: (node: Node) => void, device: NvramDevice): RunEnd {
    this.#held = this.workload.recipients.map(() => []);
    this.#grouped = [];
    let node: Node | null = null;
    try {
      this.history.push({ kind: 'boot', epoch });
      node = Node.boot(device, {
        scheduling: 'manual',
        clock: { now: () => 1_000 + epoch },
        ...this.nodeOptions,
      });
      body(node);
      return 'done';
    } catch (error) {
      if (!(error instanceof PowerCutError)) throw error;
      if (node !== null) this.#counters(node, epoch);
      this.history.push({ kind: 'cut', epoch });
      return 'cut';
    }
  }

  #register(node: Node, epoch: number, allSync: boolean): void {
    this.workload.recipients.forEach((spec, index) => {
      const sync = allSync || spec.confirms === 'sync';
      node.registerRecipient(
        spec.name,
        { prefixes: spec.prefixes, severityMax: spec.severityMax },
        (event, recipient) =>
          this.#deliver(event, recipient, spec.name, epoch, sync ? null : index),
      );
    });
  }

  #deliver(
    event: EventView,
    recipient: Recipient,
    name: string,
    epoch: number,
    heldIndex: number | null,
  ): void {
    this.history.push({
      kind: 'delivered',
      epoch,
      recipient: name,
      seq: event.seq,
      source: event.source,
      type: event.type,
      severity: event.level,
      key: `${event.source}/${hex(event.details())}`,
      replayed: event.replayed,
    });
    if (heldIndex !== null) this.#held[heldIndex]?.push(event.seq);
    else this.#confirm(recipient, name, event.seq, epoch);
  }

  #step(node: Node, op: WorkloadOp, epoch: number): void {
    if (op.kind === 'emit') return this.#emit(node, op, epoch);
    if (op.kind === 'drain') return this.#drain(node, epoch);
    const held = this.#held[op.recipient % this.#held.length] as number[];
    if (held.length === 0) return;
    const [seq] = held.splice(op.pick % held.length, 1) as [number];
    const spec = this.workload.recipients[op.recipient % this.#held.length] as RecipientSpec;
    const recipient = node.engine.recipients[node.recipientTable.find(spec.name)] as Recipient;
    this.#confirm(recipient, spec.name, seq, epoch);
  }

  #confirm(recipient: Recipient, name: string, seq: number, epoch: number): void {
    this.history.push({ kind: 'confirming', epoch, recipient: name, seq });
    if (recipient.confirm(seq))
      this.history.push({ kind: 'confirmed', epoch, recipient: name, seq });
  }

  #emit(node: Node, op: EmitOp, epoch: number): void {
    const source = `p${op.producer}`;
    const details = new Uint8Array(op.detailsBytes).fill(epoch);
    details[0] = this.counter >> 8;
    details[1] = this.counter & 0xff;
    this.counter++;
    const key = `${source}/${hex(details)}`;
    this.history.push({
      kind: 'attempt',
      epoch,
      key,
      source,
      type: op.type,
      severity: op.severity,
      intended: intendedFor(this.workload.recipients, op.type, op.severity),
      grouped: op.grouped,
    });
    try {
      if (op.grouped) {
        node
          .producer(source)
          .emitAsync(op.type, op.severity, details)
          .catch(() => {});
        this.#grouped.push(key);
      } else {
        const seq = node.producer(source).emit(op.type, op.severity, details);
        this.history.push({ kind: 'emitted', epoch, key, seq });
      }
    } catch (error) {
      if (!(error instanceof NodeError)) throw error;
      this.history.push({ kind: 'rejected', epoch, key, code: error.code });
    }
  }

  /** A drain publishes the open group commit, delivers and makes confirmations durable. */
  #drain(node: Node, epoch: number): void {
    node.drain();
    for (const key of this.#grouped) this.history.push({ kind: 'emitted', epoch, key });
    this.#grouped = [];
    this.history.push({ kind: 'durable', epoch });
  }

  #counters(node: Node, epoch: number): void {
    const counters = node.counters;
    this.history.push({
      kind: 'counters',
      epoch,
      rejected: counters.rejectedQueueFull + counters.rejectedTooLarge,
    });
  }
}
