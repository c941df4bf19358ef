/**
 * The two mask words seen from one recipient (ids 0..31 low, 32..55 high): othersHandled
 * (step 256) looks at every other intended recipient in both words and at none that is not
 * intended, whatever event of the queue it is asked about; an upper-word recipient's
 * confirmation of an event owed but not in flight reads its own word.
 */
import { describe, expect, test } from 'vitest';
import type { Recipient } from '../../src/engine/recipient.js';
import { bootNode, freshDevice, smallLimits } from './harness.js';

const limits = { ...smallLimits, recipientsMax: 40 };

/** Recipients r0..r33; those named in `listening` take every event and never confirm. */
function recipients(listening: readonly number[]) {
  const { node } = bootNode(freshDevice(limits));
  const all: Recipient[] = [];
  for (let i = 0; i < 34; i++)
    all.push(
      node.registerRecipient(
        `r${i}`,
        listening.includes(i) ? {} : { prefixes: ['none'] },
        () => {},
      ),
    );
  node.start();
  return { node, all };
}

describe('othersHandled', () => {
  test('ids 1 and 33 (the same bit in each word) each see the other', () => {
    const { node, all } = recipients([1, 33]);
    const [low, high] = [all[1] as Recipient, all[33] as Recipient];
    const p = node.producer('p');
    const first = p.emit('t', 'err');
    const second = p.emit('t', 'err'); // not the queue's first entry
    node.drain();
    const others = (r: Recipient, seq: number) => node.engine.othersHandled(r, seq);
    expect(others(low, second)).toEqual({ handled: false, others: true });
    expect(others(high, second)).toEqual({ handled: false, others: true });
    expect(high.confirm(second)).toBe(true);
    expect(others(low, second)).toEqual({ handled: true, others: true });
    expect(low.confirm(first)).toBe(true);
    expect(others(high, first)).toEqual({ handled: true, others: true });
    expect(others(low, first)).toBeNull(); // confirmed: no longer in its window
  });

  test('two low ids see each other', () => {
    const { node, all } = recipients([0, 1]);
    const [r0, r1, r2] = [all[0] as Recipient, all[1] as Recipient, all[2] as Recipient];
    const p = node.producer('p');
    p.emit('t', 'err');
    const seq = p.emit('t', 'err');
    node.drain();
    expect(node.engine.othersHandled(r0, seq)).toEqual({ handled: false, others: true });
    expect(r1.confirm(seq)).toBe(true);
    expect(node.engine.othersHandled(r0, seq)).toEqual({ handled: true, others: true });
    expect(node.engine.othersHandled(r2, seq)).toBeNull(); // never intended for it
  });

  test('a recipient alone sees no others, in either word', () => {
    for (const id of [5, 33]) {
      const { node, all } = recipients([id]);
      const p = node.producer('p');
      p.emit('t', 'err');
      const seq = p.emit('t', 'err');
      node.drain();
      expect(node.engine.othersHandled(all[id] as Recipient, seq)).toEqual({
        handled: true,
        others: false,
      });
    }
  });
});

describe('an upper-word confirmation of an owed event', () => {
  test('id 33 confirms an event owed but beyond its window; id 1 was never intended', () => {
    const { node, all } = recipients([33]);
    const high = all[33] as Recipient;
    node.detachRecipient(high); // away: what it is intended stays owed, nothing is delivered
    const seq = node.producer('p').emit('t', 'err');
    node.drain();
    expect(high.delivered).toBe(0);
    expect(high.confirm(seq)).toBe(true);
    expect(high.confirm(seq)).toBe(false);
    node.drain();
    expect(node.idle()).toBe(true);
  });
});
