/**
 * One cluster run (sim/cluster/cluster-run.ts) where something other than an explored cut goes
 * wrong: a node that does not boot is refused with its code and tried again, its upstream
 * rejects emits once its queue is full (SPEC 4.7); a device that loses power outside the cut
 * list reboots like a cut one; and a defect of the mux (an error that is no power cut) is
 * marked, or ends the run, never taken for a cut.
 */
import { describe, expect, test } from 'vitest';
import { Multiplexer, type MultiplexerOptions } from '../../../src/mux/multiplexer.js';
import type { Holding } from '../../../src/mux/origin-index.js';
import { UpstreamLink, type RelayedEvent, type RelayMode } from '../../../src/mux/upstream-link.js';
import { nodeLayout } from '../../../src/node/layout.js';
import type { Node } from '../../../src/node/node.js';
import { TracedNvram } from '../../../src/nvram/traced.js';
import { checkCluster, type ClusterMark } from '../../../sim/cluster/cluster-check.js';
import { ClusterRun, type ClusterRunOptions } from '../../../sim/cluster/cluster-run.js';
import { clusterLimits } from '../../../sim/cluster/topology.js';

const options: ClusterRunOptions = { seed: 1, events: 12, model: 'px86', imagesPerCut: 2 };

function marksOf<K extends ClusterMark['kind']>(
  marks: readonly ClusterMark[],
  kind: K,
): Extract<ClusterMark, { kind: K }>[] {
  return marks.filter((m): m is Extract<ClusterMark, { kind: K }> => m.kind === kind);
}

/** A multiplexer whose links are `Link`. */
function muxWith(
  Link: new (mux: Multiplexer, name: string, mode: RelayMode) => UpstreamLink,
): typeof Multiplexer {
  return class extends Multiplexer {
    protected override createLink(name: string, mode: RelayMode): UpstreamLink {
      return new Link(this, name, mode);
    }
  };
}

/** Node `index` of the run gets a device with its layout but no node formatted on it. */
function unformatted(run: ClusterRun, index: number): void {
  const sim = run.nodes[index] as ClusterRun['nodes'][number];
  sim.device.close();
  const layout = nodeLayout({ ...clusterLimits, detailsBytesMax: sim.spec.detailsBytesMax });
  const blank = TracedNvram.format(layout.sizeBytes, layout.sections, {
    deviceId: sim.spec.deviceId,
  });
  const image = blank.buildDurableImage();
  blank.close();
  sim.device = TracedNvram.fromImage(image, { boot: false });
}

describe('a cluster run beyond the explored cuts', () => {
  test('a mux that does not boot is refused with its code at every try; nothing passes it', async () => {
    const run = new ClusterRun(options);
    unformatted(run, 1);
    const result = await run.run();
    const refused = marksOf(result.marks, 'refused');
    expect(refused.length).toBeGreaterThan(1); // tried again at each step of the quiescence
    expect(new Set(refused.map((m) => `${m.node} ${m.code}`))).toEqual(
      new Set(['mux-1 NODE_UNFORMATTED']),
    );
    expect(marksOf(result.marks, 'delivered')).toEqual([]);
    expect(marksOf(result.marks, 'dropped')).toEqual([]); // a link never up is not dropped
    expect(checkCluster(result.marks, result.leftHeld).map((f) => f.invariant)).toContain(
      'recovery',
    );
  });

  test('a device closed under its node is refused with the device error', async () => {
    const run = new ClusterRun(options);
    (run.nodes[2] as ClusterRun['nodes'][number]).device.close();
    const result = await run.run();
    const refused = marksOf(result.marks, 'refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((m) => m.node === 'mux-2' && m.code === 'NVRAM_CLOSED')).toBe(true);
  });

  test('the origin rejects emits with QUEUE_FULL once its mux never takes them', async () => {
    const run = new ClusterRun({ ...options, events: 60 });
    unformatted(run, 1);
    const result = await run.run();
    const rejected = marksOf(result.marks, 'rejected');
    const acked = marksOf(result.marks, 'acked');
    expect(rejected.length).toBeGreaterThan(0);
    expect(new Set(rejected.map((m) => m.code))).toEqual(new Set(['QUEUE_FULL']));
    // every attempt is acknowledged or rejected: none is dropped in silence
    expect(acked.length + rejected.length).toBe(marksOf(result.marks, 'attempt').length);
  });

  test('a device that loses power outside the cut list reboots as a cut one does', async () => {
    const clean = await new ClusterRun(options).run();
    const total = clean.instructions[2]?.[0] as number;
    const run = new ClusterRun(options);
    const at = Math.floor(total / 2);
    (run.nodes[2] as ClusterRun['nodes'][number]).device.setPowerCut(at);
    const result = await run.run();
    expect(result.fired).toEqual([]); // no cut of the list fired
    expect(marksOf(result.marks, 'cut')).toEqual([{ kind: 'cut', node: 'mux-2', epoch: 0 }]);
    expect(result.instructions[2]?.[0]).toBe(at);
    expect(result.instructions[2]).toHaveLength(2); // a second incarnation ran
    expect(checkCluster(result.marks, result.leftHeld)).toEqual([]);
  });
});

describe('a defect of the mux is not a power cut', () => {
  test('a refusal without a code is marked with the error itself', async () => {
    class Refusing extends UpstreamLink {
      override receive(event: RelayedEvent): void {
        this.mux.onRefused(this, event.seq, new Error('no room here'));
      }
    }
    const result = await new ClusterRun({ ...options, Multiplexer: muxWith(Refusing) }).run();
    const notRecorded = marksOf(result.marks, 'not-recorded');
    expect(notRecorded.length).toBeGreaterThan(0);
    expect(new Set(notRecorded.map((m) => m.code))).toEqual(new Set(['Error: no room here']));
    expect(marksOf(result.marks, 'delivered')).toEqual([]);
  });

  test('an error in a confirmation chain is a defect of its node', async () => {
    class Throwing extends UpstreamLink {
      protected override released(holding: Holding): void {
        super.released(holding);
        throw new Error(`released ${holding.seq}`);
      }
    }
    const result = await new ClusterRun({ ...options, Multiplexer: muxWith(Throwing) }).run();
    const defects = marksOf(result.marks, 'defect');
    expect(defects.length).toBeGreaterThan(0);
    expect(defects.every((d) => /^Error: released \d+$/.test(d.message))).toBe(true);
    expect(new Set(defects.map((d) => d.node))).toEqual(new Set(['mux-1', 'mux-2']));
    expect(checkCluster(result.marks, result.leftHeld).map((f) => f.invariant)).toContain('defect');
  });

  test('an error reported after its device lost power is the cut, not a defect', async () => {
    const run = new ClusterRun(options);
    await run.run();
    const sim = run.nodes[1] as ClusterRun['nodes'][number];
    const mux = sim.mux as Multiplexer;
    const before = marksOf(run.marks, 'defect').length;
    mux.onError(new Error('while up'));
    expect(marksOf(run.marks, 'defect')).toHaveLength(before + 1);
    sim.device.setPowerCut(sim.device.instructionCount);
    expect(() => (sim.node as Node).producer('raid').emit('disk.failed', 3)).toThrow();
    expect(sim.device.poweredOff).toBe(true);
    mux.onError(new Error('after the cut'));
    expect(marksOf(run.marks, 'defect')).toHaveLength(before + 1);
  });

  test('a mux that throws while booting, connecting or settling ends the run', async () => {
    class FailsBoot extends Multiplexer {
      constructor(node: Node, muxOptions: MultiplexerOptions) {
        super(node, muxOptions);
        throw new Error('mux construction');
      }
    }
    await expect(new ClusterRun({ ...options, Multiplexer: FailsBoot }).run()).rejects.toThrow(
      'mux construction',
    );
    class FailsConnect extends UpstreamLink {
      override connected(): void {
        throw new Error('link connection');
      }
    }
    await expect(
      new ClusterRun({ ...options, Multiplexer: muxWith(FailsConnect) }).run(),
    ).rejects.toThrow('link connection');
    class FailsSettle extends Multiplexer {
      override settle(): void {
        throw new Error('mux settle');
      }
    }
    // no script steps: the first drain is the quiescence's
    await expect(
      new ClusterRun({ ...options, events: 0, Multiplexer: FailsSettle }).run(),
    ).rejects.toThrow('mux settle');
  });
});
