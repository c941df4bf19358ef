/**
 * What a distribution pass returns (Node.drain, drainUntilIdle): true exactly when something was
 * delivered, retired, raised or a recipient retired [215, 217]; drainUntilIdle counts the passes
 * that made progress and stops at passesMax. An absent recipient retired by the grace period
 * counts as progress even when nothing else moves; one whose events do not fit the dead-letter
 * section stays named, and the pass goes on.
 */
import { describe, expect, test } from 'vitest';
import type { NodeOptions } from '../../src/node/node.js';
import { NvramError, PowerCutError, type TracedNvram } from '../../src/nvram/index.js';
import { ManualClock, bootNode, rebootDurable } from '../engine/harness.js';

/** A durable device naming 'gone' (owing `owed` events that 'stay' confirmed) and 'stay'. */
function namingGone(owed: number): TracedNvram {
  const { node, device } = bootNode();
  node.registerRecipient('gone', {}, () => {});
  node.registerRecipient('stay', {}, (event, recipient) => recipient.confirm(event.seq));
  node.start();
  const raid = node.producer('raid');
  for (let k = 0; k < owed; k++) raid.emit('disk.failed', 'err');
  node.drainUntilIdle();
  node.close();
  return rebootDurable(device);
}

describe('Node.drain: its result', () => {
  test('true after a pass that delivered, false after one that found nothing', () => {
    const { node } = bootNode();
    node.registerRecipient('audit', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    expect(node.drain()).toBe(true);
    expect(node.drain()).toBe(false);
    expect(node.idle()).toBe(true);
  });

  test('drainUntilIdle counts the passes that made progress, at most passesMax', () => {
    const { node } = bootNode();
    const delivered: number[] = [];
    node.registerRecipient('audit', {}, (event, recipient) => {
      delivered.push(event.seq);
      recipient.confirm(event.seq);
    });
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    expect(node.drainUntilIdle(0)).toBe(0);
    expect(delivered).toEqual([]);
    expect(node.drainUntilIdle()).toBe(1);
    expect(delivered).toEqual([1]);
    expect(node.drainUntilIdle()).toBe(0);
  });

  test('the grace period over with no absent recipient: nothing to report', () => {
    const { node } = bootNode(undefined, { absentRecipientGraceMs: 0 });
    node.start();
    expect(node.drain()).toBe(false);
  });

  test('an absent recipient retired by the grace period is progress on its own', () => {
    const clock = new ManualClock();
    const options: NodeOptions = {
      absentRecipientGraceMs: 1_000,
      retry: { timeoutMs: 60_000, timeoutMaxMs: 60_000 },
    };
    const { node } = bootNode(namingGone(0), options, clock);
    // 'stay' holds one event it never confirms: the nvrelay.recipient.retired event waits
    node.registerRecipient('stay', {}, () => {}, { inFlightMax: 1 });
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    expect(node.drain()).toBe(true);
    expect(node.drain()).toBe(false);
    clock.advance(1_000);
    expect(node.drain()).toBe(true);
    expect(node.recipientTable.find('gone')).toBe(-1);
    expect(node.drain()).toBe(false);
  });

  test('an absent recipient owing more than the dead-letter section holds stays named; the pass goes on', () => {
    const { node } = bootNode(namingGone(5), { absentRecipientGraceMs: 0 });
    const types: string[] = [];
    node.registerRecipient('stay', {}, (event, recipient) => {
      types.push(event.type);
      recipient.confirm(event.seq);
    });
    node.start();
    let thrown: unknown = null;
    try {
      node.drain();
      node.drain();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeNull();
    expect(node.phase).toBe('running');
    expect(node.deadLetterList()).toHaveLength(4);
    expect(node.recipientTable.find('gone')).toBeGreaterThanOrEqual(0);
    expect(types[0]).toBe('nvrelay.recipient.retire-blocked');
  });

  test('a power cut while retiring an absent recipient reaches the caller as the power cut', () => {
    const { node, device } = bootNode(namingGone(1), { absentRecipientGraceMs: 0 });
    node.start();
    device.setPowerCut(device.instructionCount); // the retirement's first instruction
    let thrown: unknown = null;
    try {
      node.drain();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PowerCutError);
    expect(node.phase).toBe('failed');
  });

  test('a device error while retiring an absent recipient reaches the caller as the failure itself', () => {
    const { node, device } = bootNode(namingGone(1), { absentRecipientGraceMs: 0 });
    node.start();
    device.fence = () => {
      throw new NvramError('NVRAM_IO', 'msync: EIO (injected)');
    };
    let thrown: unknown = null;
    try {
      node.drain();
    } catch (error) {
      thrown = error;
    }
    expect(node.phase).toBe('failed');
    expect(thrown).toBe(node.failure);
    expect(node.failure?.cause).toBeInstanceOf(NvramError);
  });
});
