/**
 * The event recorder's group commits, fence by fence (SPEC 4.4, docs/ARCHITECTURE.md "Pipelined
 * fence"): which fence is in flight, when the next group's fence is issued, and what an error of
 * either kind of fence does to the group's emitters. Fences complete by hand
 * (asyncFenceCompletion 'manual'), or are captured, so every step is in the test's order.
 * Publish order is seq order [213, 214]: a lone emit settles a fence in flight first.
 */
import { describe, expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { NvramError, PowerCutError } from '../../src/nvram/errors.js';
import { bootNode, freshDevice, type TestNode } from '../engine/harness.js';

/** A started manual node with pipelined group fences completed by hand; 'audit' confirms all. */
function pipelined(): TestNode & { delivered: number[] } {
  const device = freshDevice();
  device.asyncFenceCompletion = 'manual';
  const test = bootNode(device, { pipelinedFence: true });
  const delivered: number[] = [];
  test.node.registerRecipient('audit', {}, (event, recipient) => {
    delivered.push(event.seq);
    recipient.confirm(event.seq);
  });
  test.node.start();
  return { ...test, delivered };
}

/** 'resolved', 'rejected' or 'pending' once the microtasks queued so far have run. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  let state = 'pending';
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  for (let k = 0; k < 5; k++) await Promise.resolve();
  return state;
}

/** Completion callbacks of asynchronous fences, captured instead of issued. */
function captureFences(test: TestNode): ((error: Error | null) => void)[] {
  const captured: ((error: Error | null) => void)[] = [];
  test.device.fenceAsync = (onComplete) => void captured.push(onComplete);
  return captured;
}

const ioError = (): NvramError => new NvramError('NVRAM_IO', 'msync: EIO (injected)');

describe('group commit: what is open', () => {
  test('groupOpen: a group stored, a fence in flight, then nothing', async () => {
    const { node, device } = pipelined();
    expect(node.recorder.groupOpen).toBe(false);
    const first = node.producer('raid').emitAsync('disk.failed', 'err');
    expect(node.recorder.groupOpen).toBe(true); // stored, not committed
    node.commit();
    expect(device.pendingFences).toBe(1);
    expect(node.recorder.groupOpen).toBe(true); // only the fence in flight
    device.completeFence();
    expect(await first).toBe(1);
    expect(node.recorder.groupOpen).toBe(false);

    const { node: plain } = bootNode();
    plain.start();
    void plain.producer('raid').emitAsync('disk.failed', 'err');
    expect(plain.recorder.groupOpen).toBe(true);
    plain.commit();
    expect(plain.recorder.groupOpen).toBe(false);
  });

  test('a pass with nothing stored and no fence in flight issues nothing', () => {
    const { node, device } = pipelined();
    expect(node.drain()).toBe(false);
    node.commit();
    expect(device.pendingFences).toBe(0);
    expect(node.phase).toBe('running');
  });
});

describe('pipelined fences: one in flight, the next issued at its completion', () => {
  test('a group stored while a fence runs waits for a commit of its own', async () => {
    const { node, device } = pipelined();
    const raid = node.producer('raid');
    const first = raid.emitAsync('disk.failed', 'err');
    node.commit();
    const second = raid.emitAsync('disk.failed', 'err');
    device.completeFence();
    expect(await first).toBe(1);
    expect(device.pendingFences).toBe(0);
    expect(await outcome(second)).toBe('pending');
    expect(node.recorder.groupOpen).toBe(true);
    node.commit();
    device.completeFence();
    expect(await second).toBe(2);
  });

  test('a commit asked for while a fence runs, with nothing stored, wants nothing later', async () => {
    const { node, device } = pipelined();
    const raid = node.producer('raid');
    const first = raid.emitAsync('disk.failed', 'err');
    node.commit();
    node.commit(); // nothing stored yet: nothing is wanted at the completion
    const second = raid.emitAsync('disk.failed', 'err');
    device.completeFence();
    expect(await first).toBe(1);
    expect(device.pendingFences).toBe(0);
    expect(await outcome(second)).toBe('pending');
  });

  test('a commit asked for while a fence runs is issued at its completion, once', async () => {
    const { node, device, delivered } = pipelined();
    const raid = node.producer('raid');
    const first = raid.emitAsync('disk.failed', 'err');
    node.commit();
    const second = raid.emitAsync('disk.failed', 'err');
    node.commit(); // wanted: issued when the first completes
    expect(device.pendingFences).toBe(1);
    device.completeFence();
    expect(device.pendingFences).toBe(1); // the second group's fence
    expect(await first).toBe(1);
    const third = raid.emitAsync('disk.failed', 'err');
    device.completeFence();
    expect(await second).toBe(2);
    expect(device.pendingFences).toBe(0); // the third waits for its own commit
    expect(await outcome(third)).toBe('pending');
    node.commit();
    device.completeFence();
    expect(await third).toBe(3);
    node.drainUntilIdle();
    expect(delivered).toEqual([1, 2, 3]);
  });

  test('a lone emit settles the fence in flight first; its completion then publishes nothing again', async () => {
    const { node, device, delivered } = pipelined();
    const raid = node.producer('raid');
    const first = raid.emitAsync('disk.failed', 'err');
    node.commit();
    expect(raid.emit('disk.slow', 'warning')).toBe(2);
    expect(await first).toBe(1); // the synchronous fence settled it
    node.drainUntilIdle();
    expect(delivered).toEqual([1, 2]);
    device.completeFence(); // the late completion
    node.drainUntilIdle();
    expect(delivered).toEqual([1, 2]);
    expect(node.stats().counters.emitted).toBe(2);
    expect(node.idle()).toBe(true);
  });
});

describe('group commit: errors', () => {
  test('a synchronous group fence that throws rejects the group with the device error', async () => {
    const { node, device } = bootNode();
    node.start();
    const raid = node.producer('raid');
    const group = raid.emitAsync('disk.failed', 'err');
    device.fence = () => {
      throw ioError();
    };
    expect(() => raid.emit('disk.slow', 'warning')).toThrow(NodeError);
    await expect(group).rejects.toBeInstanceOf(NvramError);
    await expect(group).rejects.toMatchObject({ code: 'NVRAM_IO' });
    expect(node.phase).toBe('failed');
  });

  test('an asynchronous fence refused at its issue fails the node there', async () => {
    const test = pipelined();
    const { node, device } = test;
    const group = node.producer('raid').emitAsync('disk.failed', 'err');
    device.fenceAsync = () => {
      throw ioError();
    };
    let thrown: unknown = null;
    try {
      node.commit();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NodeError);
    expect((thrown as NodeError).code).toBe('NODE_FAILED');
    expect(node.phase).toBe('failed');
    expect(node.recorder.groupOpen).toBe(false);
    await expect(group).rejects.toMatchObject({ code: 'NODE_FAILED' });
  });

  test('a power cut at the completion rejects the group in flight with the power cut itself', async () => {
    const test = pipelined();
    const { node } = test;
    const fences = captureFences(test);
    const group = node.producer('raid').emitAsync('disk.failed', 'err');
    node.commit();
    (fences[0] as (error: Error | null) => void)(new PowerCutError('cut (injected)', 7));
    await expect(group).rejects.toBeInstanceOf(PowerCutError);
    expect(node.phase).toBe('failed');
    expect(node.failure?.code).toBe('NODE_FAILED');
  });

  test('an error completing a fence already settled fails the node and rejects the group then in flight', async () => {
    const test = pipelined();
    const { node } = test;
    const fences = captureFences(test);
    const raid = node.producer('raid');
    const first = raid.emitAsync('disk.failed', 'err');
    node.commit(); // fence 0 in flight
    raid.emit('disk.slow', 'warning'); // settles the first group synchronously
    expect(await first).toBe(1);
    const third = raid.emitAsync('disk.failed', 'err');
    node.commit(); // fence 1 in flight, for the third
    expect(fences).toHaveLength(2);
    (fences[0] as (error: Error | null) => void)(ioError());
    expect(node.phase).toBe('failed');
    expect(await outcome(third)).toBe('rejected');
    await expect(third).rejects.toMatchObject({ code: 'NODE_FAILED' });
  });
});

describe('group commit: what the queue gets', () => {
  test("each grouped event is queued under its own type and source, not another's", async () => {
    const { node } = bootNode();
    const seen: string[] = [];
    node.registerRecipient('audit', {}, (event, recipient) => {
      seen.push(`${event.source} ${event.type}`);
      recipient.confirm(event.seq);
    });
    node.start();
    node.producer('first').emit('net.up', 'info'); // interned first: ids 0 would name these
    const raid = node.producer('raid');
    const group = [raid.emitAsync('disk.failed', 'err'), raid.emitAsync('disk.slow', 'warning')];
    node.commit();
    expect(await Promise.all(group)).toEqual([2, 3]);
    node.drainUntilIdle();
    expect(seen).toEqual(['first net.up', 'raid disk.failed', 'raid disk.slow']);
    expect(node.stats().counters.emitted).toBe(3);
  });
});
