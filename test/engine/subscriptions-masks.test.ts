/**
 * Intended-recipient masks per type and severity level [160, 254] (src/engine/subscriptions.ts):
 * a type interned is resolved against the recipients of that moment, one mask per syslog level
 * 0..7, a recipient included at every level up to its severityMax, when any one of its type
 * prefixes matches; ids 32.. in the upper word. A known type is not resolved again by interning;
 * resolveAll() does that when a recipient registers.
 */
import { describe, expect, test } from 'vitest';
import { TypeTable, type Subscriber } from '../../src/engine/subscriptions.js';

const masks = (table: TypeTable, id: number) => ({
  low: [...table.masksLo.subarray(id * 8, id * 8 + 8)],
  high: [...table.masksHi.subarray(id * 8, id * 8 + 8)],
});

describe('a type table', () => {
  test('a type interned before any recipient registers has empty masks', () => {
    const table = new TypeTable();
    expect(table.intern('disk.failed')).toBe(0);
    expect(masks(table, 0)).toEqual({ low: Array(8).fill(0), high: Array(8).fill(0) });
  });

  test('one mask per level up to each severityMax, any matching prefix, ids 32.. in the upper word', () => {
    const table = new TypeTable();
    const subscribers: (Subscriber | undefined)[] = [];
    subscribers[1] = { id: 1, prefixes: ['fan.', 'disk.'], severityMax: 3 };
    subscribers[2] = { id: 2, prefixes: ['psu'], severityMax: 7 };
    subscribers[33] = { id: 33, prefixes: ['disk'], severityMax: 0 };
    subscribers[34] = { id: 34, prefixes: ['disk.failed', 'nope'], severityMax: 5 };
    table.subscribers = subscribers;
    // ids far enough in that a mask table of a smaller size would not hold them
    for (let k = 0; k < 200; k++) table.intern(`t${k}`);
    expect(table.intern('disk.failed')).toBe(200);
    expect(table.intern('psu.lost')).toBe(201);
    expect(masks(table, 200)).toEqual({
      low: [2, 2, 2, 2, 0, 0, 0, 0],
      high: [0b110, 0b100, 0b100, 0b100, 0b100, 0b100, 0, 0],
    });
    expect(masks(table, 201)).toEqual({ low: [4, 4, 4, 4, 4, 4, 4, 4], high: Array(8).fill(0) });
    expect(masks(table, 1)).toEqual({ low: Array(8).fill(0), high: Array(8).fill(0) });
  });

  test('the upper word of type 1 is its own', () => {
    const table = new TypeTable();
    const subscribers: Subscriber[] = [{ id: 40, prefixes: ['fan'], severityMax: 7 }];
    table.subscribers = subscribers;
    table.intern('disk.failed');
    table.intern('fan.stalled');
    expect(masks(table, 0).high).toEqual(Array(8).fill(0));
    expect(masks(table, 1).high).toEqual(Array(8).fill(1 << 8));
  });

  test('interning a known type keeps its masks; resolve() writes only its own type', () => {
    const table = new TypeTable();
    table.intern('disk.failed');
    table.intern('fan.stalled');
    table.subscribers = [{ id: 0, prefixes: [''], severityMax: 7 }];
    expect(table.intern('disk.failed')).toBe(0);
    expect(masks(table, 0).low).toEqual(Array(8).fill(0));
    table.resolve(1, table.subscribers);
    table.resolve(0, []);
    expect(masks(table, 1).low).toEqual(Array(8).fill(1));
    table.resolveAll();
    expect(masks(table, 0).low).toEqual(Array(8).fill(1));
  });
});
