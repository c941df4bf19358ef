/**
 * The SPEC section 4 checker (sim/checker/spec4.ts) on small hand-made histories, each breaking
 * one rule: an emit's outcome without its attempt and a silent drop (4.7), a wrong count of
 * rejected emits (4.7), garbage deliveries (4.2), two identities for one event (4.5), losses
 * (4.1) and what makes a confirmation durable (4.3). Each case asserts the exact findings, so a
 * rule that stops firing (or fires on the correct variant) fails here.
 */
import { describe, expect, test } from 'vitest';
import { checkHistory, HistoryChecker, type Observation } from '../../sim/checker/spec4.js';

const key = 'raid/01';
const fields = { source: 'raid', type: 'disk.failed', severity: 3 };
const event = { ...fields, key };

const start = (epoch: number): Observation[] => [
  { kind: 'boot', epoch },
  { kind: 'started', epoch },
];

const attempt = (epoch: number, intended = ['sink'], eventKey = key): Observation => ({
  kind: 'attempt',
  epoch,
  ...fields,
  key: eventKey,
  intended,
});

const delivered = (epoch: number, seq: number, more: Partial<Observation> = {}): Observation =>
  ({
    kind: 'delivered',
    epoch,
    recipient: 'sink',
    seq,
    replayed: false,
    ...event,
    ...more,
  }) as Observation;

/** Confirmed and made durable by a drain of the same boot. */
const confirmedDurably = (epoch: number, seq: number): Observation[] => [
  { kind: 'confirming', epoch, recipient: 'sink', seq },
  { kind: 'confirmed', epoch, recipient: 'sink', seq },
  { kind: 'durable', epoch },
];

const quiescent = (epoch: number, rejected = 0): Observation[] => [
  { kind: 'counters', epoch, rejected },
  { kind: 'quiescent', epoch, idle: true, pending: 0 },
];

/** One event emitted, delivered and confirmed in boot 0: the correct history. */
const correct: Observation[] = [
  ...start(0),
  attempt(0),
  { kind: 'emitted', epoch: 0, key, seq: 1 },
  delivered(0, 1),
  ...confirmedDurably(0, 1),
  ...quiescent(0),
];

function findings(history: Observation[]): string[] {
  return checkHistory(history).findings.map((f) => `${f.invariant}: ${f.message}`);
}

describe('the SPEC 4 checker on hand-made histories', () => {
  test('the correct history has no finding', () => {
    expect(findings(correct)).toEqual([]);
    expect(checkHistory(correct).emitted).toBe(1);
  });

  test('4.7: an outcome for an emit never attempted, an attempt with no outcome', () => {
    const orphan: Observation[] = [
      ...start(0),
      { kind: 'rejected', epoch: 0, key: 'raid/99', code: 'QUEUE_FULL' },
      ...quiescent(0),
    ];
    expect(findings(orphan)).toEqual(['no-silent-drop: outcome for unknown emit raid/99']);
    // not cut: the last attempt of the boot had to return or be rejected
    const dropped: Observation[] = [...start(0), attempt(0, []), ...quiescent(0)];
    expect(findings(dropped)).toEqual([
      'no-silent-drop: emit raid/01 neither returned nor was rejected',
    ]);
    // cut during that boot: the emit in flight may be cut short
    const cut: Observation[] = [
      ...start(0),
      attempt(0, []),
      { kind: 'cut', epoch: 0 },
      ...start(1),
      ...quiescent(1),
    ];
    expect(findings(cut)).toEqual([]);
  });

  test('4.7: the node counts rejected emits it did not reject (or misses some)', () => {
    const rejected: Observation[] = [
      ...start(0),
      attempt(0, []),
      { kind: 'rejected', epoch: 0, key, code: 'QUEUE_FULL' },
    ];
    expect(findings([...rejected, ...quiescent(0, 1)])).toEqual([]);
    expect(findings([...rejected, ...quiescent(0, 0)])).toEqual([
      'no-silent-drop: boot 0: 1 emits rejected, the node counted 0',
    ]);
    expect(findings([...start(0), ...quiescent(0, 2)])).toEqual([
      'no-silent-drop: boot 0: 0 emits rejected, the node counted 2',
    ]);
  });

  test('4.5: two emits with one content key', () => {
    const history: Observation[] = [
      ...start(0),
      attempt(0, []),
      { kind: 'emitted', epoch: 0, key },
      attempt(0, []),
      { kind: 'emitted', epoch: 0, key },
      ...quiescent(0),
    ];
    expect(findings(history)).toEqual(['unique-identity: two emits share the content key raid/01']);
  });

  test('4.5: an emit returns another seq than the one its event was delivered as', () => {
    const early = (seq: number): Observation[] => [
      ...start(0),
      attempt(0),
      delivered(0, 1), // delivered before the emit returned (confirmed: no loss either way)
      { kind: 'emitted', epoch: 0, key, seq },
      ...confirmedDurably(0, 1),
      ...quiescent(0),
    ];
    expect(findings(early(1))).toEqual([]);
    const report = checkHistory(early(2));
    expect(report.findings).toEqual([
      {
        invariant: 'unique-identity',
        message: 'event raid/01 delivered as seq 1 and as 2',
        sequences: [1, 2],
      },
    ]);
  });

  test('4.2: a delivery whose fields differ from its emit, or for a recipient not intended', () => {
    const differs = correct.map((o) =>
      o.kind === 'delivered' ? { ...o, severity: 5 } : o,
    ) as Observation[];
    expect(findings(differs)).toEqual([
      'no-garbage: sink got seq 1 with fields that differ from its emit',
    ]);
    const other = correct.map((o) =>
      o.kind === 'attempt' ? { ...o, intended: ['audit'] } : o,
    ) as Observation[];
    expect(findings(other)).toEqual([
      'no-garbage: sink got seq 1, not intended for it',
      'no-loss: raid/01 (seq 1) never reached audit',
    ]);
  });

  test('4.2: an event of the node itself with a type outside its namespace', () => {
    const system: Observation[] = [
      ...start(0),
      delivered(0, 1, { source: 'nvrelay', type: 'disk.failed', key: 'nvrelay/x' }),
      ...confirmedDurably(0, 1),
      ...quiescent(0),
    ];
    const report = checkHistory(system, { mediaFaults: true });
    expect(report.systemEvents).toBe(1);
    expect(report.findings.map((f) => `${f.invariant}: ${f.message}`)).toEqual([
      'no-garbage: system source with type disk.failed',
    ]);
  });

  test('4.1: an emit that returned without its seq and never reached its recipient', () => {
    const history: Observation[] = [
      ...start(0),
      attempt(0),
      { kind: 'emitted', epoch: 0, key },
      ...quiescent(0),
    ];
    const report = checkHistory(history);
    expect(report.emitted).toBe(1);
    expect(report.findings).toEqual([
      { invariant: 'no-loss', message: 'raid/01 (seq ?) never reached sink', sequences: [] },
    ]);
  });

  test('4.1: a dead letter re-delivered but never confirmed is still owed', () => {
    const history: Observation[] = [
      ...start(0),
      attempt(0),
      { kind: 'emitted', epoch: 0, key, seq: 1 },
      delivered(0, 1),
      { kind: 'durable', epoch: 0 },
      { kind: 'dead-lettered', epoch: 0, recipient: 'sink', seq: 1 },
      delivered(0, 2, { originalSeq: 1 }),
      { kind: 'durable', epoch: 0 },
      ...quiescent(0),
    ];
    expect(findings(history)).toEqual([
      'no-loss: raid/01 (seq 1) dead-lettered, never confirmed by sink',
    ]);
  });

  test('a re-delivery of an event no producer emitted is garbage, not a dead-letter finding', () => {
    const history: Observation[] = [
      ...start(0),
      delivered(0, 2, { originalSeq: 1, key: 'raid/77' }),
      ...confirmedDurably(0, 2),
      ...quiescent(0),
    ];
    expect(findings(history)).toEqual([
      'no-garbage: sink got seq 2 (raid/77) that no producer emitted',
    ]);
  });

  test('4.3: a drain makes durable only the confirmations of its own boot', () => {
    // confirmed in boot 0 and no drain there; a drain of boot 1 (no boot mark in between)
    const later = (drainEpoch: number): Observation[] => [
      ...start(0),
      attempt(0),
      { kind: 'emitted', epoch: 0, key, seq: 1 },
      delivered(0, 1),
      { kind: 'confirmed', epoch: 0, recipient: 'sink', seq: 1 },
      { kind: 'durable', epoch: drainEpoch },
      { kind: 'cut', epoch: 1 },
      ...start(2),
      delivered(2, 1, { replayed: true }),
      ...quiescent(2),
    ];
    expect(findings(later(0))).toEqual([
      'no-zombies: sink got seq 1 in boot 2; its confirmation was durable in boot 0',
    ]);
    expect(findings(later(1))).toEqual([]);
  });

  test('4.3: a dead-lettering does not move the boot a confirmation became durable in', () => {
    const history: Observation[] = [
      ...start(0),
      attempt(0),
      { kind: 'emitted', epoch: 0, key, seq: 1 },
      delivered(0, 1),
      ...confirmedDurably(0, 1),
      { kind: 'cut', epoch: 0 },
      ...start(1),
      { kind: 'dead-lettered', epoch: 1, recipient: 'sink', seq: 1 },
      delivered(1, 1, { replayed: true }),
      delivered(1, 2, { originalSeq: 1 }),
      ...confirmedDurably(1, 2),
      ...quiescent(1),
    ];
    // durable since boot 0, so the delivery in boot 1 is a zombie (boot 1 would hide it)
    expect(findings(history)).toEqual([
      'no-zombies: sink got seq 1 in boot 1; its confirmation was durable in boot 0',
    ]);
  });

  test('trials do not nest', () => {
    const checker = new HistoryChecker();
    checker.observeAll(correct);
    expect(() => checker.trial((outer) => outer.trial((inner) => inner.finish()))).toThrow(
      'HistoryChecker.trial does not nest',
    );
    // the outer trial was undone: the checker judges as before
    expect(checker.finish().findings).toEqual([]);
  });
});
