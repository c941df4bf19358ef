/**
 * Recovered events as indication queue entries (src/engine/recovered-entry.ts, rows R1/R2): a
 * replayed record [190, 191] gets its source and type interned from the names it was recorded
 * with, repeated names reuse the id of the record before, and once a table holds its maximum
 * a new name stays un-interned (0xffff; the delivered event decodes it from the record) while a
 * name already known keeps its id.
 */
import { describe, expect, test } from 'vitest';
import { entryFlagUnexamined } from '../../src/engine/indication-queue.js';
import { RecoveredEntryLoader } from '../../src/engine/recovered-entry.js';
import { NameTable, TypeTable } from '../../src/engine/subscriptions.js';
import { bootNode, bytes, freshDevice, rebootDurable } from './harness.js';

const notInterned = 0xffff;

/** Persists events of these [source, type] names, then boots a node from the durable image. */
function recovered(events: readonly (readonly [string, string])[]) {
  const { device, node } = bootNode(freshDevice());
  node.registerRecipient('audit', {}, () => {});
  for (const [source, type] of events) node.producer(source).emit(type, 'err', bytes(7));
  node.commit();
  return bootNode(rebootDurable(device)).node;
}

/** Loads every recovered entry into fresh tables of at most `max` names each. */
function load(events: readonly (readonly [string, string])[], max = 16) {
  const node = recovered(events);
  const queue = node.queue;
  const types = new TypeTable();
  const sources = new NameTable('source', max);
  const typesMaxed = Object.assign(types, { max });
  const discards: number[] = [];
  const loader = new RecoveredEntryLoader(queue, node.fifos, typesMaxed, sources, (_f, p) =>
    discards.push(p),
  );
  const entries: { source: number; type: number; seq: number; unexamined: number }[] = [];
  for (let c = queue.head; c < queue.tail; c++) {
    const i = c % queue.capacity;
    expect(queue.flags[i]! & entryFlagUnexamined).toBe(entryFlagUnexamined);
    loader.load(i);
    entries.push({
      source: queue.sourceId[i]!,
      type: queue.typeId[i]!,
      seq: queue.seq[i]!,
      unexamined: queue.flags[i]! & entryFlagUnexamined,
    });
  }
  expect(discards).toEqual([]);
  node.close();
  return { entries, sources: sources.names, types: types.names };
}

describe('a recovered entry, loaded', () => {
  test('gets its seq and the ids of the names it was recorded with', () => {
    const { entries, sources, types } = load([
      ['raid', 'disk.failed'],
      ['raid', 'disk.failed'],
      ['fan', 'fan.stalled'],
      ['raid', 'disk.failed'],
    ]);
    expect(sources).toEqual(['raid', 'fan']);
    expect(types).toEqual(['disk.failed', 'fan.stalled']);
    expect(entries.map((e) => [e.source, e.type, e.unexamined])).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [1, 1, 0],
      [0, 0, 0],
    ]);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4].map((k) => entries[0]!.seq + k - 1));
  });

  test('a name that only begins like the one before is a name of its own', () => {
    const { entries, sources, types } = load([
      ['raid', 'disk.failed'],
      ['rai', 'disk.fail'],
      ['raid', 'disk.failed'],
    ]);
    expect(sources).toEqual(['raid', 'rai']);
    expect(types).toEqual(['disk.failed', 'disk.fail']);
    expect(entries.map((e) => [e.source, e.type])).toEqual([
      [0, 0],
      [1, 1],
      [0, 0],
    ]);
  });

  test('names of the same length that differ are different names', () => {
    const { entries, sources, types } = load([
      ['raid', 'disk.failed'],
      ['disk', 'disk.fixedx'],
      ['rack', 'disk.failed'],
    ]);
    expect(sources).toEqual(['raid', 'disk', 'rack']);
    expect(types).toEqual(['disk.failed', 'disk.fixedx']);
    expect(entries.map((e) => [e.source, e.type])).toEqual([
      [0, 0],
      [1, 1],
      [2, 0],
    ]);
  });

  test("a type is compared with the type before, not with the bytes of the record's source", () => {
    // the source `xy` sits right before the type `abc`: read backwards it spells the `yx` of `ayx`
    const { entries, types } = load([
      ['raid', 'ayx'],
      ['xy', 'abc'],
    ]);
    expect(types).toEqual(['ayx', 'abc']);
    expect(entries.map((e) => e.type)).toEqual([0, 1]);
  });

  test('a full table leaves new names un-interned and known names their ids', () => {
    const { entries, sources, types } = load(
      [
        ['raid', 'disk.failed'],
        ['fan', 'fan.stalled'],
        ['fan', 'fan.stalled'],
        ['raid', 'disk.failed'],
        ['psu', 'psu.lost'],
        ['raid', 'disk.failed'],
      ],
      1,
    );
    expect(sources).toEqual(['raid']);
    expect(types).toEqual(['disk.failed']);
    expect(entries.map((e) => [e.source, e.type])).toEqual([
      [0, 0],
      [notInterned, notInterned],
      [notInterned, notInterned],
      [0, 0],
      [notInterned, notInterned],
      [0, 0],
    ]);
  });
});
