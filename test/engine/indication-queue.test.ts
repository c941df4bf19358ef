/**
 * The event indication queue's recovered entries (src/engine/indication-queue.ts): entries
 * appended unexamined over slots an earlier entry used are cleared of that entry's seq and
 * recipient words, while slots never written are left as allocated; both runs of a wrap.
 */
import { describe, expect, test } from 'vitest';
import { EventIndicationQueue, entryFlagUnexamined } from '../../src/engine/indication-queue.js';

describe('the event indication queue', () => {
  test('unexamined entries over used slots clear the old words; over fresh slots write nothing else', () => {
    const queue = new EventIndicationQueue(4);
    // three entries examined and handled, then retired: slots 0..2 hold their words
    for (let k = 0; k < 3; k++) queue.push(1, k, 100 + k, 0b11, 0, 0b11, 0, 5, 6, 0);
    queue.head = 3;
    // four recovered entries: slots 3 (never written), then 0, 1, 2 (the ring wraps)
    queue.pushUnexamined(
      new Uint8Array([0, 0, 1, 1]),
      new Float64Array([10, 11, 12, 13]),
      4,
      entryFlagUnexamined,
    );
    expect(queue.tail).toBe(7);
    expect([...queue.position]).toEqual([11, 12, 13, 10]);
    expect([...queue.fifoIndex]).toEqual([0, 1, 1, 0]);
    for (const column of [
      queue.seq,
      queue.intendedLo,
      queue.intendedHi,
      queue.confirmedLo,
      queue.confirmedHi,
    ])
      expect([...column]).toEqual([0, 0, 0, 0]);
    expect([...queue.flags]).toEqual(Array(4).fill(entryFlagUnexamined));
    expect([...queue.typeId]).toEqual(Array(4).fill(0xffff));
  });
});
