/**
 * The recipient mask a record carries [111, 212], in both 32-bit words (ids 0..31 and 32..55):
 * a re-delivered dead letter is for its recipient alone, whichever word its id is in, and no
 * one else gets it; a relayed event taken over from a partner [193] is not delivered to the
 * recipients it excepts, in either word.
 */
import { describe, expect, test } from 'vitest';
import { bootNode, freshDevice, smallLimits } from '../engine/harness.js';

const limits = { ...smallLimits, recipientsMax: 56, deadLetterSlots: 8 };
const upstream = '00112233445566ff';

/** A started node with recipients r0..r33 (ids 0..33); `received` lists name and seq per event. */
function manyRecipients(holdOut: readonly string[] = []) {
  const test = bootNode(freshDevice(limits), { retry: { timeoutMs: 5, attemptsMax: 1 } });
  const received: string[] = [];
  for (let i = 0; i < 34; i++) {
    const name = `r${i}`;
    test.node.registerRecipient(name, {}, (event, recipient) => {
      received.push(
        `${name} ${event.seq}${event.originalSeq === 0 ? '' : ` of ${event.originalSeq}`}`,
      );
      if (!holdOut.includes(name)) recipient.confirm(event.seq);
    });
  }
  test.node.start();
  return { ...test, received };
}

describe('the recipient mask of a record', () => {
  test('a re-delivered dead letter reaches its recipient alone, in either word', () => {
    const { node, clock, received } = manyRecipients(['r1', 'r32']);
    node.producer('raid').emit('disk.failed', 'err');
    node.drain();
    expect(received).toHaveLength(34);
    clock.advance(10);
    node.drain(); // r1 and r32 had their one attempt: dead letters
    expect(node.deadLetterList().map((letter) => letter.recipient)).toEqual(['r1', 'r32']);
    received.length = 0;
    expect(node.redeliverDeadLetters()).toBe(2);
    node.drain();
    expect(received).toEqual(['r1 2 of 1', 'r32 3 of 1']);
  });

  test('a relayed event is not delivered to the recipients it excepts, in either word', async () => {
    const { node, received } = manyRecipients();
    const relayed = node
      .producer('mux')
      .emitRelayed('disk.failed', 'err', null, [{ node: upstream, seq: 4 }], [2, 33]);
    node.commit();
    expect(await relayed).toBe(1);
    node.drain();
    const names = received.map((entry) => entry.split(' ')[0]);
    expect(names).toHaveLength(32);
    expect(names).not.toContain('r2');
    expect(names).not.toContain('r33');
    expect(names).toContain('r32');
  });
});
