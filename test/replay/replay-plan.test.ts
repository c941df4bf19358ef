/**
 * The replay plan (src/replay/replay-engine.ts): what a boot finds published in the boot and
 * runtime FIFOs, merged into one seq order, its items as inspect and the daemon read them
 * (seq, verdict, handled), the highest seq it saw, and when the replay is admitted.
 */
import { describe, expect, test } from 'vitest';
import { seqMax } from '../../src/constants.js';
import { SlotVerdict } from '../../src/fifo/fifo.js';
import { fifoOffsets, slotBytesFor } from '../../src/fifo/layout.js';
import type { Node } from '../../src/node/node.js';
import {
  ReplayEngine,
  type ReplayContext,
  type ReplayPlan,
} from '../../src/replay/replay-engine.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { bootNode, bytes, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';

const bootFifo = 0;
const runtimeFifo = 1;
const slotBytes = slotBytesFor(smallLimits.detailsBytesMax ?? 0);

/** User events a recipient receives, in order (the node's own `nvrelay.*` reports left out). */
function listen(node: Node, name: string, confirm: boolean): number[] {
  const seen: number[] = [];
  node.registerRecipient(name, {}, (event, recipient) => {
    if (event.source === 'nvrelay') {
      recipient.confirm(event.seq);
      return;
    }
    seen.push(event.seq);
    if (confirm) recipient.confirm(event.seq);
  });
  return seen;
}

/**
 * Three boots, nobody confirming: boot 1 emits two events before start() (boot FIFO) and two
 * after (runtime FIFO); boot 2 replays them and emits one more before start() (boot FIFO,
 * after the two still there) and one after. The boot FIFO then holds seqs 1, 2, 5 and the
 * runtime FIFO 3, 4, 6: only a merge by seq replays them in order.
 */
function interleaved(lastAfterStart = 1): { device: TracedNvram; seqs: number[] } {
  const seqs: number[] = [];
  let device = freshDevice();
  for (let boot = 0; boot < 2; boot++) {
    const { node } = bootNode(device);
    listen(node, 'r', false);
    const p = node.producer('p');
    const before = boot === 0 ? 2 : 1;
    for (let k = 0; k < before; k++) seqs.push(p.emit('a.x', 'err', bytes(seqs.length)));
    node.start();
    node.drainUntilIdle();
    const after = boot === 0 ? 2 : lastAfterStart;
    for (let k = 0; k < after; k++) seqs.push(p.emit('a.x', 'err', bytes(seqs.length)));
    node.drainUntilIdle();
    node.close();
    device = rebootDurable(device);
  }
  return { device, seqs };
}

describe('the replay plan', () => {
  test('two non-empty FIFOs are merged into seq order', () => {
    const { device, seqs } = interleaved();
    const { node } = bootNode(device);
    const plan = node.replay.plan;
    expect(plan?.published).toBe(seqs.length);
    const items = plan?.items ?? [];
    expect(items.map((item) => item.seq)).toEqual([...seqs].sort((a, b) => a - b));
    // which FIFO each came from: the merge interleaves them
    const fifoOf = items.map((item) => item.fifoIndex);
    expect(new Set(fifoOf)).toEqual(new Set([bootFifo, runtimeFifo]));
    expect(fifoOf).not.toEqual([...fifoOf].sort());
    expect(Array.from(plan?.fifoIndexes ?? [])).toEqual(fifoOf);
    expect(Array.from(plan?.positions ?? [])).toEqual(items.map((item) => item.position));
    expect(node.replay.seqHighest()).toBe(Math.max(...seqs));
    const seen = listen(node, 'r', true);
    node.start();
    node.drainUntilIdle();
    expect(seen).toEqual([...seqs].sort((a, b) => a - b));
  });

  test('the merge also holds when the boot FIFO has the newest event', () => {
    const { device, seqs } = interleaved(0); // boot FIFO 1, 2, 5; runtime FIFO 3, 4
    const { node } = bootNode(device);
    const items = node.replay.plan?.items ?? [];
    expect(items.map((item) => item.seq)).toEqual([...seqs].sort((a, b) => a - b));
    expect(items.map((item) => item.fifoIndex)).toEqual([0, 0, 1, 1, 0]);
  });

  test('replayed events come before new ones, whichever FIFO holds them', () => {
    const { device, seqs } = interleaved();
    const { node } = bootNode(device);
    const seen = listen(node, 'r', true);
    const p = node.producer('p');
    const early = p.emit('a.x', 'err'); // before start(): boot FIFO, after the replay
    node.start();
    const late = p.emit('a.x', 'err');
    node.drainUntilIdle();
    expect(seen).toEqual([...[...seqs].sort((a, b) => a - b), early, late]);
  });

  test('one non-empty FIFO is replayed from its head, in its order', () => {
    const { node: first, device } = bootNode(freshDevice());
    const held = listen(first, 'r', false);
    first.start();
    const p = first.producer('p');
    const seqs = [1, 2, 3, 4].map((k) => p.emit('a.x', 'err', bytes(k)));
    first.drainUntilIdle();
    expect(held).toEqual(seqs);
    const { node } = bootNode(rebootDurable(device));
    const plan = node.replay.plan;
    expect(plan?.published).toBe(4);
    expect(Array.from(plan?.fifoIndexes ?? [])).toEqual([1, 1, 1, 1]);
    expect(Array.from(plan?.positions ?? [])).toEqual([0, 1, 2, 3]);
    expect(plan?.items.map((item) => item.seq)).toEqual(seqs);
    expect(plan?.recoveries.map((r) => r.tail - r.head)).toEqual([0, 4]);
    expect(node.replay.seqHighest()).toBe(4);
  });

  test('an item is handled once every intended recipient confirmed it', () => {
    const { node: first, device } = bootNode(freshDevice());
    const a: number[] = [];
    const recipientA = first.registerRecipient('a', {}, (event) => a.push(event.seq));
    first.registerRecipient('b', {}, (event, b) => b.confirm(event.seq));
    first.start();
    const p = first.producer('p');
    const seqs = [1, 2, 3].map((k) => p.emit('a.x', 'err', bytes(k)));
    first.drainUntilIdle();
    // a confirms the second only: the head stays at the first, the second is handled
    recipientA.confirm(seqs[1] as number);
    first.drainUntilIdle();
    first.close();
    const { node } = bootNode(rebootDurable(device));
    const items = node.replay.plan?.items ?? [];
    expect(items.map((item) => [item.seq, item.verdict, item.handled])).toEqual([
      [seqs[0], SlotVerdict.valid, false],
      [seqs[1], SlotVerdict.valid, true],
      [seqs[2], SlotVerdict.valid, false],
    ]);
    // the items are computed once and kept
    expect(node.replay.plan?.items).toBe(items);
    expect(Object.keys(node.replay.plan ?? {})).toContain('items');
  });

  test('a recipient id of 32 or more: its confirmations are in the masks\u2019 high half', () => {
    const limits = { ...smallLimits, recipientsMax: 40 };
    const { node: first, device } = bootNode(freshDevice(limits));
    for (let id = 0; id < 32; id++)
      first.registerRecipient(`low${id}`, {}, (event, r) => r.confirm(event.seq));
    const high: number[] = [];
    const recipientHigh = first.registerRecipient('high', {}, (event) => high.push(event.seq));
    expect(recipientHigh.id).toBe(32);
    first.start();
    const p = first.producer('p');
    const seqs = [1, 2, 3].map((k) => p.emit('a.x', 'err', bytes(k)));
    first.drainUntilIdle();
    expect(high).toEqual(seqs);
    recipientHigh.confirm(seqs[1] as number); // the high recipient confirms the second only
    first.drainUntilIdle();
    first.close();
    const { node } = bootNode(rebootDurable(device));
    const items = node.replay.plan?.items ?? [];
    expect(items.map((item) => [item.seq, item.handled])).toEqual([
      [seqs[0], false],
      [seqs[1], true],
      [seqs[2], false],
    ]);
  });

  test('a damaged record is an item with its verdict, no seq, and not handled', () => {
    const { node: first, device } = bootNode(freshDevice());
    listen(first, 'r', false);
    first.start();
    const p = first.producer('p');
    const seqs = [1, 2, 3].map((k) => p.emit('a.x', 'err', bytes(k)));
    first.drainUntilIdle();
    first.close();
    const image = rebootDurable(device);
    const fifo = image.section('runtime-fifo');
    image.flipBits(fifo.offset + fifoOffsets.slots + slotBytes + 65, 1, 1, 7); // record 1
    const { node } = bootNode(image);
    const items = node.replay.plan?.items ?? [];
    expect(items.map((item) => [item.position, item.seq, item.handled])).toEqual([
      [0, seqs[0], false],
      [1, 0, false],
      [2, seqs[2], false],
    ]);
    expect(items[1]?.verdict).not.toBe(SlotVerdict.valid);
    // the damaged record does not lower the highest seq seen, nor hide the ones after it
    expect(node.replay.seqHighest()).toBe(seqs[2]);
  });

  test('nothing published: an empty plan, highest seq 0, no recovery events', () => {
    const { node } = bootNode(freshDevice());
    expect(node.replay.plan?.published).toBe(0);
    expect(node.replay.plan?.items).toEqual([]);
    expect(node.replay.seqHighest()).toBe(0);
    expect(node.replay.recoveryEvents()).toEqual([]);
  });

  test('the replay is admitted once, at start(): a second admit adds nothing', () => {
    const { device, seqs } = interleaved();
    const { node } = bootNode(device);
    expect(node.replay.admit('boot')).toBe(0); // the boot admitted it already
    const seen = listen(node, 'r', true);
    node.start();
    expect(node.replay.admit('started')).toBe(0); // start() admitted it already
    expect(node.replay.admit('boot')).toBe(0);
    node.drainUntilIdle();
    expect(seen).toEqual([...seqs].sort((a, b) => a - b)); // each once
  });

  test('an engine that replays after new events admits at start, not at boot', () => {
    const pushed: number[] = [];
    const queue = {
      pushUnexamined: (_f: unknown, _p: unknown, count: number) => pushed.push(count),
    };
    class ReplayAfterNew extends ReplayEngine {
      protected override replayBeforeNew(): boolean {
        return false;
      }
    }
    const engine = new ReplayAfterNew({ queue } as unknown as ReplayContext);
    engine.plan = {
      recoveries: [],
      fifoIndexes: new Uint8Array(3),
      positions: new Float64Array(3),
      published: 3,
    } as unknown as ReplayPlan;
    expect(engine.admit('boot')).toBe(0);
    expect(pushed).toEqual([]);
    expect(engine.admit('started')).toBe(3);
    expect(engine.admit('started')).toBe(0);
    expect(pushed).toEqual([3]);
  });

  test('before recover() there is no plan: nothing admitted, highest seq 0, no events', () => {
    const engine = new ReplayEngine({} as ReplayContext);
    expect(engine.plan).toBeNull();
    expect(engine.admit('boot')).toBe(0);
    expect(engine.admit('started')).toBe(0);
    expect(engine.seqHighest()).toBe(0);
    expect(engine.recoveryEvents()).toEqual([]);
  });
});

describe('the highest seq a boot saw', () => {
  /** Four events pending in the runtime FIFO, the first retired (the head at position 1). */
  function pending(): { device: TracedNvram; seqs: number[]; slot: (position: number) => number } {
    const { node, device } = bootNode(freshDevice());
    const r = node.registerRecipient('r', {}, () => {});
    node.start();
    const p = node.producer('p');
    const seqs = [1, 2, 3, 4].map((k) => p.emit('a.x', 'err', bytes(k)));
    node.drainUntilIdle();
    r.confirm(seqs[0] as number);
    node.drainUntilIdle();
    node.close();
    const image = rebootDurable(device);
    const fifo = image.section('runtime-fifo');
    return {
      device: image,
      seqs,
      slot: (position) => fifo.offset + fifoOffsets.slots + position * slotBytes,
    };
  }

  function seqHighest(device: TracedNvram): number {
    return bootNode(device).node.replay.seqHighest();
  }

  test('is the highest seq among the records from the head on', () => {
    const { device, seqs } = pending();
    const { node } = bootNode(device);
    expect(node.replay.plan?.recoveries[1]?.head).toBe(1);
    expect(node.replay.seqHighest()).toBe(Math.max(...seqs));
  });

  test('counts a plausible seq in a damaged record, up to seqMax, so none is issued twice', () => {
    const { device, slot } = pending();
    device.storeU64(slot(2) + 24, seqMax); // record 2 now fails its CRC
    device.persist(slot(2) + 24, 8);
    expect(seqHighest(device)).toBe(seqMax);
  });

  test('ignores a seq no record can hold, and a lower one after a higher', () => {
    for (const garbage of [seqMax + 1, 2 ** 53 + 2]) {
      const { device, seqs, slot } = pending();
      device.storeBytes(slot(2) + 24, new Uint8Array(new Float64Array([0]).buffer)); // clear
      const view = new DataView(new ArrayBuffer(8));
      view.setUint32(0, garbage % 2 ** 32, true);
      view.setUint32(4, Math.floor(garbage / 2 ** 32), true);
      device.storeBytes(slot(2) + 24, new Uint8Array(view.buffer));
      device.persist(slot(2) + 24, 8);
      expect(seqHighest(device), String(garbage)).toBe(Math.max(...seqs));
    }
    const { device, seqs, slot } = pending();
    device.storeU64(slot(3) + 24, 1); // the last record claims seq 1
    device.persist(slot(3) + 24, 8);
    expect(seqHighest(device)).toBe(seqs[2]);
  });
});
