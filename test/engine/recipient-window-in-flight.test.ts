/**
 * A recipient's in-flight window [160] counts the deliveries still awaiting confirmation: a
 * confirmation that arrives out of order marks its entry done while older ones keep the
 * window's front, and a done entry is no longer in flight even before it leaves the window.
 */
import { expect, test } from 'vitest';
import { bootNode, freshDevice } from './harness.js';

test('an out-of-order confirmation leaves one fewer delivery in flight at once', () => {
  const { node } = bootNode(freshDevice());
  const recipient = node.registerRecipient('audit', {}, () => {});
  node.start();
  const producer = node.producer('raid');
  const seqs = [1, 2, 3].map(() => producer.emit('disk.failed', 'err'));
  node.drain();
  expect(recipient.inFlight()).toBe(3);
  expect(recipient.confirm(seqs[1]!)).toBe(true);
  expect(recipient.inFlight()).toBe(2);
  expect(recipient.confirm(seqs[2]!)).toBe(true);
  expect(recipient.inFlight()).toBe(1);
  expect(recipient.confirm(seqs[0]!)).toBe(true);
  expect(recipient.inFlight()).toBe(0);
  node.close();
});
