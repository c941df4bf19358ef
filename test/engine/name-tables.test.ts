/**
 * The interned names of a boot (src/engine/subscriptions.ts): ids dense from 0, the same name
 * the same id, and TABLE_FULL once a table holds its maximum, nothing interned by the refusal.
 * Also what a delivered event says of a remote producer's emit counter (src/engine/event-view.ts).
 */
import { describe, expect, test } from 'vitest';
import { NameTable } from '../../src/engine/subscriptions.js';
import { bootNode, bytes } from './harness.js';

describe('a name table', () => {
  test('dense ids, one per name, and TABLE_FULL past its maximum', () => {
    const table = new NameTable('source', 3);
    expect(['raid', 'fan', 'raid', 'psu'].map((name) => table.intern(name))).toEqual([0, 1, 0, 2]);
    expect(() => table.intern('disk')).toThrow(
      expect.objectContaining({
        code: 'TABLE_FULL',
        message: 'nvrelay: more than 3 distinct source names this boot',
      }),
    );
    expect(table.find('disk')).toBe(-1);
    expect(table.names).toEqual(['raid', 'fan', 'psu']);
    expect(table.intern('fan')).toBe(1); // known names still resolve
  });
});

describe('a delivered event', () => {
  test("a delivered event shows the remote producer's emit counter it was recorded with, 0 without", async () => {
    const { node } = bootNode();
    const counters: number[] = [];
    node.registerRecipient('audit', {}, (event, r) => {
      counters.push(event.producerCounter);
      r.confirm(event.seq);
    });
    node.start();
    const producer = node.producer('raid');
    const acked = producer.emitAsync('disk.failed', 'err', bytes(1), 41);
    producer.emit('disk.failed', 'err', bytes(2));
    node.commit();
    await acked;
    node.drain();
    expect(counters).toEqual([41, 0]);
    node.close();
  });
});
