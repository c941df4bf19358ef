/**
 * Node.redeliverDeadLetters: only after start(), only the letters the filter names, each as a
 * new event to its recipient alone that keeps the seq it was first emitted as; a full queue
 * stops it with the rest still dead letters.
 */
import { describe, expect, test } from 'vitest';
import { NodeError, QueueFull } from '../../src/events/errors.js';
import { bootNode, bytes, type TestNode } from '../engine/harness.js';

/** A node whose recipients `keeps` and `drops` each hold two dead letters (seqs returned). */
function withDeadLetters(): TestNode & { seqs: number[] } {
  const test = bootNode(undefined, { retry: { timeoutMs: 5, attemptsMax: 1 } });
  const { node, clock } = test;
  node.registerRecipient('keeps', {}, () => {});
  node.registerRecipient('drops', {}, () => {});
  node.start();
  const producer = node.producer('raid');
  const seqs = [
    producer.emit('disk.failed', 'err', bytes(1)),
    producer.emit('disk.slow', 'warning'),
  ];
  node.drain();
  clock.advance(10);
  node.drain();
  return { ...test, seqs };
}

describe('redeliverDeadLetters', () => {
  test('before start(): NODE_STATE', () => {
    const { node } = bootNode();
    expect(() => node.redeliverDeadLetters()).toThrow(NodeError);
    expect(() => node.redeliverDeadLetters()).toThrow(/redeliver after start\(\)/);
  });

  test('by recipient and by seq: only those letters, to that recipient alone', () => {
    const { node, seqs } = withDeadLetters();
    expect(node.deadLetterList()).toHaveLength(4);
    expect(node.redeliverDeadLetters({ recipient: 'keeps', seq: seqs[1] })).toBe(1);
    expect(node.redeliverDeadLetters({ recipient: 'drops' })).toBe(2);
    const left = node.deadLetterList().map((letter) => [letter.recipient, letter.seq]);
    expect(left).toEqual([['keeps', seqs[0]]]);
  });

  test('a letter re-delivered and dead-lettered again keeps the seq it was first emitted as', () => {
    const { node, clock, seqs } = withDeadLetters();
    expect(node.redeliverDeadLetters({ recipient: 'keeps', seq: seqs[0] })).toBe(1);
    node.drain();
    clock.advance(10);
    node.drain(); // the re-delivery times out too
    const again = node
      .deadLetterList()
      .find(
        (letter) =>
          letter.recipient === 'keeps' && letter.seq !== seqs[0] && letter.seq !== seqs[1],
      );
    expect(again?.record.originalSeq).toBe(seqs[0]);
    expect(node.redeliverDeadLetters({ seq: again?.seq })).toBe(1);
    node.drain();
    clock.advance(10);
    node.drain();
    const third = node
      .deadLetterList()
      .find((letter) => letter.recipient === 'keeps' && letter.seq > (again?.seq ?? 0));
    expect(third?.record.originalSeq).toBe(seqs[0]);
  });

  test('a full queue stops the re-delivery; the rest stay dead letters', () => {
    const { node } = withDeadLetters();
    const producer = node.producer('flood');
    // the most urgent severity, so that the pools' urgent reserve is used up too
    for (;;) {
      try {
        producer.emit('disk.flood', 'emerg');
      } catch (error) {
        if (error instanceof QueueFull) break;
        throw error;
      }
    }
    expect(node.redeliverDeadLetters()).toBe(0);
    expect(node.deadLetterList()).toHaveLength(4);
  });
});
