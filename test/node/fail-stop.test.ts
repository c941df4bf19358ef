/**
 * Fail-stop after a device error (docs/ARCHITECTURE.md, "The failed phase"): a workload that
 * boots, emits (one by one and in a group commit), delivers, confirms in and out of order,
 * dead-letters, re-delivers and closes runs once per store, flush and fence it makes, with that
 * one operation failing (sim/device-errors.ts). Each time: the error reaches the caller as
 * NODE_FAILED (never a bare assertion, never an uncaught exception), every later call throws
 * NODE_FAILED, the open group's promises are rejected, and a reboot on what was durable before
 * the error delivers every acknowledged event.
 */
import { describe, expect, test } from 'vitest';
import { FailingNvram, type DeviceOperation } from '../../sim/device-errors.js';
import { NodeError } from '../../src/events/errors.js';
import { Node } from '../../src/node/node.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { ManualClock, bytes, freshDevice, rebootDurable } from '../engine/harness.js';

interface Run {
  /** Seqs whose emit returned (or whose group promise resolved). */
  acknowledged: Set<number>;
  /** Seqs delivered to 'audit' before the failure. */
  delivered: Set<number>;
  /** The first error a call threw, or null if the workload completed. */
  error: unknown;
  node: Node | null;
  /** Settled group promises of the failed run (their outcomes). */
  groups: PromiseSettledResult<number>[];
}

const retry = { timeoutMs: 10, timeoutMaxMs: 10, attemptsMax: 1 };

function isNodeFailed(error: unknown): boolean {
  return error instanceof NodeError && error.code === 'NODE_FAILED';
}

/** The workload; stops at the first error a call throws. */
async function runWorkload(device: FailingNvram): Promise<Run> {
  const run: Run = {
    acknowledged: new Set(),
    delivered: new Set(),
    error: null,
    node: null,
    groups: [],
  };
  const clock = new ManualClock();
  try {
    const node = Node.boot(device, { scheduling: 'manual', clock, retry, checksum: 'typescript' });
    run.node = node;
    const later: number[] = [];
    const audit = node.registerRecipient('audit', {}, (event) => {
      run.delivered.add(event.seq);
      later.push(event.seq);
    });
    node.registerRecipient('sink', { prefixes: ['disk.'] }, () => {}); // never confirms
    node.start();
    const raid = node.producer('raid');
    for (let k = 0; k < 4; k++) run.acknowledged.add(raid.emit('disk.failed', 'err', bytes(k)));
    const group: Promise<number>[] = [];
    try {
      for (let k = 0; k < 3; k++) group.push(raid.emitAsync('net.down', 'info', bytes(k)));
      node.commit();
    } finally {
      run.groups = await Promise.allSettled(group); // the emitters hold their promises
    }
    for (const outcome of run.groups)
      if (outcome.status === 'fulfilled') run.acknowledged.add(outcome.value);
    node.drain();
    for (const seq of later.reverse()) audit.confirm(seq); // out of order, outside a pass
    later.length = 0;
    node.drain();
    clock.advance(100); // the sink's attempts run out: its disk events are dead-lettered
    node.drain();
    node.redeliverDeadLetters({ recipient: 'sink' });
    for (let k = 0; k < 10; k++) {
      run.acknowledged.add(raid.emit('net.up', 'err', bytes(k))); // around the 16-slot ring
      node.drain();
      for (const seq of later) audit.confirm(seq);
      later.length = 0;
    }
    node.drain();
    node.close();
  } catch (error) {
    run.error = error;
  }
  return run;
}

/** Operations of each kind the workload makes when nothing fails. */
async function operationCounts(): Promise<Record<DeviceOperation, number>> {
  const device = new FailingNvram(freshDevice(), null);
  const run = await runWorkload(device);
  expect(run.error).toBeNull();
  return { ...device.counts };
}

/** Reboots on the durable image and delivers everything owed; returns what audit received. */
function deliveredAfterReboot(inner: TracedNvram): Set<number> {
  const node = Node.boot(rebootDurable(inner), { scheduling: 'manual', clock: new ManualClock() });
  const seen = new Set<number>();
  node.registerRecipient('audit', {}, (event, recipient) => {
    seen.add(event.seq);
    recipient.confirm(event.seq);
  });
  node.registerRecipient('sink', { prefixes: ['disk.'] }, (event, r) => r.confirm(event.seq));
  node.start();
  node.drainUntilIdle();
  expect(node.idle()).toBe(true);
  node.close();
  return seen;
}

function expectStopped(node: Node): void {
  expect(node.phase).toBe('failed');
  expect(isNodeFailed(node.failure)).toBe(true);
  expect(() => node.producer('p').emit('x.y', 'err')).toThrow(
    expect.objectContaining({ code: 'NODE_FAILED' }),
  );
  expect(() => node.drain()).toThrow(expect.objectContaining({ code: 'NODE_FAILED' }));
  expect(() => node.producer('p').emitAsync('x.y', 'err')).toThrow(
    expect.objectContaining({ code: 'NODE_FAILED' }),
  );
  expect(() => node.redeliverDeadLetters()).toThrow(
    expect.objectContaining({ code: 'NODE_FAILED' }),
  );
  expect(() => node.close()).not.toThrow(); // close stays idempotent; it writes nothing more
}

describe('fail-stop after a device error', () => {
  test.each(['store', 'flush', 'fence'] as const)(
    'the k-th %s failing, for every k: NODE_FAILED, stopped, nothing acknowledged is lost',
    async (operation) => {
      const counts = await operationCounts();
      expect(counts[operation]).toBeGreaterThan(10);
      for (let index = 1; index <= counts[operation]; index++) {
        const inner = freshDevice();
        const device = new FailingNvram(inner, { operation, index });
        const run = await runWorkload(device);
        const where = `${operation} #${index}`;
        expect(device.failed, where).not.toBeNull();
        expect(isNodeFailed(run.error), `${where}: ${String(run.error)}`).toBe(true);
        for (const outcome of run.groups) {
          if (outcome.status === 'rejected') expect(isNodeFailed(outcome.reason), where).toBe(true);
        }
        if (run.node !== null) expectStopped(run.node);
        const after = deliveredAfterReboot(inner);
        for (const seq of run.acknowledged) {
          expect(run.delivered.has(seq) || after.has(seq), `${where}: seq ${seq} lost`).toBe(true);
        }
      }
    },
  );

  test('a failure inside a recipient’s late confirmation stops the node; the confirm throws NODE_FAILED', () => {
    const inner = freshDevice();
    const device = new FailingNvram(inner, null);
    const node = Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
    const seqs: number[] = [];
    const audit = node.registerRecipient('audit', {}, (event) => seqs.push(event.seq));
    node.registerRecipient('slow', {}, () => {}); // holds the head: confirmations are deferred
    node.start();
    const raid = node.producer('raid');
    for (let k = 0; k < 15; k++) raid.emit('disk.failed', 'err');
    node.drain();
    device.failNext('store');
    // deferred confirmations fill their list (one per slot), then are stored at once
    let thrown: unknown = null;
    try {
      for (const seq of seqs.reverse()) audit.confirm(seq);
      node.drain();
    } catch (error) {
      thrown = error;
    }
    expect(isNodeFailed(thrown)).toBe(true);
    expectStopped(node);
    expect(() => audit.confirm(seqs[0] as number)).toThrow(
      expect.objectContaining({ code: 'NODE_FAILED' }),
    );
  });

  test('auto scheduling: a group commit whose fence fails rejects every emitter, calls onFailure once, throws nothing from the event loop', async () => {
    const inner = freshDevice();
    const device = new FailingNvram(inner, null);
    const failures: NodeError[] = [];
    const node = Node.boot(device, { onFailure: (error) => failures.push(error) });
    node.registerRecipient('audit', {}, (event, r) => r.confirm(event.seq));
    node.start();
    const raid = node.producer('raid');
    expect(await raid.emitAsync('disk.failed', 'err')).toBeGreaterThan(0);
    device.failNext('fence');
    const outcomes = await Promise.allSettled(
      [0, 1, 2].map(() => raid.emitAsync('disk.failed', 'err')),
    );
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') expect(isNodeFailed(outcome.reason)).toBe(true);
    }
    await new Promise((resolve) => setTimeout(resolve, 20)); // let any stray callback run
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBe(node.failure);
    expect((node.failure as NodeError).cause).toBe(device.failed);
    expectStopped(node);
  });

  test('a device error during boot throws NODE_FAILED with the device error as its cause', () => {
    const inner = freshDevice();
    const device = new FailingNvram(inner, { operation: 'fence', index: 1 }); // the lease's persist
    let thrown: unknown = null;
    try {
      Node.boot(device, { scheduling: 'manual' });
    } catch (error) {
      thrown = error;
    }
    expect(isNodeFailed(thrown)).toBe(true);
    expect((thrown as NodeError).cause).toBe(device.failed);
    const node = Node.boot(rebootDurable(inner), { scheduling: 'manual' }); // reopen: recovered
    expect(node.phase).toBe('booting');
  });
});
