/**
 * Node.stats() field by field, through a boot that replays an event: before start the replayed
 * record is pending but not examined (no oldest time yet); once delivery examines the FIFO head
 * its time is the oldest pending time; a name the recipient table holds whose recipient has not
 * registered again this boot is listed, unregistered, with every count zero; a registered
 * recipient's own delivery, retry, confirmation, dead-letter and handler-error counts are its own.
 */
import { describe, expect, test } from 'vitest';
import { bootNode, bytes, rebootDurable } from '../engine/harness.js';

const retry = { timeoutMs: 5, attemptsMax: 2 };
const zeros = [0, 0, 0, 0, 0, 0, 0, 0];
const pools = (bootUsed: number, runtimeUsed: number) => [
  {
    name: 'boot',
    capacity: 8,
    used: bootUsed,
    urgentReserve: 1,
    rejected: 0,
    rejectedByReserve: 0,
  },
  {
    name: 'runtime',
    capacity: 16,
    used: runtimeUsed,
    urgentReserve: 2,
    rejected: 0,
    rejectedByReserve: 0,
  },
];
const bootFifo = {
  name: 'boot-fifo',
  head: 0,
  tail: 0,
  pending: 0,
  slotCount: 8,
  oldestPendingTime: null,
};
const idle = {
  delivered: 0,
  redelivered: 0,
  confirmed: 0,
  inFlight: 0,
  deadLettered: 0,
  confirmsIgnored: 0,
  handlerErrors: 0,
};
const gone = { id: 1, name: 'gone', registered: false, ...idle };

describe('Node.stats()', () => {
  test('FIFOs, pools, queue, recipients and counters across a replay, a retry and dead letters', () => {
    const first = bootNode(undefined, { retry });
    first.node.registerRecipient('busy', {}, () => {});
    first.node.registerRecipient('gone', { prefixes: ['none.'] }, () => {});
    first.node.start();
    first.node.producer('p').emit('hold', 'info'); // at 1_000_000, never confirmed
    first.node.drainUntilIdle();

    const { node, clock } = bootNode(rebootDurable(first.device), { retry });
    node.registerRecipient('busy', {}, (event, recipient) => {
      if (event.type === 'boom') throw new Error('refused');
      if (event.type === 'ok') {
        recipient.confirm(event.seq);
        recipient.confirm(event.seq); // the second is ignored
      }
    });
    expect(node.stats()).toEqual({
      phase: 'booting',
      seqNext: 65537,
      fifos: [
        bootFifo,
        // replayed, not examined yet: no oldest time
        {
          name: 'runtime-fifo',
          head: 0,
          tail: 1,
          pending: 1,
          slotCount: 16,
          oldestPendingTime: null,
        },
      ],
      pools: pools(0, 1),
      queue: { length: 1, capacity: 24 },
      recipients: [{ id: 0, name: 'busy', registered: true, ...idle }, gone],
      deadLetters: { held: 0, damaged: 0, capacity: 4 },
      counters: {
        delivered: 0,
        redelivered: 0,
        confirmed: 0,
        confirmsIgnored: 0,
        retired: 0,
        deadLettered: 0,
        deadLetterFull: 0,
        handlerErrors: 0,
        emitted: 0,
        rejectedQueueFull: 0,
        rejectedTooLarge: 0,
        replayed: 1,
        discarded: 0,
        recoveryEventsRejected: 0,
      },
      rejectedByLevel: { queueFull: zeros, tooLarge: zeros },
    });

    node.start();
    const p = node.producer('raid');
    clock.advance(3);
    p.emit('ok', 'info');
    p.emit('boom', 'err', bytes(1));
    node.drain();
    const running = node.stats();
    expect(running.fifos).toEqual([
      bootFifo,
      {
        name: 'runtime-fifo',
        head: 0,
        tail: 3,
        pending: 3,
        slotCount: 16,
        oldestPendingTime: 1_000_000, // the replayed head's record time
      },
    ]);
    expect(running.queue).toEqual({ length: 3, capacity: 24 });
    expect(running.recipients).toEqual([
      {
        id: 0,
        name: 'busy',
        registered: true,
        delivered: 3,
        redelivered: 0,
        confirmed: 1,
        inFlight: 2,
        deadLettered: 0,
        confirmsIgnored: 1,
        handlerErrors: 1,
      },
      gone,
    ]);

    clock.advance(10);
    node.drain();
    clock.advance(20);
    node.drain(); // 'hold' and 'boom' reach attemptsMax: dead letters
    expect(node.stats()).toEqual({
      phase: 'running',
      seqNext: 65539,
      fifos: [
        bootFifo,
        {
          name: 'runtime-fifo',
          head: 3,
          tail: 3,
          pending: 0,
          slotCount: 16,
          oldestPendingTime: null,
        },
      ],
      pools: pools(0, 0),
      queue: { length: 0, capacity: 24 },
      recipients: [
        {
          id: 0,
          name: 'busy',
          registered: true,
          delivered: 3,
          redelivered: 2,
          confirmed: 1,
          inFlight: 0,
          deadLettered: 2,
          confirmsIgnored: 1,
          handlerErrors: 2,
        },
        gone,
      ],
      deadLetters: { held: 2, damaged: 0, capacity: 4 },
      counters: {
        delivered: 3,
        redelivered: 2,
        confirmed: 1,
        confirmsIgnored: 1,
        retired: 3,
        deadLettered: 2,
        deadLetterFull: 0,
        handlerErrors: 2,
        emitted: 2,
        rejectedQueueFull: 0,
        rejectedTooLarge: 0,
        replayed: 1,
        discarded: 0,
        recoveryEventsRejected: 0,
      },
      rejectedByLevel: { queueFull: zeros, tooLarge: zeros },
    });
  });
});
