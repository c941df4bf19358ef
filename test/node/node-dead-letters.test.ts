/**
 * Dead letters seen and re-delivered by the operator (Node.deadLetterList,
 * redeliverDeadLetters, retireRecipient): a retired recipient's letters name its id, never the
 * recipient that takes the id later; a recipient is not retired from inside a handler; a device
 * error while re-delivering (reclaiming slots for it) fails the node and reaches the caller,
 * where a full queue only stops the re-delivery.
 */
import { describe, expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { Node } from '../../src/node/node.js';
import { NvramError, type TracedNvram } from '../../src/nvram/index.js';
import { bootNode, rebootDurable } from '../engine/harness.js';

/** A durable device where 'gone' (id 0) owes one event that 'stay' (id 1) confirmed. */
function owedToGone(): TracedNvram {
  const { node, device } = bootNode();
  node.registerRecipient('gone', {}, () => {});
  node.registerRecipient('stay', {}, (event, recipient) => recipient.confirm(event.seq));
  node.start();
  node.producer('raid').emit('disk.failed', 'err');
  node.drainUntilIdle();
  node.close();
  return rebootDurable(device);
}

describe('dead letters: the operator view', () => {
  test("a retired recipient's letters name its id, also once another recipient has taken it", () => {
    const { node } = bootNode(owedToGone());
    node.registerRecipient('stay', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    expect(node.retireRecipient('gone').deadLettered).toBe(1);
    expect(node.deadLetterList().map((letter) => [letter.recipient, letter.reason])).toEqual([
      ['#0', 'recipient-retired'],
    ]);
    expect(node.registerRecipient('newcomer', {}, () => {}).id).toBe(0);
    expect(node.deadLetterList().map((letter) => letter.recipient)).toEqual(['#0']);
  });

  test('a recipient is not retired from inside a handler', () => {
    const { node } = bootNode(owedToGone());
    const codes: string[] = [];
    node.registerRecipient('stay', {}, (event, recipient) => {
      try {
        node.retireRecipient('gone');
      } catch (error) {
        codes.push((error as NodeError).code);
      }
      recipient.confirm(event.seq);
    });
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    node.drainUntilIdle();
    expect(codes).toEqual(['NODE_STATE']);
    expect(node.recipientTable.find('gone')).toBe(0);
  });

  test('a device error while reclaiming slots for a re-delivery fails the node and is thrown', async () => {
    const {
      node: first,
      device,
      clock,
    } = bootNode(undefined, {
      retry: { timeoutMs: 5, attemptsMax: 1 },
    });
    first.registerRecipient('drops', { prefixes: ['disk.'] }, () => {});
    first.start();
    first.producer('raid').emit('disk.failed', 'err');
    first.drain();
    clock.advance(10);
    first.drain();
    expect(first.deadLetterList()).toHaveLength(1);
    first.close();
    const rebooted = rebootDurable(device);
    // auto scheduling: a pass retires without a fence of its own
    const node = Node.boot(rebooted, { checksum: 'typescript' });
    node.registerRecipient('drops', { prefixes: ['disk.'] }, () => {});
    node.registerRecipient('audit', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    const net = node.producer('net');
    for (let k = 0; k < 16; k++) net.emit('net.up', 'err'); // the whole ring
    await new Promise((resolve) => setImmediate(resolve)); // retired, the head not yet durable
    rebooted.fence = () => {
      throw new NvramError('NVRAM_IO', 'msync: EIO (injected)');
    };
    let thrown: unknown = null;
    try {
      node.redeliverDeadLetters();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NodeError);
    expect((thrown as NodeError).code).toBe('NODE_FAILED');
    expect(node.phase).toBe('failed');
    node.close();
  });
});
