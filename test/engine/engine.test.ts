/**
 * The distribution engine [160, 215-217] through the node's API: subscriptions, out-of-order
 * confirmations, timeouts with exponential backoff, dead letters, slow-recipient isolation,
 * pools with severity reservation, and the typed errors producers see.
 */
import { describe, expect, test } from 'vitest';
import { confirmationFenceDelayMs } from '../../src/node/scheduler.js';
import type { EventView } from '../../src/engine/event-view.js';
import type { Recipient } from '../../src/engine/recipient.js';
import { NodeError, QueueFull } from '../../src/events/errors.js';
import type { PersistentFifo } from '../../src/fifo/fifo.js';
import { bootNode, bytes, freshDevice, rebootDurable, smallLimits } from './harness.js';
import { loadConfirmationMask } from '../../src/events/checked-word.js';

interface Seen {
  seq: number;
  type: string;
  severity: string;
  attempt: number;
  replayed: boolean;
  originalSeq: number;
  details: number[];
}

function seen(event: EventView): Seen {
  return {
    seq: event.seq,
    type: event.type,
    severity: event.severity,
    attempt: event.attempt,
    replayed: event.replayed,
    originalSeq: event.originalSeq,
    details: Array.from(event.details()),
  };
}

/** A handler that records what it sees and confirms at once. */
function confirming(log: Seen[]) {
  return (event: EventView, recipient: Recipient): void => {
    log.push(seen(event));
    recipient.confirm(event.seq);
  };
}

/** A handler that records what it sees and never confirms. */
function silent(log: Seen[]) {
  return (event: EventView): void => {
    log.push(seen(event));
  };
}

describe('subscriptions', () => {
  test('an event goes to the recipients whose prefixes and severityMax match, fixed at emit', () => {
    const { node } = bootNode();
    const disk: Seen[] = [];
    const all: Seen[] = [];
    const net: Seen[] = [];
    node.registerRecipient(
      'disk',
      { prefixes: ['disk.'], severityMax: 'warning' },
      confirming(disk),
    );
    node.registerRecipient('all', {}, confirming(all));
    node.registerRecipient('net', { prefixes: ['net'] }, confirming(net));
    const raid = node.producer('raid');
    node.start();
    const failed = raid.emit('disk.failed', 'err');
    const noise = raid.emit('disk.scrub', 'info');
    const down = raid.emit('net.down', 'crit');
    const other = raid.emit('network.up', 'notice'); // 'net' is a word prefix, not a string one
    node.drainUntilIdle();
    expect(disk.map((e) => e.seq)).toEqual([failed]);
    expect(all.map((e) => e.seq)).toEqual([failed, noise, down, other]);
    expect(net.map((e) => e.seq)).toEqual([down]);
    expect(node.idle()).toBe(true);
  });

  test('a recipient registered after an emit does not receive it (intended set is in the record)', () => {
    const { node } = bootNode();
    const early: Seen[] = [];
    const late: Seen[] = [];
    node.registerRecipient('early', {}, confirming(early));
    const p = node.producer('p');
    node.start();
    const first = p.emit('a.b', 'info');
    node.registerRecipient('late', {}, confirming(late));
    const second = p.emit('a.b', 'info');
    node.drainUntilIdle();
    expect(early.map((e) => e.seq)).toEqual([first, second]);
    expect(late.map((e) => e.seq)).toEqual([second]);
  });

  test('the view carries the record: type, source, severity, details, time', () => {
    const { node, clock } = bootNode();
    const views: ReturnType<EventView['toJSON']>[] = [];
    node.registerRecipient('r', {}, (event, recipient) => {
      views.push(event.toJSON());
      recipient.confirm(event.seq);
    });
    node.start();
    const seq = node.producer('raid-7').emit('disk.failed', 2, bytes(1, 2, 3));
    node.producer('json').emitJson('cfg.changed', 'notice', { key: 'x', value: 3 });
    node.drainUntilIdle();
    expect(views[0]).toEqual({
      seq,
      time: clock.time,
      severity: 'crit',
      source: 'raid-7',
      type: 'disk.failed',
      details: bytes(1, 2, 3),
      replayed: false,
      attempt: 1,
      originalSeq: 0,
    });
    expect(new TextDecoder().decode(views[1]?.details)).toBe('{"key":"x","value":3}');
  });
});

describe('confirmations', () => {
  test('confirmations may come later and in any order; the head moves only past handled events', () => {
    const { node } = bootNode();
    const held: number[] = [];
    const r = node.registerRecipient('r', {}, (event) => {
      held.push(event.seq);
    });
    const p = node.producer('p');
    node.start();
    for (let i = 0; i < 5; i++) p.emit('t', 'info');
    node.drainUntilIdle();
    expect(held).toHaveLength(5);
    expect(r.confirm(held[2] as number)).toBe(true);
    expect(r.confirm(held[4] as number)).toBe(true);
    node.drainUntilIdle();
    expect(node.stats().fifos[1]?.pending).toBe(5); // the oldest is unconfirmed
    expect(r.confirm(held[0] as number)).toBe(true);
    node.drainUntilIdle();
    expect(node.stats().fifos[1]?.pending).toBe(4); // 0 retired; 1 still open
    expect(r.confirm(held[1] as number)).toBe(true);
    expect(r.confirm(held[3] as number)).toBe(true);
    node.drainUntilIdle();
    expect(node.idle()).toBe(true);
    expect(node.stats().fifos[1]?.pending).toBe(0);
  });

  test('an unknown or repeated confirmation returns false and is counted', () => {
    const { node } = bootNode();
    const r = node.registerRecipient('r', {}, confirming([]));
    node.start();
    const seq = node.producer('p').emit('t', 'info');
    node.drainUntilIdle();
    expect(r.confirm(seq)).toBe(false);
    expect(r.confirm(123_456)).toBe(false);
    expect(node.stats().counters.confirmsIgnored).toBe(2);
  });

  test('an event with no intended recipient is recorded and retired', () => {
    const { node } = bootNode();
    node.start();
    const seq = node.producer('p').emit('nobody.listens', 'info');
    expect(seq).toBeGreaterThan(0);
    node.drainUntilIdle();
    expect(node.idle()).toBe(true);
    expect(node.stats().counters.retired).toBe(1);
  });
});

describe('timeouts and retries', () => {
  test('an unconfirmed delivery is retried with exponential backoff, then dead-lettered', () => {
    const { node, clock } = bootNode(freshDevice(), {
      retry: { timeoutMs: 100, backoffFactor: 2, timeoutMaxMs: 10_000, attemptsMax: 4 },
    });
    const log: Seen[] = [];
    const times: number[] = [];
    node.registerRecipient('r', {}, (event) => {
      log.push(seen(event));
      times.push(clock.time);
    });
    node.start();
    const start = clock.time;
    const seq = node.producer('p').emit('t', 'err', bytes(9));
    // step the clock 1 ms at a time: each attempt must happen exactly at its deadline
    for (let t = 0; t <= 1_600; t++) {
      node.drain();
      clock.advance(1);
    }
    expect(log.map((e) => e.attempt)).toEqual([1, 2, 3, 4]);
    expect(times.map((t) => t - start)).toEqual([0, 100, 300, 700]); // waits 100, 200, 400
    expect(log.every((e) => e.seq === seq)).toBe(true);
    const letters = node.deadLetterList();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      seq,
      recipient: 'r',
      reason: 'attempts-exhausted',
      attempts: 4,
    });
    expect(letters[0]?.deadLetteredAt).toBe(start + 1_500); // the fourth wait is 800
    expect(node.idle()).toBe(true); // the recipient's bit counts as handled
    expect(node.stats().counters.deadLettered).toBe(1);
  });

  test('backoff is capped at timeoutMaxMs', () => {
    const { node, clock } = bootNode(freshDevice(), {
      retry: { timeoutMs: 10, backoffFactor: 10, timeoutMaxMs: 50, attemptsMax: 5 },
    });
    const times: number[] = [];
    node.registerRecipient('r', {}, () => void times.push(clock.time));
    node.start();
    const start = clock.time;
    node.producer('p').emit('t', 'err');
    for (let t = 0; t <= 300; t++) {
      node.drain();
      clock.advance(1);
    }
    expect(times.map((t) => t - start)).toEqual([0, 10, 60, 110, 160]);
  });

  test('a handler that throws counts as unconfirmed and is retried', () => {
    const { node, clock } = bootNode(freshDevice(), { retry: { timeoutMs: 10, attemptsMax: 3 } });
    let calls = 0;
    node.registerRecipient('r', {}, (event, recipient) => {
      calls++;
      if (calls === 1) throw new Error('recipient bug');
      recipient.confirm(event.seq);
    });
    node.start();
    node.producer('p').emit('t', 'err');
    node.drain();
    clock.advance(10);
    node.drain();
    expect(calls).toBe(2);
    expect(node.idle()).toBe(true);
    expect(node.stats().counters.handlerErrors).toBe(1);
  });

  test('a confirmation after dead-lettering is ignored', () => {
    const { node, clock } = bootNode(freshDevice(), { retry: { timeoutMs: 10, attemptsMax: 1 } });
    const r = node.registerRecipient('r', {}, () => {});
    node.start();
    const seq = node.producer('p').emit('t', 'err');
    node.drain();
    clock.advance(10);
    node.drain();
    expect(node.deadLetterList()).toHaveLength(1);
    expect(r.confirm(seq)).toBe(false);
  });
});

describe('dead letters', () => {
  test('survive a reboot and are re-delivered by an operator call, with originalSeq', () => {
    const device = freshDevice();
    const first = bootNode(device, { retry: { timeoutMs: 10, attemptsMax: 2 } });
    first.node.registerRecipient('r', {}, () => {});
    first.node.registerRecipient('other', {}, confirming([]));
    first.node.start();
    const seq = first.node.producer('raid').emit('disk.failed', 'err', bytes(4, 5));
    for (let i = 0; i < 3; i++) {
      first.node.drain();
      first.clock.advance(20);
    }
    expect(first.node.deadLetterList()).toHaveLength(1);

    const second = bootNode(rebootDurable(device));
    const letters = second.node.deadLetterList();
    expect(letters).toHaveLength(1);
    expect(letters[0]?.record).toMatchObject({ seq, source: 'raid', type: 'disk.failed' });
    const log: Seen[] = [];
    const other: Seen[] = [];
    second.node.registerRecipient('r', {}, confirming(log));
    second.node.registerRecipient('other', {}, confirming(other));
    second.node.start();
    expect(second.node.redeliverDeadLetters({ recipient: 'r' })).toBe(1);
    second.node.drainUntilIdle();
    expect(log).toHaveLength(1); // the original was completely handled: not replayed
    expect(log[0]).toMatchObject({ originalSeq: seq, type: 'disk.failed', details: [4, 5] });
    expect(log[0]?.seq).toBeGreaterThan(seq);
    expect(other).toHaveLength(0); // only the recipient it was dead-lettered for
    expect(second.node.deadLetterList()).toHaveLength(0);
  });

  test('when the dead-letter section is full the event stays in flight, never lost', () => {
    const { node, clock } = bootNode(freshDevice({ ...smallLimits, deadLetterSlots: 1 }), {
      retry: { timeoutMs: 10, timeoutMaxMs: 10, attemptsMax: 1 },
    });
    const log: Seen[] = [];
    node.registerRecipient('r', {}, silent(log));
    node.start();
    node.producer('p').emit('t', 'err');
    node.producer('p').emit('t', 'err');
    for (let i = 0; i < 5; i++) {
      node.drain();
      clock.advance(10);
    }
    expect(node.deadLetterList()).toHaveLength(1);
    expect(node.stats().counters.deadLetterFull).toBeGreaterThan(0);
    expect(node.idle()).toBe(false);
  });
});

describe('slow recipients', () => {
  test('a recipient that never confirms does not block another; it only holds the head back', () => {
    const { node } = bootNode(freshDevice(), {
      inFlightMax: 4,
      retry: { timeoutMs: 1e9, timeoutMaxMs: 1e9 },
    });
    const slow: Seen[] = [];
    const fast: Seen[] = [];
    node.registerRecipient('slow', {}, silent(slow));
    node.registerRecipient('fast', {}, confirming(fast));
    const p = node.producer('p');
    node.start();
    for (let i = 0; i < 10; i++) p.emit('t', 'info');
    node.drainUntilIdle();
    expect(fast).toHaveLength(10);
    expect(slow).toHaveLength(4); // its window
    expect(node.stats().fifos[1]?.pending).toBe(10);
    expect(node.stats().recipients.find((r) => r.name === 'slow')?.inFlight).toBe(4);
  });

  test('eventually the held-back head makes the pool full: QueueFull, counted', () => {
    const { node } = bootNode(freshDevice(), { inFlightMax: 2 });
    node.registerRecipient('slow', {}, () => {});
    const p = node.producer('p');
    node.start();
    let accepted = 0;
    let error: unknown;
    for (let i = 0; i < 20 && error === undefined; i++) {
      try {
        p.emit('t', 'err');
        accepted++;
        node.drain();
      } catch (caught) {
        error = caught;
      }
    }
    expect(accepted).toBe(16);
    expect(error).toBeInstanceOf(QueueFull);
    expect((error as QueueFull).code).toBe('QUEUE_FULL');
    expect((error as QueueFull).pool).toBe('runtime');
    expect(node.stats().counters.rejectedQueueFull).toBe(1);
    expect(node.stats().pools[1]?.rejected).toBe(1);
  });
});

describe('pools', () => {
  test('a share of each pool is reserved for err or worse', () => {
    const { node } = bootNode();
    const p = node.producer('p');
    node.start();
    const pool = node.stats().pools[1];
    expect(pool).toMatchObject({ capacity: 16, urgentReserve: 2 });
    for (let i = 0; i < 14; i++) p.emit('t', 'info');
    expect(() => p.emit('t', 'warning')).toThrow(QueueFull);
    expect(p.emit('t', 'err')).toBeGreaterThan(0);
    expect(p.emit('t', 'emerg')).toBeGreaterThan(0);
    expect(() => p.emit('t', 'emerg')).toThrow(QueueFull);
    expect(node.stats().pools[1]).toMatchObject({ used: 16, rejected: 2, rejectedByReserve: 1 });
    expect(node.stats().counters.rejectedQueueFull).toBe(2);
    node.drainUntilIdle(); // nobody listens: all retire, the pool empties
    expect(p.emit('t', 'info')).toBeGreaterThan(0);
  });

  test('events emitted while booting use the boot pool and are delivered first after start', () => {
    const { node } = bootNode();
    const log: Seen[] = [];
    node.registerRecipient('r', {}, confirming(log));
    const p = node.producer('p');
    const early = [p.emit('boot.a', 'info'), p.emit('boot.b', 'info')];
    node.drain(); // nothing is delivered before initialisation completes
    expect(log).toHaveLength(0);
    expect(node.stats().fifos[0]?.pending).toBe(2);
    node.start();
    const late = p.emit('run.c', 'info');
    node.drainUntilIdle();
    expect(log.map((e) => e.seq)).toEqual([...early, late]);
    expect(node.stats().fifos.map((f) => f.tail)).toEqual([2, 1]);
  });

  test('the boot pool has its own capacity', () => {
    const { node } = bootNode();
    const p = node.producer('p');
    for (let i = 0; i < 8; i++) p.emit('t', 'err');
    expect(() => p.emit('t', 'err')).toThrow(QueueFull);
    expect(node.stats().pools[0]).toMatchObject({ name: 'boot', rejected: 1 });
  });
});

describe('head persistence', () => {
  test('every fence carries the head, so in-order confirmations need no word of their own', () => {
    const { node, device } = bootNode(freshDevice({ ...smallLimits, runtimeSlots: 32 }));
    node.registerRecipient('r', {}, confirming([]));
    const p = node.producer('p');
    node.start();
    for (let i = 0; i < 3; i++) {
      p.emit('t', 'info');
      node.drain();
    }
    const fifo = node.fifos[1] as PersistentFifo;
    expect([fifo.head, fifo.persistedHead]).toEqual([3, 3]);
    const image = rebootDurable(device);
    for (let position = 0; position < 3; position++) {
      // the confirmation words were never stored: the head word passing them says it all
      expect(loadConfirmationMask(image, fifo.slotsOffset + fifo.slotBase(position))).toBe(0);
    }
    const durable = bootNode(image);
    const again: Seen[] = [];
    durable.node.registerRecipient('r', {}, confirming(again));
    durable.node.start();
    durable.node.drainUntilIdle();
    expect(durable.node.recovery.replayed).toBe(0);
    expect(again).toHaveLength(0);
    for (let i = 0; i < 100; i++) {
      p.emit('t', 'info'); // never QueueFull
      node.drain();
    }
    expect(node.stats().counters.rejectedQueueFull).toBe(0);
    node.close();
    expect(fifo.persistedHead).toBe(fifo.head);
  });

  test('a confirmation the head does not pass is stored before the fence', () => {
    const { node, device } = bootNode(freshDevice({ ...smallLimits, runtimeSlots: 32 }));
    const seenA: Seen[] = [];
    node.registerRecipient('a', {}, confirming(seenA));
    node.registerRecipient('b', {}, () => {}); // never confirms: holds the head at 0
    const p = node.producer('p');
    node.start();
    p.emit('t', 'info');
    node.drain();
    const fifo = node.fifos[1] as PersistentFifo;
    expect([fifo.head, fifo.persistedHead, seenA.length]).toEqual([0, 0, 1]);
    const image = rebootDurable(device);
    expect(loadConfirmationMask(image, fifo.slotsOffset + fifo.slotBase(0))).toBe(1); // a's bit, durable
    const again = bootNode(image);
    const seenAgainA: Seen[] = [];
    const seenAgainB: Seen[] = [];
    again.node.registerRecipient('a', {}, confirming(seenAgainA));
    again.node.registerRecipient('b', {}, confirming(seenAgainB));
    again.node.start();
    again.node.drainUntilIdle();
    expect([seenAgainA.length, seenAgainB.length]).toEqual([0, 1]);
    node.close();
  });
});

describe('typed errors', () => {
  test('details above detailsBytesMax are EVENT_TOO_LARGE, counted, and nothing is written', () => {
    const { node, device } = bootNode();
    node.start();
    const before = device.instructionCount;
    expect(() => node.producer('p').emit('t', 'info', new Uint8Array(65))).toThrow(
      expect.objectContaining({ code: 'EVENT_TOO_LARGE' }),
    );
    expect(device.instructionCount).toBe(before);
    expect(node.stats().counters.rejectedTooLarge).toBe(1);
    expect(node.producer('p').emit('t', 'info', new Uint8Array(64))).toBeGreaterThan(0);
  });

  test('bad names, severities and options are BAD_ARGUMENT', () => {
    const { node } = bootNode();
    const p = node.producer('p');
    const bad = (f: () => unknown): void => {
      expect(f).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    };
    bad(() => p.emit('disk..failed', 'err'));
    bad(() => p.emit('', 'err'));
    bad(() => p.emit('x'.repeat(65), 'err'));
    bad(() => p.emit('t', 'fatal' as never));
    bad(() => p.emit('t', 8));
    bad(() => p.emit('t', 'err', [1, 2] as never));
    bad(() => node.producer('bad name'));
    bad(() => node.registerRecipient('r', { prefixes: ['a b'] }, () => {}));
    bad(() => node.registerRecipient('r', { severity: 'err' } as never, () => {}));
    bad(() => bootNode(freshDevice(), { schedulng: 'manual' } as never));
    node.registerRecipient('r', {}, () => {});
    bad(() => node.registerRecipient('r', {}, () => {}));
  });

  test('close is idempotent and every method after it throws NODE_CLOSED', () => {
    const { node } = bootNode();
    const p = node.producer('p');
    node.start();
    node.close();
    node.close();
    expect(() => p.emit('t', 'info')).toThrow(NodeError);
    expect(() => p.emit('t', 'info')).toThrow(expect.objectContaining({ code: 'NODE_CLOSED' }));
    expect(() => node.drain()).toThrow(expect.objectContaining({ code: 'NODE_CLOSED' }));
    expect(() => node.producer('q')).toThrow(expect.objectContaining({ code: 'NODE_CLOSED' }));
  });

  test('start twice is NODE_STATE', () => {
    const { node } = bootNode();
    node.start();
    expect(() => node.start()).toThrow(expect.objectContaining({ code: 'NODE_STATE' }));
  });
});

describe('scheduling', () => {
  test('auto scheduling delivers on the event loop and retries on a timer', async () => {
    const { node } = bootNode(freshDevice(), {
      scheduling: 'auto',
      clock: { now: () => Date.now() },
      retry: { timeoutMs: 20 },
    });
    const attempts: number[] = [];
    const done = new Promise<void>((resolve) => {
      node.registerRecipient('r', {}, (event, recipient) => {
        attempts.push(event.attempt);
        if (event.attempt === 2) {
          recipient.confirm(event.seq);
          resolve();
        }
      });
    });
    node.start();
    node.producer('p').emit('t', 'info');
    await done;
    expect(attempts).toEqual([1, 2]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(node.idle()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, confirmationFenceDelayMs + 5));
    expect(node.engine.confirmationsPending()).toBe(false); // no group commit came: fenced alone
    node.close();
  });

  test('emitAsync groups concurrent emits into one fence for the records, then a tail store', async () => {
    const { node, device } = bootNode(freshDevice(), { scheduling: 'auto' });
    const log: Seen[] = [];
    node.registerRecipient('r', {}, confirming(log));
    const p = node.producer('p');
    node.start();
    const before = device.instructionCount;
    const seqs = await Promise.all(Array.from({ length: 10 }, () => p.emitAsync('t', 'info')));
    // 10 x (store + flush) for the records, then 1 fence (which publishes them), then the tail
    // word stored as a hint, and flushed for the next fence since it trails by > tailLagMax
    expect(device.instructionCount - before).toBe(10 * 2 + 1 + 2);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(10);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log.map((e) => e.seq)).toEqual(seqs);
    node.close();
  });
});

describe('recipient ids', () => {
  test('ids up to 55 work: high-word confirmations survive a reboot, unconfirmed ones replay', () => {
    const device = freshDevice({ ...smallLimits, recipientsMax: 56 });
    const first = bootNode(device);
    for (let i = 0; i < 54; i++)
      first.node.registerRecipient(`idle-${i}`, { prefixes: ['none'] }, () => {});
    const confirmer = first.node.registerRecipient('high-a', {}, confirming([]));
    const holder = first.node.registerRecipient('high-b', {}, () => {});
    expect([confirmer.id, holder.id]).toEqual([54, 55]); // the confirmation word's top ids
    first.node.start();
    const seq = first.node.producer('p').emit('t', 'err');
    first.node.drainUntilIdle();

    const second = bootNode(rebootDurable(device));
    const a: Seen[] = [];
    const b: Seen[] = [];
    second.node.registerRecipient('high-a', {}, confirming(a));
    second.node.registerRecipient('high-b', {}, confirming(b));
    second.node.start();
    second.node.drainUntilIdle();
    expect(a).toHaveLength(0); // its confirmation was durable
    expect(b.map((e) => [e.seq, e.replayed])).toEqual([[seq, true]]);
    expect(second.node.idle()).toBe(true);
  });
});

describe('large rings', () => {
  test('a ring above 64 Ki slots makes slot views on first use; emit, replay and retire work', () => {
    const limits = { ...smallLimits, runtimeSlots: 70_000 };
    const device = freshDevice(limits);
    const first = bootNode(device);
    first.node.registerRecipient('r', {}, () => {});
    first.node.start();
    const seqs = [1, 2, 3].map((n) => first.node.producer('p').emit('t', 'err', bytes(n)));
    const second = bootNode(rebootDurable(device));
    const log: Seen[] = [];
    second.node.registerRecipient('r', {}, confirming(log));
    second.node.start();
    second.node.drainUntilIdle();
    expect(log.map((e) => [e.seq, e.details[0]])).toEqual(seqs.map((seq, i) => [seq, i + 1]));
    expect(second.node.idle()).toBe(true);
  });
});
