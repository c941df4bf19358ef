/**
 * The crash tests are not vacuous: deliberately broken variants of the FIFO, the engine and
 * the replay engine (each overriding one small persist or ordering step) must each be caught
 * by the exploration and the SPEC 4 checker, while the correct classes pass the same workload.
 */
import { describe, expect, test } from 'vitest';
import { DistributionEngine } from '../../src/engine/distribution-engine.js';
import { PersistentFifo, SlotVerdict } from '../../src/fifo/fifo.js';
import { ReplayEngine } from '../../src/replay/replay-engine.js';
import type { NodeOptions } from '../../src/node/node.js';
import { exploreWorkload } from './explore.js';
import type { Workload } from './workload.js';

/** Publishes the tail before the record is durable (step 213 reversed). */
class TailFirstFifo extends PersistentFifo {
  override commitAppend(position: number): void {
    this.publishTail(position + 1);
    this.persistRecord(position);
  }
}

/** Tail first, and recovery trusts every published slot (no checksum check). */
class UncheckedTailFirstFifo extends TailFirstFifo {
  protected override checkSlot(): number {
    return SlotVerdict.valid;
  }
}

/** Retires an event once any one intended recipient confirmed (flow point 220 too early). */
class EarlyRetireEngine extends DistributionEngine {
  protected override isCompletelyHandled(i: number): boolean {
    const queue = this.queue;
    const any = ((queue.confirmedLo[i] as number) | (queue.confirmedHi[i] as number)) !== 0;
    return any || queue.handled(i);
  }
}

/** Queues the replay only at start, after the events emitted while booting. */
class ReplayAfterNew extends ReplayEngine {
  protected override replayBeforeNew(): boolean {
    return false;
  }
}

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
    expect(invariantsBroken({ Fifo: TailFirstFifo })).toContain('persist-order');
  });

  test('tail first without a checksum check: garbage is delivered', () => {
    expect(invariantsBroken({ Fifo: UncheckedTailFirstFifo })).toContain('no-garbage');
  });

  test('head advanced before every confirmation: events are lost', () => {
    expect(invariantsBroken({ Engine: EarlyRetireEngine })).toContain('no-loss');
  });

  test('replay after new events: order is broken', () => {
    expect(invariantsBroken({ Replay: ReplayAfterNew }, 0)).toContain('order');
    // after a nested cut the boot FIFO holds both, and the runtime's retire assertion trips
    expect(invariantsBroken({ Replay: ReplayAfterNew }, 1)).toContain('assertion');
  });
});
