/**
 * Dead-lettering what a retired recipient still owes (Node.retireRecipient, [216, 217]): only
 * events intended for its id and not confirmed by it are dead-lettered, in both words of the
 * masks (id 32 is the upper word's first bit), each settled in its own word so the events
 * complete and the durable confirmation word carries the bit; with a full section the rest stay
 * owed and are counted, once each, even when the queue is full; a registered recipient's
 * events are never dead-lettered this way.
 */
import { describe, expect, test } from 'vitest';
import { reasonRecipientRetired } from '../../src/engine/dead-letter.js';
import { loadConfirmationMask } from '../../src/events/checked-word.js';
import { AssertionError } from '../../src/events/assert.js';
import type { PersistentFifo } from '../../src/fifo/fifo.js';
import { bootNode, freshDevice, rebootDurable, smallLimits } from './harness.js';

describe('retiring a recipient that owes events', () => {
  test('ids 1 and 32: only what each owes is dead-lettered, settled in its own word', () => {
    const device = freshDevice({ ...smallLimits, recipientsMax: 40, deadLetterSlots: 8 });
    const first = bootNode(device);
    first.node.registerRecipient('r0', { prefixes: ['disk.'] }, (e, r) => void r.confirm(e.seq));
    first.node.registerRecipient('r1', {}, (e, r) => {
      if (e.type === 'disk.failed') r.confirm(e.seq); // owes only the other one
    });
    first.node.registerRecipient('r2', {}, () => {}); // holds both events back
    for (let i = 3; i < 32; i++)
      first.node.registerRecipient(`r${i}`, { prefixes: ['none'] }, () => {});
    const high = first.node.registerRecipient('r32', {}, () => {});
    expect(high.id).toBe(32);
    first.node.start();
    const p = first.node.producer('p');
    const both = p.emit('disk.failed', 'err'); // r0, r1, r2, r32
    const upper = p.emit('fan.slow', 'err'); // r1, r2, r32
    first.node.drain();
    first.node.close();

    const second = bootNode(rebootDurable(device));
    const secondDevice = second.device;
    second.node.registerRecipient('r2', {}, () => {});
    second.node.start();
    second.node.drain();
    expect(second.node.retireRecipient('r32')).toEqual({ deadLettered: 2 });
    expect(second.node.retireRecipient('r1')).toEqual({ deadLettered: 1 });
    expect(second.node.deadLetterList().map((letter) => [letter.recipientId, letter.seq])).toEqual([
      [32, both],
      [32, upper],
      [1, upper],
    ]);
    expect(second.node.stats().counters).toMatchObject({ deadLettered: 3, deadLetterFull: 0 });
    second.node.close();

    // r2 still holds both: each confirmation word is durable with the retired ids' bits
    const image = rebootDurable(secondDevice);
    const fifo = second.node.fifos[1] as PersistentFifo;
    const mask = (position: number): number =>
      loadConfirmationMask(image, fifo.slotsOffset + fifo.slotBase(position));
    expect([mask(0), mask(1)]).toEqual([2 ** 32 + 0b11, 2 ** 32 + 0b10]);
    const third = bootNode(image);
    const seen: number[] = [];
    third.node.registerRecipient('r2', {}, (e, r) => {
      seen.push(e.seq);
      r.confirm(e.seq);
    });
    third.node.start();
    third.node.drainUntilIdle();
    expect(seen.slice(0, 2)).toEqual([both, upper]); // then the two retirement notices
    expect(third.node.idle()).toBe(true);
  });

  test('with a full section and a full queue, every owed event stays owed, counted once', () => {
    const limits = { ...smallLimits, deadLetterSlots: 1 }; // 8 boot and 16 runtime slots
    const device = freshDevice(limits);
    const first = bootNode(device);
    const gone = first.node.registerRecipient('gone', {}, () => {});
    const p = first.node.producer('p');
    const seqs: number[] = [];
    for (let i = 0; i < 8; i++) seqs.push(p.emit('t', 'err'));
    first.node.start();
    for (let i = 0; i < 16; i++) seqs.push(p.emit('t', 'err'));
    first.node.drain();
    expect(gone.inFlight()).toBe(seqs.length);
    // the second event's dead letter is durable, its confirmation word not yet: a power cut
    expect(gone.refuse(seqs[1] as number, 400)).toBe(true);

    const second = bootNode(rebootDurable(device));
    const queue = second.node.queue;
    expect([queue.length(), queue.capacity]).toEqual([seqs.length, seqs.length]);
    expect(second.node.deadLetterList().map((letter) => letter.seq)).toEqual([seqs[1]]);
    expect(second.node.engine.deadLetterOwed(gone.id, reasonRecipientRetired)).toEqual({
      deadLettered: 0,
      left: seqs.length,
    });
    expect(second.node.stats().counters).toMatchObject({
      deadLettered: 0,
      deadLetterFull: seqs.length,
    });
    expect(queue.length()).toBe(seqs.length);
  });

  test("a registered recipient's events are not dead-lettered as a retired one's", () => {
    const { node } = bootNode();
    const r = node.registerRecipient('r', {}, () => {});
    node.start();
    node.producer('p').emit('t', 'err');
    node.drain();
    expect(() => node.engine.deadLetterOwed(r.id, reasonRecipientRetired)).toThrow(AssertionError);
    expect(node.deadLetterList()).toEqual([]);
  });
});
