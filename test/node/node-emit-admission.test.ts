/**
 * Emit admission and what a record carries [111, 212]: refused emits are counted by syslog
 * level, a full pool first reclaims the slots of retired events, a source name is held to the
 * source limit, a producer handle is one per name, and a group emit without a producer counter
 * stores none. A start with nothing to report creates no system producer.
 */
import { describe, expect, test } from 'vitest';
import { NodeError, QueueFull } from '../../src/events/errors.js';
import { Node } from '../../src/node/node.js';
import { bootNode, bytes, freshDevice, smallLimits } from '../engine/harness.js';

describe('emit admission', () => {
  test('refused emits are counted by level: too large, and pool full', () => {
    const { node } = bootNode(freshDevice({ ...smallLimits, bootSlots: 4 }));
    const raid = node.producer('raid');
    expect(() => raid.emit('disk.failed', 'info', new Uint8Array(65))).toThrow(NodeError);
    for (let k = 0; k < 3; k++) raid.emit('disk.slow', 'warning'); // 4 boot slots, 1 kept for err
    expect(() => raid.emit('disk.slow', 'warning')).toThrow(QueueFull);
    const stats = node.stats();
    expect(stats.rejectedByLevel).toEqual({
      queueFull: [0, 0, 0, 0, 1, 0, 0, 0],
      tooLarge: [0, 0, 0, 0, 0, 0, 1, 0],
    });
    expect(stats.counters).toMatchObject({ rejectedQueueFull: 1, rejectedTooLarge: 1 });
  });

  test("a full pool reclaims retired events' slots before it refuses", async () => {
    // auto scheduling: a pass retires without a fence of its own (the fence timer comes later)
    const node = Node.boot(freshDevice(), { checksum: 'typescript' });
    node.registerRecipient('audit', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    const raid = node.producer('raid');
    for (let k = 0; k < 16; k++) raid.emit('disk.failed', 'err', bytes(k)); // the whole ring
    await new Promise((resolve) => setImmediate(resolve)); // delivered, confirmed, retired
    expect(node.idle()).toBe(true);
    expect(raid.emit('disk.failed', 'err')).toBe(17); // the retired slots are reclaimed first
    expect(node.stats().counters.rejectedQueueFull).toBe(0);
    node.close();
  });

  test('a source name is held to the source limit (32 bytes)', () => {
    const { node } = bootNode();
    expect(node.producer('s'.repeat(32)).sourceId).toBe(0);
    let thrown: unknown = null;
    try {
      node.producer('s'.repeat(33));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NodeError);
    expect((thrown as NodeError).code).toBe('BAD_ARGUMENT');
  });

  test('one producer handle per name', () => {
    const { node } = bootNode();
    const raid = node.producer('raid');
    expect(node.producer('raid')).toBe(raid);
    expect(node.producer('net').sourceId).toBe(1);
  });

  test('a start with nothing to report interns no system source', () => {
    const { node } = bootNode();
    node.start();
    expect(node.recovery.events).toEqual([]);
    expect(node.producer('raid').sourceId).toBe(0);
  });

  test('a group emit without a producer counter stores none; with one, stores it', async () => {
    const { node } = bootNode();
    const seen: [number, number][] = [];
    node.registerRecipient('audit', {}, (event, recipient) => {
      seen.push([event.flags, event.producerCounter]);
      recipient.confirm(event.seq);
    });
    node.start();
    const raid = node.producer('raid');
    const group = [
      raid.emitAsync('disk.failed', 'err'),
      raid.emitAsync('disk.failed', 'err', null, 7),
    ];
    node.commit();
    expect(await Promise.all(group)).toEqual([1, 2]);
    node.drainUntilIdle();
    expect(seen[0]).toEqual([0, 0]);
    expect(seen[1]?.[1]).toBe(7);
  });
});
