/**
 * The end-to-end check of a cluster run (sim/cluster/cluster-check.ts) on fixed histories:
 * each invariant's finding, and what is not judged.
 */
import { describe, expect, test } from 'vitest';
import { checkCluster, type ClusterMark } from '../../../sim/cluster/cluster-check.js';
import { clusterNodes, nodeIdOf } from '../../../sim/cluster/topology.js';

const origin = nodeIdOf(clusterNodes[0] as (typeof clusterNodes)[number]);

const attempt: ClusterMark = {
  kind: 'attempt',
  key: 'k1',
  type: 'disk.full',
  level: 2,
  intended: ['audit'],
};
const acked: ClusterMark = { kind: 'acked', key: 'k1', seq: 7 };

function delivered(overrides: Partial<Extract<ClusterMark, { kind: 'delivered' }>>): ClusterMark {
  return {
    kind: 'delivered',
    leaf: 'audit',
    seq: 3,
    source: 'raid',
    type: 'disk.full',
    level: 2,
    details: 'k1',
    origin: [{ node: origin, seq: 7 }],
    ...overrides,
  };
}

describe('checkCluster', () => {
  test('an acknowledged event delivered as emitted to its leaf is no finding', () => {
    expect(checkCluster([attempt, acked, delivered({})], 0)).toEqual([]);
  });

  test('a refused boot is a recovery finding, a defect a defect finding', () => {
    const marks: ClusterMark[] = [
      { kind: 'refused', node: 'mux-1', code: 'NODE_FORMAT' },
      { kind: 'defect', node: 'mux-2', message: 'TypeError: x is undefined' },
    ];
    expect(checkCluster(marks, 0)).toEqual([
      { invariant: 'recovery', message: 'mux-1 refused to boot: NODE_FORMAT' },
      { invariant: 'defect', message: 'mux-2: TypeError: x is undefined' },
    ]);
  });

  test("a node's own reports are not judged", () => {
    const report = delivered({ type: 'nvrelay.record.torn', details: 'none', source: 'mux-1' });
    expect(checkCluster([report], 0)).toEqual([]);
  });

  test.each([
    ['no emit asked for it', { details: 'k9' }],
    ['another source', { source: 'other' }],
    ['another type', { type: 'disk.ok' }],
    ['another severity', { level: 5 }],
    ['a trail that does not start at the origin', { origin: [{ node: 'ff', seq: 7 }] }],
    ['a trail without hops', { origin: [] }],
    ['another origin seq than acknowledged', { origin: [{ node: origin, seq: 8 }] }],
    ['a leaf it was not meant for', { leaf: 'pager' }],
  ])('a delivery with %s is garbage', (_, overrides) => {
    const findings = checkCluster([attempt, acked, delivered(overrides)], 0);
    expect(findings.map((f) => f.invariant)).toContain('no-garbage');
    expect(findings.find((f) => f.invariant === 'no-garbage')?.sequences).toEqual([3]);
  });

  test('the same event delivered to a leaf under two seqs was recorded twice', () => {
    const findings = checkCluster([attempt, acked, delivered({}), delivered({ seq: 4 })], 0);
    expect(findings).toEqual([
      {
        invariant: 'recorded-once',
        message: 'audit got origin seq 7 as two events: seq 3 via a1:7, then seq 4 via a1:7',
        sequences: [7],
      },
    ]);
  });

  test('an acknowledged event that never reached a leaf is lost', () => {
    expect(checkCluster([attempt, acked], 0)).toEqual([
      {
        invariant: 'no-loss',
        message: 'origin seq 7 (disk.full) was acknowledged but never reached audit',
        sequences: [7],
      },
    ]);
  });

  test('an acknowledgement without its attempt is meant for no leaf', () => {
    expect(checkCluster([acked], 0)).toEqual([]);
  });

  test('events still held once quiescent are a finding only when nothing else was found', () => {
    expect(checkCluster([attempt, acked, delivered({})], 2)).toEqual([
      {
        invariant: 'released',
        message: '2 events still held by a mux once the cluster was quiescent',
      },
    ]);
    expect(checkCluster([attempt, acked], 2).map((f) => f.invariant)).toEqual(['no-loss']);
  });
});
