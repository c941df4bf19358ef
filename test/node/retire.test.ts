/**
 * Retiring a recipient that never comes back (Node.retireRecipient and the grace period
 * absentRecipientGraceMs): the event it still owes pinned the FIFO head for good, so a 16-slot
 * ring refused every emit after 15 and nothing was dead-lettered. Retirement dead-letters what
 * it owes (reason recipient-retired), settles it, and only then frees its id; a power cut at
 * any instruction of it loses nothing.
 */
import { describe, expect, test } from 'vitest';
import type { NodeError } from '../../src/events/errors.js';
import { inspectNode } from '../../src/node/inspect.js';
import { Node, type NodeOptions } from '../../src/node/node.js';
import { PowerCutError, TracedNvram } from '../../src/nvram/index.js';
import {
  ManualClock,
  bootNode,
  freshDevice,
  rebootDurable,
  smallLimits,
  type TestNode,
} from '../engine/harness.js';

/**
 * A device where 'gone' (id 0) owes `owed` events that 'stay' (id 1) confirmed; 'gone' never
 * registers again. Returns the durable image and the owed seqs.
 */
function owingDevice(owed: number, limits = smallLimits): { device: TracedNvram; seqs: number[] } {
  const { node, device } = bootNode(freshDevice(limits));
  node.registerRecipient('gone', {}, () => {});
  node.registerRecipient('stay', {}, (event, r) => r.confirm(event.seq));
  node.start();
  const p = node.producer('raid');
  const seqs: number[] = [];
  for (let k = 0; k < owed; k++) seqs.push(p.emit('disk.failed', 'err'));
  node.drainUntilIdle();
  node.close();
  return { device: rebootDurable(device), seqs };
}

/** Boots `device` with 'stay' registered again (and not 'gone'), started. */
function bootWithoutGone(device: TracedNvram, options: NodeOptions = {}, clock?: ManualClock) {
  const booted: TestNode = bootNode(device, options, clock);
  booted.node.registerRecipient('stay', {}, (event, r) => r.confirm(event.seq));
  booted.node.start();
  return booted;
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    return (error as NodeError).code;
  }
  return undefined;
}

describe('retireRecipient', () => {
  test('the 16-slot repro: emits refused after 15 until the absent recipient is retired', () => {
    const { device, seqs } = owingDevice(1);
    const { node } = bootWithoutGone(device);
    node.drainUntilIdle();
    const p = node.producer('raid');
    let accepted = 0;
    for (let k = 0; k < 20; k++) {
      try {
        p.emit('disk.failed', 'err');
        accepted++;
        node.drain();
      } catch (error) {
        expect((error as NodeError).code).toBe('QUEUE_FULL');
      }
    }
    expect(accepted).toBe(15); // the owed event pins the head of the 16-slot ring
    expect(node.deadLetterList()).toEqual([]);

    expect(node.retireRecipient('gone')).toEqual({ deadLettered: 1 });
    const letters = node.deadLetterList();
    expect(letters.map((l) => [l.seq, l.reason, l.recipientId])).toEqual([
      [seqs[0], 'recipient-retired', 0],
    ]);
    expect(node.recipientTable.find('gone')).toBe(-1);
    for (let k = 0; k < 10; k++) {
      p.emit('disk.failed', 'err'); // accepted again: the head moved
      node.drain();
    }

    // a fresh recipient takes the freed id and never receives the retired event
    const received: number[] = [];
    const fresh = node.registerRecipient('fresh', {}, (event, r) => {
      received.push(event.seq);
      r.confirm(event.seq);
    });
    expect(fresh.id).toBe(0);
    const later = p.emit('disk.failed', 'err');
    node.drainUntilIdle();
    expect(received).toEqual([later]);
    node.close();

    // nor after a reboot
    const { node: again } = bootNode(rebootDurable(device));
    const replayed: number[] = [];
    again.registerRecipient('fresh', {}, (event, r) => {
      replayed.push(event.seq);
      r.confirm(event.seq);
    });
    again.start();
    again.drainUntilIdle();
    expect(replayed).not.toContain(seqs[0]);
    expect(again.deadLetterList().map((l) => [l.seq, l.reason])).toEqual([
      [seqs[0], 'recipient-retired'],
    ]);
    again.close();
  });

  test('dead-letters recovered entries not yet examined, and raises nvrelay.recipient.retired', () => {
    const limits = { ...smallLimits, detailsBytesMax: 128 };
    const { device, seqs } = owingDevice(3, limits);
    const { node } = bootNode(device);
    const seen: unknown[] = [];
    node.registerRecipient('ops', { prefixes: ['nvrelay.recipient.'] }, (event, r) => {
      seen.push([event.type, event.severity, event.detailsJson()]);
      r.confirm(event.seq);
    });
    node.start(); // 'stay' is absent too: nothing was drained, every entry is unexamined
    expect(node.retireRecipient('gone', { reason: 'decommissioned' })).toEqual({
      deadLettered: 3,
    });
    expect(node.deadLetterList().map((l) => l.seq)).toEqual(seqs);
    node.drainUntilIdle();
    expect(seen).toEqual([
      [
        'nvrelay.recipient.retired',
        'warning',
        { name: 'gone', deadLettered: 3, reason: 'decommissioned' },
      ],
    ]);
    node.close();
  });

  test('a registered name is NODE_STATE, an unknown one RECIPIENT_UNKNOWN, before start NODE_STATE', () => {
    const { device } = owingDevice(1);
    const { node } = bootNode(device);
    node.registerRecipient('stay', {}, () => {});
    expect(codeOf(() => node.retireRecipient('gone'))).toBe('NODE_STATE'); // booting
    node.start();
    expect(codeOf(() => node.retireRecipient('stay'))).toBe('NODE_STATE');
    expect(() => node.retireRecipient('stay')).toThrow(/registered/);
    expect(codeOf(() => node.retireRecipient('nobody'))).toBe('RECIPIENT_UNKNOWN');
    expect(node.phase).toBe('running'); // refusals, not failures
    expect(node.retireRecipient('gone').deadLettered).toBe(1);
    expect(codeOf(() => node.retireRecipient('gone'))).toBe('RECIPIENT_UNKNOWN'); // freed
    node.close();
  });

  test('malformed options or a name that is not a string are BAD_ARGUMENT, nothing retired', () => {
    const { device } = owingDevice(1);
    const { node } = bootWithoutGone(device);
    const refusals: [() => unknown, RegExp][] = [
      [() => node.retireRecipient('gone', null as never), /options must be an object/],
      [() => node.retireRecipient('gone', 'soon' as never), /options must be an object/],
      [
        () => node.retireRecipient('gone', { why: 'x' } as never),
        /unknown retireRecipient option 'why'/,
      ],
      [() => node.retireRecipient('gone', { reason: '' }), /reason must be a non-empty string/],
      [
        () => node.retireRecipient('gone', { reason: 7 } as never),
        /reason must be a non-empty string/,
      ],
      [() => node.retireRecipient(7 as never), /recipient name must be a string, got number/],
    ];
    for (const [call, message] of refusals) {
      expect(codeOf(call)).toBe('BAD_ARGUMENT');
      expect(call).toThrow(message);
    }
    expect(node.phase).toBe('running');
    expect(node.deadLetterList()).toEqual([]);
    expect(node.recipientTable.find('gone')).toBe(0);
    node.close();
  });

  test('a full dead-letter section stops it: what fitted stays, the id stays named', () => {
    const { device, seqs } = owingDevice(6); // 4 dead-letter slots
    const { node } = bootWithoutGone(device);
    let error: NodeError | undefined;
    try {
      node.retireRecipient('gone');
    } catch (caught) {
      error = caught as NodeError;
    }
    expect(error?.code).toBe('DEAD_LETTER_FULL');
    expect(error?.message).toMatch(/4 event\(s\) .* dead-lettered, 2 left owed/);
    expect(node.phase).toBe('running');
    expect(node.deadLetterList().map((l) => l.seq)).toEqual(seqs.slice(0, 4));
    expect(node.recipientTable.find('gone')).toBe(0);
    node.close();
    const view = inspectNode(rebootDurable(device));
    expect(view.recipients[0]).toMatchObject({ name: 'gone', owed: 2, oldestOwedSeq: seqs[4] });
  });

  test('a power cut at every instruction: each owed event is still owed or a dead letter', () => {
    const { device: prepared, seqs } = owingDevice(2);
    const base = prepared.buildDurableImage();
    const run = (cut: number): { start: number; end: number; device: TracedNvram } => {
      const device = TracedNvram.fromImage(base);
      if (cut >= 0) device.setPowerCut(cut);
      const { node } = bootWithoutGone(device);
      const start = device.instructionCount;
      try {
        node.retireRecipient('gone');
      } catch (error) {
        if (!(error instanceof PowerCutError)) throw error;
      }
      return { start, end: device.instructionCount, device };
    };
    const whole = run(-1);
    expect(whole.end).toBeGreaterThan(whole.start);
    let states = 0;
    const outcomes = new Set<string>();
    for (let cut = whole.start; cut < whole.end; cut++) {
      const { device } = run(cut);
      expect(device.poweredOff).toBe(true);
      const count = device.imageCount('px86');
      const indexes = new Set([0, count - 1, ...[1, 2, 3].map((k) => Math.floor((count * k) / 4))]);
      for (const index of indexes) {
        const image = TracedNvram.fromImage(
          device.buildImage(device.survivorsByIndex('px86', index)),
        );
        const view = inspectNode(image);
        const gone = view.recipients.find((r) => r.name === 'gone');
        const owed = new Set(
          view.fifos.flatMap((fifo) =>
            fifo.records.flatMap(({ record }) =>
              gone !== undefined &&
              record !== null &&
              (record.intendedMask & 1n) === 1n &&
              (record.confirmedMask & 1n) === 0n
                ? [record.seq]
                : [],
            ),
          ),
        );
        const deadLettered = new Set(
          view.deadLetters.filter((l) => l.recipientId === 0).map((l) => l.seq),
        );
        for (const seq of seqs) {
          expect(
            owed.has(seq) || deadLettered.has(seq),
            `cut ${cut} image ${index} seq ${seq}`,
          ).toBe(true);
        }
        if (gone === undefined) expect(view.recipients[0]?.owed).toBe(0); // a freed id owes nothing
        outcomes.add(
          `${gone === undefined ? 'freed' : 'named'} owed ${owed.size} dead ${deadLettered.size}`,
        );
        // the next boot finishes the job: retire again (nothing is dead-lettered twice)
        const { node } = bootWithoutGone(image);
        if (gone !== undefined) node.retireRecipient('gone');
        expect(node.deadLetterList().map((l) => l.seq)).toEqual(seqs);
        node.close();
        states++;
      }
    }
    expect(states).toBeGreaterThan(10);
    // the cuts reach every stage: nothing yet, copies only, settled but named, freed
    expect(outcomes).toContain('named owed 2 dead 0');
    expect(outcomes).toContain('named owed 2 dead 2');
    expect(outcomes).toContain('named owed 0 dead 2');
    expect(outcomes).toContain('freed owed 0 dead 2');
  });
});

describe('absentRecipientGraceMs', () => {
  test('manual scheduling: a recipient absent past the grace period is retired on a drain', () => {
    const limits = { ...smallLimits, detailsBytesMax: 128 };
    const { device, seqs } = owingDevice(1, limits);
    const clock = new ManualClock();
    const { node } = bootNode(device, { absentRecipientGraceMs: 1_000 }, clock);
    const seen: unknown[] = [];
    node.registerRecipient('ops', { prefixes: ['nvrelay.recipient.'] }, (event, r) => {
      seen.push(event.detailsJson());
      r.confirm(event.seq);
    });
    node.start();
    clock.advance(500);
    node.registerRecipient('stay', {}, (event, r) => r.confirm(event.seq)); // in time
    node.drainUntilIdle();
    clock.advance(499);
    node.drainUntilIdle();
    expect(node.deadLetterList()).toEqual([]);
    expect(node.recipientTable.find('gone')).toBe(0);
    clock.advance(1);
    node.drainUntilIdle();
    expect(node.deadLetterList().map((l) => [l.seq, l.reason])).toEqual([
      [seqs[0], 'recipient-retired'],
    ]);
    expect(node.recipientTable.find('gone')).toBe(-1);
    expect(node.recipientTable.find('stay')).toBe(1); // registered in time: kept
    expect(seen).toEqual([{ name: 'gone', deadLettered: 1, reason: 'absent past grace period' }]);
    expect(node.idle()).toBe(true);
    node.close();
  });

  test('a full dead-letter section blocks the retirement at the deadline: raised, and tried again a grace period later', () => {
    const limits = { ...smallLimits, detailsBytesMax: 128 };
    const { device, seqs } = owingDevice(6, limits); // 4 dead-letter slots
    const clock = new ManualClock();
    const { node } = bootNode(device, { absentRecipientGraceMs: 1_000 }, clock);
    const seen: { type: string; details: unknown }[] = [];
    node.registerRecipient('ops', { prefixes: ['nvrelay.recipient.'] }, (event, r) => {
      seen.push({ type: event.type, details: event.detailsJson() });
      r.confirm(event.seq);
    });
    node.registerRecipient('stay', {}, (event, r) => r.confirm(event.seq));
    node.start();
    clock.advance(1_000);
    node.drainUntilIdle();
    expect(node.deadLetterList().map((l) => l.seq)).toEqual(seqs.slice(0, 4));
    expect(node.recipientTable.find('gone')).toBe(0); // still named: it owes two more
    expect(seen.map((event) => event.type)).toEqual(['nvrelay.recipient.retire-blocked']);
    // tried again a grace period later, not before (the section is still full)
    clock.advance(999);
    node.drainUntilIdle();
    expect(seen).toHaveLength(1);
    clock.advance(1);
    node.drainUntilIdle();
    expect(seen.map((event) => event.type)).toEqual([
      'nvrelay.recipient.retire-blocked',
      'nvrelay.recipient.retire-blocked',
    ]);
    expect(seen[0]?.details).toMatchObject({ name: 'gone' });
    expect(node.recipientTable.find('gone')).toBe(0);
    node.close();
  });

  test('retired letters are not delivered again by redeliverDeadLetters; retiring from a handler is NODE_STATE', () => {
    const { device, seqs } = owingDevice(2);
    const { node } = bootWithoutGone(device);
    expect(node.retireRecipient('gone').deadLettered).toBe(2);
    expect(node.redeliverDeadLetters()).toBe(0); // their id may be another's by now
    expect(node.deadLetterList().map((l) => [l.seq, l.reason])).toEqual(
      seqs.map((seq) => [seq, 'recipient-retired']),
    );
    let inside: string | undefined;
    node.registerRecipient('later', {}, (event, r) => {
      inside ??= codeOf(() => node.retireRecipient('stay'));
      r.confirm(event.seq);
    });
    node.producer('raid').emit('disk.failed', 'err');
    node.drainUntilIdle();
    expect(inside).toBe('NODE_STATE');
    node.close();
  });

  test('auto scheduling: the retry timer machinery fires at the deadline', async () => {
    const { device, seqs } = owingDevice(1);
    const node = Node.boot(device, { absentRecipientGraceMs: 30 }); // auto, the system clock
    node.registerRecipient('stay', {}, (event, r) => r.confirm(event.seq));
    node.start();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(node.recipientTable.find('gone')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(node.recipientTable.find('gone')).toBe(-1);
    expect(node.deadLetterList().map((l) => l.seq)).toEqual(seqs);
    node.close();
  });

  test('off by default, and validated', () => {
    const { device } = owingDevice(1);
    const clock = new ManualClock();
    const { node } = bootWithoutGone(device, {}, clock);
    clock.advance(1e9);
    node.drainUntilIdle();
    expect(node.recipientTable.find('gone')).toBe(0);
    node.close();
    const valid = Node.boot(freshDevice(), { absentRecipientGraceMs: 60_000 });
    expect(valid.phase).toBe('booting');
    valid.close();
    for (const bad of [-1, Number.NaN, Infinity, '5']) {
      expect(
        codeOf(() => Node.boot(freshDevice(), { absentRecipientGraceMs: bad as number })),
      ).toBe('BAD_ARGUMENT');
    }
  });
});
