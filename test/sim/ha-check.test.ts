/**
 * The end-to-end check of an HA pair run [193] (sim/ha/ha-check.ts), fed hand-made histories:
 * a clean one passes, and each history that breaks one invariant (no-loss, no-garbage,
 * double-delivery, fencing, giveback; a refused boot, a defect) is found under that invariant's
 * name, with the seq it concerns. A second delivery counts as a redelivery only after a fault,
 * a giveback, or from the other node's copy.
 */
import { describe, expect, test } from 'vitest';
import type { LeaseGrant } from '../../sim/ha/coordinator.js';
import { checkHa, type HaMark } from '../../sim/ha/ha-check.js';

const a = '00000000000000a1';
const b = '00000000000000b2';
const key = '0100000000000000';

/** A's own lease (token 1), B's (2), then B's takeover of A's stream (3). */
const grants: LeaseGrant[] = [
  { stream: 'A', holder: 'A', token: 1n },
  { stream: 'B', holder: 'B', token: 2n },
  { stream: 'A', holder: 'B', token: 3n },
];

type Delivery = Extract<HaMark, { kind: 'delivered' }>;

/** A delivers its own seq 1 (disk.failed) to `recipient` under its lease, the latest one. */
function delivery(recipient: string, change: Partial<Delivery> = {}): Delivery {
  return {
    kind: 'delivered',
    by: 'A',
    recipient,
    key,
    type: 'disk.failed',
    node: a,
    seq: 1,
    stream: a,
    takenOver: false,
    token: '1',
    latest: '1',
    ...change,
  };
}

/** B's delivery of A's seq 1 after taking A's stream over (token 3). */
const takenOver = (recipient: string): Delivery =>
  delivery(recipient, { by: 'B', takenOver: true, token: '3', latest: '3' });

/** Both nodes booted; A emitted one disk.failed (for pager and audit), acknowledged as seq 1. */
const emitted: HaMark[] = [
  { kind: 'boot', node: 'A', id: a, epoch: 0 },
  { kind: 'boot', node: 'B', id: b, epoch: 0 },
  { kind: 'attempt', key, node: 'A', id: a, type: 'disk.failed', intended: ['pager', 'audit'] },
  { kind: 'acked', key, seq: 1 },
];

const check = (...marks: HaMark[]) => checkHa([...emitted, ...marks], grants);
const invariants = (...marks: HaMark[]) =>
  check(...marks).findings.map((finding) => finding.invariant);

describe('checkHa', () => {
  test('each recipient gets the acknowledged event once: no finding', () => {
    const verdict = check(delivery('pager'), delivery('audit'));
    expect(verdict).toEqual({ findings: [], redeliveries: 0, deliveries: 2, acked: 1 });
  });

  test('no-loss: an acknowledged emit that never reached one of its recipients', () => {
    const verdict = check(delivery('pager'));
    expect(verdict.findings).toEqual([
      {
        invariant: 'no-loss',
        message: 'A seq 1 (disk.failed) was acknowledged but never reached audit',
        sequences: [1],
      },
    ]);
    // an emit never acknowledged may be lost
    const unacked = checkHa(
      [...emitted.slice(0, 3), { kind: 'unacked', key, code: 'MIRROR_UNAVAILABLE' }],
      grants,
    );
    expect(unacked.findings).toEqual([]);
    expect(unacked.acked).toBe(0);
  });

  test('no-garbage: another type, seq, node or recipient than the emit asked for', () => {
    const complete = [delivery('pager'), delivery('audit')];
    expect(invariants(...complete, delivery('audit', { type: 'fan.slow' }))).toEqual([
      'no-garbage',
    ]);
    expect(invariants(...complete, delivery('audit', { seq: 2 }))).toEqual(['no-garbage']);
    expect(invariants(...complete, delivery('audit', { node: b }))).toEqual(['no-garbage']);
    expect(invariants(...complete, delivery('dashboard'))).toEqual(['no-garbage']);
    const unknown = check(...complete, delivery('audit', { key: 'ff' }));
    expect(unknown.findings).toEqual([
      {
        invariant: 'no-garbage',
        message:
          'audit was delivered a1:1 (disk.failed, details ff) by A, which no emit asked for as such',
        sequences: [1],
      },
    ]);
    // a delivery found wrong is not remembered as one: the recipient still lacks the event
    expect(invariants(delivery('pager'), delivery('audit', { type: 'fan.slow' }))).toEqual([
      'no-garbage',
      'no-loss',
    ]);
  });

  test('double-delivery: the same node delivers one key twice with no fault between', () => {
    const verdict = check(delivery('pager'), delivery('audit'), delivery('audit'));
    expect(verdict.findings).toEqual([
      {
        invariant: 'double-delivery',
        message: 'audit got a1:1 twice (by A) with no fault between',
        sequences: [1],
      },
    ]);
    expect(verdict.redeliveries).toBe(0);
    expect(verdict.deliveries).toBe(3);
  });

  test('a second delivery after a fault, a giveback, or from the other node is a redelivery', () => {
    const cut: HaMark = { kind: 'fault', node: 'A', what: 'cut' };
    const giveback: HaMark = { kind: 'giveback', node: 'B', id: b, seqs: [] };
    for (const between of [cut, giveback]) {
      const verdict = check(delivery('pager'), delivery('audit'), between, delivery('audit'));
      expect(verdict.findings).toEqual([]);
      expect(verdict.redeliveries).toBe(1);
    }
    // the fault must come after the first delivery
    expect(invariants(cut, delivery('pager'), delivery('audit'), delivery('audit'))).toEqual([
      'double-delivery',
    ]);
    // B's copy of a taken-over event, while A delivered its own
    const copies = check(delivery('pager'), delivery('audit'), takenOver('audit'));
    expect(copies.findings).toEqual([]);
    expect(copies.redeliveries).toBe(1);
  });

  test('fencing: its own stream only under its latest grant, a taken-over one under a grant of its own', () => {
    const stale = check(delivery('pager', { latest: '3' }), delivery('audit'));
    expect(stale.findings[0]).toEqual({
      invariant: 'fencing',
      message: 'A delivered a1:1 of stream A under token 1 (the grant of A; latest 3)',
      sequences: [1],
    });
    // a fenced delivery does not count: pager never got the event
    expect(stale.findings.map((finding) => finding.invariant)).toEqual(['fencing', 'no-loss']);
    // no grant at all
    expect(invariants(delivery('pager', { token: null }), delivery('audit'))).toEqual([
      'fencing',
      'no-loss',
    ]);
    // the grant of another holder: B delivering A's own stream under A's token
    expect(invariants(delivery('pager'), delivery('audit', { by: 'B' }))).toEqual([
      'fencing',
      'no-loss',
    ]);
    // a taken-over event under the grant of the partner, not of the deliverer
    expect(
      invariants(delivery('pager'), delivery('audit'), { ...takenOver('audit'), token: '1' }),
    ).toEqual(['fencing']);
    // with the takeover's own grant, even though a later one is the stream's latest
    expect(
      invariants(delivery('pager'), delivery('audit'), { ...takenOver('audit'), latest: '9' }),
    ).toEqual([]);
  });

  test('fencing: a stream of a node that never booted has no grant', () => {
    const verdict = checkHa([...emitted.slice(2), delivery('pager'), delivery('audit')], grants);
    expect(verdict.findings.map((finding) => finding.message)).toEqual([
      `A delivered a1:1 of stream ${a} under token 1 (no grant; latest 1)`,
      `A delivered a1:1 of stream ${a} under token 1 (no grant; latest 1)`,
      'A seq 1 (disk.failed) was acknowledged but never reached pager',
      'A seq 1 (disk.failed) was acknowledged but never reached audit',
    ]);
  });

  test('giveback: a node never delivers again an own event its partner took over', () => {
    const giveback: HaMark = { kind: 'giveback', node: 'A', id: a, seqs: [1] };
    const verdict = check(takenOver('pager'), takenOver('audit'), giveback, delivery('audit'));
    expect(verdict.findings).toEqual([
      {
        invariant: 'giveback',
        message: 'A delivered its seq 1 to audit again after its partner had taken it over',
        sequences: [1],
      },
    ]);
    // another seq than the ones given back, or the partner's copy, is no giveback violation
    expect(
      invariants(
        takenOver('pager'),
        { ...giveback, seqs: [2] },
        delivery('pager'),
        delivery('audit'),
      ),
    ).toEqual([]);
    expect(invariants(giveback, takenOver('pager'), takenOver('audit'))).toEqual([]);
  });

  test('a refused boot is a recovery finding, a defect a defect finding', () => {
    const verdict = check(
      delivery('pager'),
      delivery('audit'),
      { kind: 'refused', node: 'B', code: 'NODE_CORRUPT' },
      { kind: 'defect', node: 'A', message: 'mirror update refused: torn' },
    );
    expect(verdict.findings).toEqual([
      { invariant: 'recovery', message: 'B refused to boot: NODE_CORRUPT' },
      { invariant: 'defect', message: 'A: mirror update refused: torn' },
    ]);
  });

  test('an acknowledgement without an attempt names no recipient to miss', () => {
    const verdict = checkHa([{ kind: 'acked', key: 'ee', seq: 7 }], grants);
    expect(verdict).toEqual({ findings: [], redeliveries: 0, deliveries: 0, acked: 1 });
  });
});
