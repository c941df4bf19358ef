/**
 * The crash tests are not vacuous: deliberately broken variants of the FIFO, the engine and
 * the replay engine (sim/mutants, each overriding one small persist or ordering step) must each
 * be caught by this independent exploration (it re-runs the workload for every cut, where the
 * crash lab applies one recorded trace) and the SPEC 4 checker, while the correct classes pass
 * the same workload.
 */
import { describe, expect, test } from 'vitest';
import type { NodeOptions } from '../../src/node/node.js';
import {
  DroppedConfirmationsFifo,
  EarlyHeadEngine,
  NoChecksumFifo,
  ReplayAfterNewEngine,
  TailBeforeRecordFifo,
} from '../../sim/mutants/event-mutants.js';
import { exploreWorkload } from './explore.js';
import type { Workload } from './workload.js';

const workload: Workload = {
  recipients: [
    { name: 'r0', prefixes: [''], severityMax: 7, confirms: 'sync' },
    { name: 'r1', prefixes: [''], severityMax: 7, confirms: 'held' },
  ],
  bootOps: [],
  ops: [
    {
      kind: 'emit',
      producer: 0,
      type: 'disk.failed',
      severity: 3,
      detailsBytes: 6,
      grouped: false,
    },
    { kind: 'emit', producer: 1, type: 'net.down', severity: 2, detailsBytes: 9, grouped: false },
    { kind: 'drain' },
    { kind: 'confirm', recipient: 1, pick: 0 },
    { kind: 'emit', producer: 0, type: 'app.note', severity: 6, detailsBytes: 4, grouped: false },
    { kind: 'drain' },
  ],
};

function invariantsBroken(nodeOptions: NodeOptions, nestedPerCut = 1): string[] {
  const exploration = exploreWorkload(workload, { seed: 7, nestedPerCut, nodeOptions });
  return [...new Set(exploration.violations.map((v) => v.invariant))].sort();
}

describe('mutants', () => {
  test('the correct classes pass the mutants workload', () => {
    expect(invariantsBroken({})).toEqual([]);
  });

  test('tail persisted before the record: a torn record gets published', () => {
    expect(invariantsBroken({ Fifo: TailBeforeRecordFifo })).toContain('persist-order');
  });

  test('tail first without a checksum check: garbage is delivered', () => {
    expect(invariantsBroken({ Fifo: NoChecksumFifo })).toContain('no-garbage');
  });

  test('head advanced before every confirmation: events are lost', () => {
    expect(invariantsBroken({ Engine: EarlyHeadEngine })).toContain('no-loss');
  });

  test('confirmations the head does not pass never stored: a durable confirmation is undone', () => {
    // r0 confirms at once, r1 holds: the head cannot pass, so r0's word must be stored
    expect(invariantsBroken({ Fifo: DroppedConfirmationsFifo })).toContain('no-zombies');
  });

  test('replay after new events: order is broken', () => {
    expect(invariantsBroken({ Replay: ReplayAfterNewEngine }, 0)).toContain('order');
    // after a nested cut the boot FIFO holds both, and the runtime's retire assertion trips
    expect(invariantsBroken({ Replay: ReplayAfterNewEngine }, 1)).toContain('assertion');
  });
});
