import { describe, expect, test } from 'vitest';
import { checkHistory, type Observation } from '../../sim/checker/spec4.js';

const key = 'raid/01';
const event = { source: 'raid', type: 'disk.failed', severity: 3, key };

/** One event for `sink`, delivered twice without a confirmation, then dead-lettered. */
function deadLettered(): Observation[] {
  return [
    { kind: 'boot', epoch: 0 },
    { kind: 'started', epoch: 0 },
    {
      kind: 'attempt',
      epoch: 0,
      key,
      source: 'raid',
      type: 'disk.failed',
      severity: 3,
      intended: ['sink'],
    },
    { kind: 'emitted', epoch: 0, key, seq: 1 },
    { kind: 'delivered', epoch: 0, recipient: 'sink', seq: 1, replayed: false, ...event },
    { kind: 'durable', epoch: 0 },
    { kind: 'delivered', epoch: 0, recipient: 'sink', seq: 1, replayed: false, ...event },
    { kind: 'durable', epoch: 0 },
    { kind: 'dead-lettered', epoch: 0, recipient: 'sink', seq: 1 },
  ];
}

function redelivery(
  epoch: number,
  seq: number,
  originalSeq: number,
  replayed = false,
): Observation[] {
  return [
    { kind: 'delivered', epoch, recipient: 'sink', seq, replayed, originalSeq, ...event },
    { kind: 'confirming', epoch, recipient: 'sink', seq },
    { kind: 'confirmed', epoch, recipient: 'sink', seq },
    { kind: 'durable', epoch },
  ];
}

const quiescent = (epoch: number): Observation[] => [
  { kind: 'counters', epoch, rejected: 0 },
  { kind: 'quiescent', epoch, idle: true, pending: 0 },
];

function invariants(history: Observation[]): string[] {
  return checkHistory(history).findings.map(
    (finding) => `${finding.invariant}: ${finding.message}`,
  );
}

describe('the dead-letter contract of the SPEC 4 checker', () => {
  test('dead-lettered, re-delivered with originalSeq and confirmed: nothing broken', () => {
    expect(invariants([...deadLettered(), ...redelivery(0, 2, 1), ...quiescent(0)])).toEqual([]);
  });

  test('a re-delivery replayed after a reboot, before the new events: nothing broken', () => {
    const history = [
      ...deadLettered(),
      { kind: 'cut', epoch: 0 } as Observation,
      { kind: 'boot', epoch: 1 } as Observation,
      { kind: 'started', epoch: 1 } as Observation,
      ...redelivery(1, 2, 1, true),
      ...quiescent(1),
    ];
    expect(invariants(history)).toEqual([]);
  });

  test('a dead letter never re-delivered is lost, though the node is idle', () => {
    expect(invariants([...deadLettered(), ...quiescent(0)])).toEqual([
      'no-loss: raid/01 (seq 1) dead-lettered, never re-delivered to sink',
    ]);
  });

  test('a confirmation of the original does not settle a dead letter', () => {
    const history: Observation[] = [
      ...deadLettered(),
      { kind: 'confirming', epoch: 0, recipient: 'sink', seq: 1 },
      ...quiescent(0),
    ];
    expect(invariants(history)).toEqual([
      'no-loss: raid/01 (seq 1) dead-lettered, never re-delivered to sink',
    ]);
  });

  test('a re-delivery naming the wrong original, or its own seq', () => {
    expect(invariants([...deadLettered(), ...redelivery(0, 2, 7), ...quiescent(0)])).toContain(
      'dead-letter: sink got a re-delivery of raid/01 naming seq 7; the event is seq 1',
    );
    expect(invariants([...deadLettered(), ...redelivery(0, 1, 1), ...quiescent(0)])).toContain(
      "dead-letter: sink got a re-delivery with its original's seq",
    );
  });

  test('the original delivered again after a reboot: its dead-lettering was durable', () => {
    const history: Observation[] = [
      ...deadLettered(),
      { kind: 'cut', epoch: 0 },
      { kind: 'boot', epoch: 1 },
      { kind: 'started', epoch: 1 },
      { kind: 'delivered', epoch: 1, recipient: 'sink', seq: 1, replayed: true, ...event },
      ...redelivery(1, 2, 1),
      ...quiescent(1),
    ];
    expect(invariants(history)).toEqual([
      'no-zombies: sink got seq 1 in boot 1; its confirmation was durable in boot 0',
    ]);
  });

  test('dead-lettered for a recipient it was never delivered to', () => {
    const history: Observation[] = [
      ...deadLettered(),
      { kind: 'dead-lettered', epoch: 0, recipient: 'audit', seq: 1 },
      ...redelivery(0, 2, 1),
      ...quiescent(0),
    ];
    expect(invariants(history)).toContain(
      'dead-letter: seq 1 was dead-lettered for audit, which was never delivered it',
    );
  });
});
