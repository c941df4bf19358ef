/**
 * The event view handed to handlers [215, 291] (src/engine/event-view.ts): an interned source or
 * type is named from the boot's tables by the entry's id, an un-interned one (0xffff) is decoded
 * from the record in the FIFO slot; `recordBytes()` is the stored record [111], CRC intact; a
 * re-delivered dead letter shows its original seq and no producer counter, and an event recorded
 * here has no origin hops.
 */
import { describe, expect, test } from 'vitest';
import { EventView } from '../../src/engine/event-view.js';
import { NameTable } from '../../src/engine/subscriptions.js';
import { decodeRecord } from '../../src/events/record.js';
import { bootNode, bytes, freshDevice, rebootDurable } from './harness.js';

/** 55 bytes: a type may have up to 64. */
const longType = `disk.${'x'.repeat(50)}`;

/** A node booted from the durable image of one persisted event, its entry not loaded yet. */
function recoveredOne() {
  const { device, node } = bootNode(freshDevice());
  node.registerRecipient('audit', {}, () => {});
  // longer than any other kind of name may be: the type is decoded by the type rules
  node.producer('raid').emit(longType, 'warning', bytes(1, 2, 3));
  node.commit();
  const next = bootNode(rebootDurable(device)).node;
  const queue = next.queue;
  const types = new NameTable('type', 4);
  const sources = new NameTable('source', 4);
  const view = new EventView(queue, next.fifos, types, sources);
  const i = queue.head % queue.capacity;
  return { node: next, queue, types, sources, view: view.point(i, 1), i };
}

describe('the event view', () => {
  test('decodes un-interned names from the record', () => {
    const { node, queue, view, i } = recoveredOne();
    expect([queue.sourceId[i], queue.typeId[i]]).toEqual([0xffff, 0xffff]);
    expect([view.source, view.type, view.severity, view.attempt]).toEqual([
      'raid',
      longType,
      'warning',
      1,
    ]);
    node.close();
  });

  test('names interned ids from the tables, without reading the record', () => {
    const { node, queue, sources, types, view, i } = recoveredOne();
    sources.intern('fan');
    types.intern('fan.stalled');
    queue.sourceId[i] = 0;
    queue.typeId[i] = 0;
    expect([view.source, view.type]).toEqual(['fan', 'fan.stalled']);
    node.close();
  });

  test('recordBytes() is the stored record, its CRC intact; bytes is the FIFO shadow', () => {
    const { node, queue, view, i } = recoveredOne();
    const fifo = node.fifos[queue.fifoIndex[i]!]!;
    const base = fifo.slotBase(queue.position[i]!);
    const record = view.recordBytes();
    expect(view.bytes).toBe(fifo.shadow);
    expect(record.buffer).toBe(fifo.shadow.buffer);
    expect(record.byteOffset).toBe(fifo.shadow.byteOffset + base);
    expect(record.length).toBe(fifo.shadowView.getUint16(base + 12, true));
    expect(record.length).toBeGreaterThan(64);
    expect(record.length).toBeLessThan(256);
    expect(decodeRecord(record, 0)).toMatchObject({
      source: 'raid',
      type: longType,
      details: bytes(1, 2, 3),
    });
    node.close();
  });

  test('a re-delivered dead letter: its original seq, no producer counter, no origin hops', () => {
    const device = freshDevice();
    const first = bootNode(device, { retry: { timeoutMs: 10, attemptsMax: 1 } });
    first.node.registerRecipient('r', {}, () => {});
    first.node.start();
    const seq = first.node.producer('raid').emit('disk.failed', 'err', bytes(4, 5));
    for (let k = 0; k < 3; k++) {
      first.node.drain();
      first.clock.advance(20);
    }
    expect(first.node.deadLetterList()).toHaveLength(1);
    const second = bootNode(rebootDurable(device));
    const seen: unknown[] = [];
    second.node.registerRecipient('r', {}, (event, r) => {
      seen.push([
        event.originalSeq,
        event.producerCounter,
        event.origin(),
        event.source,
        event.type,
        [...event.details()],
      ]);
      r.confirm(event.seq);
    });
    second.node.start();
    expect(second.node.redeliverDeadLetters({ recipient: 'r' })).toBe(1);
    second.node.drain();
    expect(seen).toEqual([[seq, 0, [], 'raid', 'disk.failed', [4, 5]]]);
    second.node.close();
  });

  test('an event recorded here has no origin hops, whatever an earlier record left in its slot', () => {
    const { node } = bootNode(freshDevice());
    const hops: number[] = [];
    node.registerRecipient('audit', {}, (event, r) => {
      hops.push(event.origin().length);
      r.confirm(event.seq);
    });
    node.start();
    const producer = node.producer('raid');
    // long details fill every slot with 0x07 bytes, then short ones leave them after their end
    for (let k = 0; k < 40; k++) {
      producer.emit('disk.failed', 'err', new Uint8Array(k < 20 ? 48 : 1).fill(7));
      node.drain();
    }
    expect(hops).toEqual(Array(40).fill(0));
    node.close();
  });
});
