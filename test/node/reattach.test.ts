/**
 * A recipient detached and registered again before the node starts (src/node/node.ts): the same
 * recipient, now with the new subscription and handler, and nothing delivered before start.
 */
import { describe, expect, test } from 'vitest';
import { bootNode, bytes } from '../engine/harness.js';

describe('registering a detached recipient again', () => {
  test('before start: the new subscription and handler hold, and nothing is delivered until start', () => {
    const { node } = bootNode();
    const first: string[] = [];
    const second: string[] = [];
    const audit = node.registerRecipient('audit', { prefixes: ['disk.'] }, (event, r) => {
      first.push(event.type);
      r.confirm(event.seq);
    });
    node.detachRecipient(audit);
    const again = node.registerRecipient('audit', { prefixes: ['net.'] }, (event, r) => {
      second.push(event.type);
      r.confirm(event.seq);
    });
    expect(again).toBe(audit);
    expect(again.prefixes).toEqual(['net.']);
    expect(again.attached).toBe(true);
    node.drain();
    expect(second).toEqual([]);
    node.start();
    const producer = node.producer('raid');
    producer.emit('disk.failed', 'err', bytes(1));
    producer.emit('net.down', 'err', bytes(2));
    node.drain();
    expect(first).toEqual([]);
    expect(second).toEqual(['net.down']);
    node.close();
  });
});
