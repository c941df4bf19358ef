/**
 * Auto scheduling (src/node/scheduler.ts) as the node wires it: which calls arrange a drain on
 * the event loop (a confirmation from outside a handler, a recipient registered or attached again
 * while running), that a pass's confirmations wait for the fence timer rather than a fence at
 * the pass's end, that a group emitted while booting is committed before start, that the retry
 * timer follows the absent-recipient deadline, and that a fatal error thrown on the event loop
 * fails the node (fail-stop) instead of escaping. A manual node has no scheduler at all.
 */
import { describe, expect, test, vi } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { Node } from '../../src/node/node.js';
import { confirmationFenceDelayMs } from '../../src/node/scheduler.js';
import { NvramError } from '../../src/nvram/errors.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { ManualClock, bootNode, freshDevice, rebootDurable } from '../engine/harness.js';

/** A few turns of the event loop (immediates). */
async function turns(count = 4): Promise<void> {
  for (let k = 0; k < count; k++) await new Promise((resolve) => setImmediate(resolve));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A durable device on which recipient 'late' (not confirming) is owed one event, seq 1. */
function owedToLate(): TracedNvram {
  const { node, device } = bootNode();
  node.registerRecipient('late', {}, () => {});
  node.start();
  node.producer('raid').emit('disk.failed', 'err');
  node.close();
  return rebootDurable(device);
}

describe('auto scheduling: what arranges a drain', () => {
  test('a confirmation from outside a handler lets the next event out of a full window', async () => {
    const node = Node.boot(freshDevice(), { checksum: 'typescript' });
    const delivered: number[] = [];
    const audit = node.registerRecipient('audit', {}, (event) => delivered.push(event.seq), {
      inFlightMax: 1,
    });
    node.start();
    const raid = node.producer('raid');
    raid.emit('disk.failed', 'err');
    raid.emit('disk.slow', 'warning');
    await turns();
    expect(delivered).toEqual([1]);
    expect(audit.confirm(1)).toBe(true);
    await turns();
    expect(delivered).toEqual([1, 2]);
    node.close();
  });

  test('a recipient registered while running receives what it is owed', async () => {
    const node = Node.boot(owedToLate(), { checksum: 'typescript' });
    node.start();
    await turns();
    const delivered: number[] = [];
    node.registerRecipient('late', {}, (event) => delivered.push(event.seq));
    await turns();
    expect(delivered).toEqual([1]);
    node.close();
  });

  test('a recipient attached again while running receives what was emitted while it was away', async () => {
    const node = Node.boot(freshDevice(), { checksum: 'typescript' });
    const delivered: number[] = [];
    const remote = node.registerRecipient('remote', {}, () => {});
    node.start();
    node.detachRecipient(remote);
    node.producer('raid').emit('disk.failed', 'err');
    await turns();
    node.registerRecipient('remote', {}, (event) => delivered.push(event.seq));
    await turns();
    expect(delivered).toEqual([1]);
    node.close();
  });

  test('a confirmation while booting arranges no pass before start: nothing is retired', async () => {
    const node = Node.boot(owedToLate(), { checksum: 'typescript' });
    const late = node.registerRecipient('late', {}, () => {});
    expect(late.confirm(1)).toBe(true); // a remote recipient confirming ahead
    await turns();
    expect(node.phase).toBe('booting');
    expect(node.stats().counters.retired).toBe(0);
    node.start();
    await turns();
    expect(node.stats().counters.retired).toBe(1);
    node.close();
  });

  test('a manual node drains only when told', async () => {
    const { node } = bootNode();
    const delivered: number[] = [];
    node.registerRecipient('audit', {}, (event) => delivered.push(event.seq));
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    await turns();
    expect(delivered).toEqual([]);
    node.drain();
    expect(delivered).toEqual([1]);
  });
});

describe('auto scheduling: fences and timers', () => {
  test("a pass's confirmations wait for the fence timer, not a fence at the pass's end", async () => {
    // timeouts faked (immediates stay real): the fence timer fires only when the test says
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const node = Node.boot(freshDevice(), { checksum: 'typescript' });
      node.registerRecipient('audit', {}, (event, recipient) => recipient.confirm(event.seq));
      node.start();
      node.producer('raid').emit('disk.failed', 'err');
      await turns();
      expect(node.stats().counters.confirmed).toBe(1);
      expect(node.engine.confirmationsPending()).toBe(true);
      vi.advanceTimersByTime(confirmationFenceDelayMs);
      expect(node.engine.confirmationsPending()).toBe(false);
      node.close();
    } finally {
      vi.useRealTimers();
    }
  });

  test('a group emitted while booting is committed on the next turn, before start', async () => {
    const node = Node.boot(freshDevice(), { checksum: 'typescript' });
    let seq = 0;
    void node
      .producer('raid')
      .emitAsync('disk.failed', 'err')
      .then((value) => (seq = value));
    await turns();
    expect(node.phase).toBe('booting');
    expect(seq).toBe(1);
    expect(node.recorder.groupOpen).toBe(false);
    node.close();
  });

  test('the retry timer waits for the absent-recipient deadline, not a turn', async () => {
    const { node: first, device } = bootNode();
    first.registerRecipient('gone', {}, () => {});
    first.close();
    const clock = new ManualClock();
    const node = Node.boot(rebootDurable(device), {
      clock,
      absentRecipientGraceMs: 60_000,
      checksum: 'typescript',
    });
    node.start();
    await turns();
    clock.advance(120_000); // due by the node's clock; the timer was set for 60 s of real time
    await sleep(40);
    expect(node.recipientTable.find('gone')).toBeGreaterThanOrEqual(0);
    node.drain(); // a pass retires it now
    expect(node.recipientTable.find('gone')).toBe(-1);
    node.close();
  });

  test('a fatal error thrown by a handler on the event loop fails the node, it does not escape', async () => {
    const failures: NodeError[] = [];
    const node = Node.boot(freshDevice(), {
      checksum: 'typescript',
      onFailure: (error) => failures.push(error),
    });
    node.registerRecipient('sink', {}, () => {
      throw new NvramError('NVRAM_IO', 'the sink device failed (injected)');
    });
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    await turns();
    expect(node.phase).toBe('failed');
    expect(failures).toHaveLength(1);
    expect(failures[0]?.code).toBe('NODE_FAILED');
    expect(() => node.drain()).toThrow(NodeError);
    node.close();
  });
});
