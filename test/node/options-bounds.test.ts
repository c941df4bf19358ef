/**
 * Node.boot and recipient options at the edges of their ranges: each bound itself is accepted
 * and one past it is BAD_ARGUMENT; the injectable classes are known options (given as undefined
 * they take the defaults); a subscription or prefix of the wrong type is refused, not coerced.
 */
import { describe, expect, test } from 'vitest';
import { attemptsLimit, inFlightLimit } from '../../src/constants.js';
import { Node, type NodeOptions } from '../../src/node/node.js';
import { bootNode, freshDevice, outcome } from '../engine/harness.js';

const boot = (options: object) => () =>
  Node.boot(freshDevice(), { scheduling: 'manual', ...options } as NodeOptions);

describe('Node.boot options at their bounds', () => {
  test('the injectable classes, given as undefined, boot a working node', () => {
    const node = Node.boot(freshDevice(), {
      scheduling: 'manual',
      Fifo: undefined,
      Replay: undefined,
      Engine: undefined,
      SeqLease: undefined,
    });
    node.registerRecipient('r', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    node.producer('p').emit('t', 'info');
    node.drainUntilIdle();
    expect(node.stats().counters.confirmed).toBe(1);
  });

  test.each([
    [{ absentRecipientGraceMs: 0 }, 'accepted'],
    [{ absentRecipientGraceMs: -1 }, 'BAD_ARGUMENT'],
    [{ absentRecipientGraceMs: '5' }, 'BAD_ARGUMENT'],
    [{ retry: { attemptsMax: 1 } }, 'accepted'],
    [{ retry: { attemptsMax: attemptsLimit } }, 'accepted'],
    [{ retry: { attemptsMax: attemptsLimit + 1 } }, 'BAD_ARGUMENT'],
    [{ inFlightMax: 1 }, 'accepted'],
    [{ inFlightMax: inFlightLimit }, 'accepted'],
    [{ inFlightMax: inFlightLimit + 1 }, 'BAD_ARGUMENT'],
    [{ inFlightMax: 1.5 }, 'BAD_ARGUMENT'],
  ])('%j: %s', (options, expected) => {
    expect(outcome(boot(options))).toBe(expected);
  });
});

describe('a recipient', () => {
  test('its own inFlightMax and attemptsMax at their bounds', () => {
    const { node } = bootNode();
    const register = (name: string, options: object) => () =>
      node.registerRecipient(name, {}, () => {}, options);
    expect(outcome(register('a', { inFlightMax: 1 }))).toBe('accepted');
    expect(outcome(register('b', { inFlightMax: inFlightLimit }))).toBe('accepted');
    expect(outcome(register('c', { inFlightMax: inFlightLimit + 1 }))).toBe('BAD_ARGUMENT');
    expect(outcome(register('d', { retry: { attemptsMax: attemptsLimit } }))).toBe('accepted');
    expect(outcome(register('e', { retry: { attemptsMax: attemptsLimit + 1 } }))).toBe(
      'BAD_ARGUMENT',
    );
  });

  test('a subscription that is a number, a prefix that is not a string', () => {
    const { node } = bootNode();
    expect(outcome(() => node.registerRecipient('r', 5 as never, () => {}))).toBe('BAD_ARGUMENT');
    expect(outcome(() => node.registerRecipient('r', { prefixes: [7] } as never, () => {}))).toBe(
      'BAD_ARGUMENT',
    );
    expect(node.stats().recipients).toEqual([]);
  });
});
