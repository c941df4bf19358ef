/**
 * The dead-letter store (src/engine/dead-letter.ts) counted from the outside: free and held
 * entries add up to its capacity, removing an entry that is not held does nothing, and an
 * entry whose record no longer passes its checks is counted damaged after a reboot, never
 * listed.
 */
import { describe, expect, test } from 'vitest';
import { sectionNames } from '../../src/node/layout.js';
import { bootNode, freshDevice, rebootDurable } from './harness.js';

/** A node whose recipient 'audit' refuses every event: each is a dead letter at once. */
function refusing() {
  const booted = bootNode(freshDevice());
  booted.node.registerRecipient('audit', {}, (event, r) => r.refuse(event.seq, 400));
  booted.node.start();
  return booted;
}

describe('the dead-letter store', () => {
  test('free and held entries add up to its capacity; removing a free entry changes nothing', () => {
    const { node } = refusing();
    const store = node.deadLetters;
    const capacity = store.entryCount;
    expect(store.free()).toBe(capacity);
    const producer = node.producer('raid');
    producer.emit('disk.failed', 'err');
    producer.emit('disk.failed', 'err');
    node.drain();
    expect(store.held()).toBe(2);
    expect(store.free()).toBe(capacity - 2);
    const [first] = node.deadLetterList();
    store.remove(first!.index);
    expect(store.free()).toBe(capacity - 1);
    store.remove(first!.index); // free already: nothing to do
    expect(store.free()).toBe(capacity - 1);
    expect(store.held()).toBe(1);
    node.close();
  });

  test('an entry whose record was damaged is counted damaged after a reboot, and not listed', () => {
    const { node, device } = refusing();
    node.producer('raid').emit('disk.failed', 'err');
    node.producer('raid').emit('disk.gone', 'err');
    node.drain();
    expect(node.deadLetterList()).toHaveLength(2);
    node.close();
    // damage the first entry's record: its type's bytes, found in the section
    const image = device.buildDurableImage();
    const section = device.section(sectionNames.deadLetter);
    const bytes = image.subarray(section.offset, section.offset + section.length);
    const at = Buffer.from(bytes).indexOf('disk.failed');
    expect(at).toBeGreaterThan(0);
    const damaged = rebootDurable(device);
    damaged.flipBits(section.offset + at, 1, 1, 7);
    damaged.persist(section.offset + at, 1);
    const again = bootNode(damaged).node;
    expect(again.stats().deadLetters).toMatchObject({ held: 1, damaged: 1 });
    expect(again.deadLetterList().map((letter) => letter.record.type)).toEqual(['disk.gone']);
    again.close();
  });
});
