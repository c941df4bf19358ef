/**
 * A recipient's in-flight window and retry clock [160, 215]: each in-flight event times out on
 * its own deadline and is re-delivered with backoff, an event confirmed out of order is never
 * re-delivered, a window of one never holds two events, a confirmation names exactly the event
 * it confirms, the engine's earliest deadline is the earliest over every recipient with
 * something in flight, and a full dead-letter section is tried again only after timeoutMaxMs.
 */
import { describe, expect, test } from 'vitest';
import { bootNode, freshDevice, smallLimits } from './harness.js';

describe('in-flight windows', () => {
  test('each in-flight event is re-delivered at its own deadline, with backoff, counted', () => {
    const { node, clock } = bootNode(freshDevice(), {
      retry: { timeoutMs: 100, backoffFactor: 2, timeoutMaxMs: 10_000, attemptsMax: 4 },
    });
    const start = clock.time;
    const log: [number, number, number][] = [];
    const r = node.registerRecipient('r', {}, (event) => {
      log.push([event.seq, event.attempt, clock.time - start]);
    });
    node.start();
    const p = node.producer('p');
    const first = p.emit('t', 'err');
    node.drain();
    expect(node.engine.nextDeadline()).toBe(start + 100);
    clock.advance(50);
    const second = p.emit('t', 'err');
    node.drain();
    // the second delivery's later deadline does not push the first one's back
    expect(node.engine.nextDeadline()).toBe(start + 100);
    for (let t = 51; t <= 400; t++) {
      clock.advance(1);
      node.drain();
    }
    expect(log).toEqual([
      [first, 1, 0],
      [second, 1, 50],
      [first, 2, 100],
      [second, 2, 150],
      [first, 3, 300],
      [second, 3, 350],
    ]);
    expect(r.redelivered).toBe(4);
    expect(node.stats().counters.redelivered).toBe(4);
    expect(node.stats().recipients).toEqual([
      {
        id: 0,
        name: 'r',
        registered: true,
        delivered: 2,
        redelivered: 4,
        confirmed: 0,
        inFlight: 2,
        deadLettered: 0,
        confirmsIgnored: 0,
        handlerErrors: 0,
      },
    ]);
    expect(node.engine.nextDeadline()).toBe(start + 700);
  });

  test('an event confirmed out of order is not re-delivered when an older one times out', () => {
    const { node, clock } = bootNode(freshDevice(), {
      retry: { timeoutMs: 10, backoffFactor: 2, timeoutMaxMs: 1_000, attemptsMax: 3 },
    });
    const start = clock.time;
    const log: [number, number][] = [];
    const r = node.registerRecipient('r', {}, (event) => void log.push([event.seq, event.attempt]));
    node.start();
    const p = node.producer('p');
    const first = p.emit('t', 'err');
    const second = p.emit('t', 'err');
    node.drain();
    expect(r.confirm(second)).toBe(true);
    expect(r.inFlight()).toBe(1);
    clock.advance(10);
    node.drain();
    expect(log).toEqual([
      [first, 1],
      [second, 1],
      [first, 2],
    ]);
    expect(node.stats().counters.redelivered).toBe(1);
    // the confirmed event's old deadline, still in the window behind the first, is not waited on
    expect(node.engine.nextDeadline()).toBe(start + 30);
  });

  test('an event confirmed during its re-delivery is not waited on', () => {
    const { node, clock } = bootNode(freshDevice(), {
      retry: { timeoutMs: 10, backoffFactor: 2, timeoutMaxMs: 1_000, attemptsMax: 3 },
    });
    const start = clock.time;
    node.registerRecipient('r', {}, (event, r) => {
      if (event.attempt === 2) r.confirm(event.seq);
    });
    node.start();
    const p = node.producer('p');
    p.emit('t', 'err');
    node.drain();
    clock.advance(10);
    node.drain(); // the second attempt is confirmed by the handler: its deadline (30) is gone
    clock.advance(15);
    p.emit('t', 'err');
    node.drain();
    expect(node.engine.nextDeadline()).toBe(start + 35);
  });

  test('a window of one holds one event: the next waits for a confirmation', () => {
    const { node } = bootNode(freshDevice(), { inFlightMax: 1 });
    const delivered: number[] = [];
    const r = node.registerRecipient('r', {}, (event, recipient) => {
      delivered.push(event.seq);
      if (delivered.length === 1) recipient.confirm(event.seq); // the first only
    });
    node.start();
    const p = node.producer('p');
    const seqs = [p.emit('t', 'err'), p.emit('t', 'err'), p.emit('t', 'err')];
    node.drainUntilIdle();
    expect(delivered).toEqual(seqs.slice(0, 2));
    expect(r.inFlight()).toBe(1);
    expect(r.confirm(seqs[1] as number)).toBe(true);
    node.drainUntilIdle();
    expect(delivered).toEqual(seqs);
  });

  test('a confirmation or refusal names one event: an unknown seq, or seq 0, matches nothing', () => {
    const { node } = bootNode();
    const r = node.registerRecipient('r', {}, () => {});
    const idle = node.registerRecipient('idle', { prefixes: ['none'] }, () => {});
    node.start();
    const p = node.producer('p');
    const first = p.emit('t', 'err');
    const second = p.emit('t', 'err');
    node.drain();
    // nothing was ever delivered to 'idle': its window is empty
    expect(idle.confirm(0)).toBe(false);
    expect(idle.refuse(0, 400)).toBe(false);
    expect(node.engine.othersHandled(idle, 0)).toBeNull();
    expect(r.confirm(second + 100)).toBe(false);
    expect(r.confirm(0)).toBe(false);
    expect(r.inFlight()).toBe(2);
    expect(r.confirm(second)).toBe(true);
    expect(r.confirm(first)).toBe(true);
    expect(node.stats().counters).toMatchObject({ confirmed: 2, confirmsIgnored: 3 });
    expect(idle.confirmsIgnored).toBe(1);
    node.drain();
    expect(node.idle()).toBe(true);
  });

  test("the engine's next deadline is the earliest over recipients with something in flight", () => {
    const { node, clock } = bootNode();
    const start = clock.time;
    const quick = node.registerRecipient('quick', {}, () => {}, {
      retry: { timeoutMs: 100, timeoutMaxMs: 100 },
    });
    node.registerRecipient('slow', {}, () => {}, { retry: { timeoutMs: 500, timeoutMaxMs: 500 } });
    node.start();
    expect(node.engine.nextDeadline()).toBe(Infinity);
    const seq = node.producer('p').emit('t', 'err');
    node.drain();
    expect(node.engine.nextDeadline()).toBe(start + 100);
    expect(quick.confirm(seq)).toBe(true); // nothing left in flight for 'quick'
    expect(node.engine.nextDeadline()).toBe(start + 500);
  });
});

describe('a full dead-letter section', () => {
  test('dead-lettering is tried again once per timeoutMaxMs, the event staying in flight', () => {
    const { node, clock } = bootNode(freshDevice({ ...smallLimits, deadLetterSlots: 1 }), {
      retry: { timeoutMs: 10, timeoutMaxMs: 50, attemptsMax: 1 },
    });
    const r = node.registerRecipient('r', {}, () => {});
    node.start();
    const p = node.producer('p');
    const first = p.emit('t', 'err');
    const second = p.emit('t', 'err');
    node.drain();
    const full: number[] = [];
    for (let t = 1; t <= 60; t++) {
      clock.advance(1);
      node.drain();
      full.push(node.stats().counters.deadLetterFull);
    }
    // at 10 ms: the first is dead-lettered, the second finds the section full; again at 60 ms
    expect(full.slice(0, 9)).toEqual(new Array(9).fill(0));
    expect(full.slice(9, 59)).toEqual(new Array(50).fill(1));
    expect(full[59]).toBe(2);
    expect(node.deadLetterList().map((letter) => letter.seq)).toEqual([first]);
    expect(r.inFlight()).toBe(1);
    expect(r.confirm(second)).toBe(true);
    expect(node.stats().counters).toMatchObject({ deadLettered: 1, deadLetterFull: 2 });
  });
});
