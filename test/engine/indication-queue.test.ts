/**
 * The event indication queue's recovered entries (src/engine/indication-queue.ts): entries
 * appended unexamined over slots an earlier entry used are cleared of that entry's seq and
 * recipient words, while slots never written are left as allocated; both runs of a wrap. Entries
 * still queued in other slots are left as they are, and a queue never holds more entries than its
 * capacity (an AssertionError, SPEC 5.3).
 */
import { describe, expect, test } from 'vitest';
import { AssertionError } from '../../src/events/assert.js';
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
    expect([...queue.sourceId]).toEqual(Array(4).fill(0xffff));
  });

  test('a wrapped append leaves the entry still queued between its runs as it is', () => {
    const queue = new EventIndicationQueue(4);
    for (let k = 0; k < 3; k++) queue.push(1, k, 100 + k, 0b11, 0b1, 0b1, 0b1, 5, 6, 0);
    queue.head = 2; // the entry in slot 2 is still queued
    queue.pushUnexamined(
      new Uint8Array([0, 0, 0]),
      new Float64Array([10, 11, 12]),
      3,
      entryFlagUnexamined,
    );
    expect(queue.length()).toBe(4);
    expect([...queue.position]).toEqual([11, 12, 2, 10]);
    expect([...queue.fifoIndex]).toEqual([0, 0, 1, 0]);
    expect([...queue.seq]).toEqual([0, 0, 102, 0]);
    expect([...queue.intendedLo]).toEqual([0, 0, 0b11, 0]);
    expect([...queue.intendedHi]).toEqual([0, 0, 0b1, 0]);
    expect([...queue.confirmedLo]).toEqual([0, 0, 0b1, 0]);
    expect([...queue.confirmedHi]).toEqual([0, 0, 0b1, 0]);
    expect([...queue.typeId]).toEqual([0xffff, 0xffff, 5, 0xffff]);
    expect([...queue.sourceId]).toEqual([0xffff, 0xffff, 6, 0xffff]);
    expect([...queue.flags]).toEqual([2, 2, 0, 2]);
  });

  test('holds at most its capacity: a push or an append past it is refused', () => {
    expect(() => new EventIndicationQueue(0)).toThrow(AssertionError);
    const one = new EventIndicationQueue(1);
    expect(one.push(0, 0, 1, 1, 0, 0, 0, 0, 0, 0)).toBe(0);
    expect(() => one.push(0, 1, 2, 1, 0, 0, 0, 0, 0, 0)).toThrow(AssertionError);
    one.head = 1;
    expect(one.push(0, 1, 2, 1, 0, 0, 0, 0, 0, 0)).toBe(1);

    const queue = new EventIndicationQueue(4);
    queue.push(0, 0, 1, 1, 0, 0, 0, 0, 0, 0);
    const positions = new Float64Array([1, 2, 3, 4]);
    expect(() =>
      queue.pushUnexamined(new Uint8Array(4), positions, 4, entryFlagUnexamined),
    ).toThrow(AssertionError);
    expect(queue.tail).toBe(1);
    queue.pushUnexamined(new Uint8Array(3), positions, 3, entryFlagUnexamined);
    expect(queue.length()).toBe(4);
  });
});
