/**
 * Giveback, persist order G [193] (src/ha/giveback.ts): the partner's handover is applied to a
 * returning node's own FIFOs before it boots. Each FIFO's head moves to the mirror's head, never
 * past this node's tail (a mirror never holds a position this node did not make durable first);
 * a record handed back by position is marked handled [216] only if it is still this node's
 * record at that position (same seq) and intact; the boot then delivers only what is left.
 */
import { describe, expect, test } from 'vitest';
import { giveBack } from '../../src/ha/giveback.js';
import type { Handover } from '../../src/ha/mirror-update.js';
import type { PersistentFifo } from '../../src/fifo/fifo.js';
import { nodeFifos, readNodeGeometry } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import { ManualClock, rebootDurable } from '../engine/harness.js';
import { nodeA, pairDevice } from './pair.js';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const runtime = 1; // the node's FIFO order: boot, runtime

function boot(device: ReturnType<typeof pairDevice>): Node {
  return Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
}

/** A node whose recipient 'audit' takes the disk events (seqs seen) and confirms if told to. */
function withAudit(node: Node, confirms: boolean): number[] {
  const seen: number[] = [];
  node.registerRecipient('audit', { prefixes: ['disk.'] }, (event, recipient) => {
    seen.push(event.seq);
    if (confirms) recipient.confirm(event.seq);
  });
  return seen;
}

/** Node A cut with `count` undelivered events in its runtime FIFO: their positions and seqs. */
function cutWithPending(count: number) {
  const device = pairDevice(nodeA);
  const a = boot(device);
  withAudit(a, false);
  a.start();
  const first = (a.fifos[runtime] as Node['fifos'][number]).tail;
  const seqs: number[] = [];
  for (let k = 0; k < count; k++)
    seqs.push(a.producer('ctl').emit('disk.failed', 'err', enc(`d${k}`)));
  a.commit();
  const image = rebootDurable(device);
  return { image, first, seqs, positions: seqs.map((_, k) => first + k) };
}

/** The returning node's boot: what its recipient is delivered, and its runtime FIFO's range. */
function bootBack(image: ReturnType<typeof pairDevice>) {
  const back = boot(image);
  const seen = withAudit(back, true);
  const fifo = back.fifos[runtime] as Node['fifos'][number];
  const range = { head: fifo.head, tail: fifo.tail };
  back.start();
  back.drainUntilIdle();
  return { seen, range };
}

describe('giveback (persist order G)', () => {
  test('moves the head to the mirror head and marks each record handed back by position and seq', () => {
    const { image, seqs, positions } = cutWithPending(5);
    const [p0, p1, p2, p3, p4] = positions as [number, number, number, number, number];
    const handover: Handover = {
      heads: [0, p1], // the boot FIFO's head stays where it is
      taken: [
        { fifo: runtime, position: p0, seq: seqs[0] as number }, // before the head: counted once
        { fifo: runtime, position: p2, seq: seqs[2] as number }, // this node's record: handled
        { fifo: runtime, position: p3, seq: (seqs[3] as number) + 100 }, // another record there
        { fifo: runtime, position: p4 + 1, seq: (seqs[4] as number) + 1 }, // past this tail
        { fifo: 0, position: p2, seq: seqs[2] as number }, // the boot FIFO holds no such record
      ],
    };
    expect(giveBack(image, handover).retired).toEqual([0, 2]); // p0 by the head, p2 by its seq
    const { seen, range } = bootBack(image);
    expect(range).toEqual({ head: p1, tail: p4 + 1 });
    expect(seen).toEqual([seqs[1], seqs[3], seqs[4]]);
  });

  test('never moves a head past its own tail, and a handover without a FIFO keeps its head', () => {
    const { image, seqs, positions } = cutWithPending(3);
    const tail = (positions.at(-1) as number) + 1;
    // a mirror head far past anything this node made durable; no head for the runtime FIFO
    expect(giveBack(image, { heads: [tail + 50], taken: [] }).retired).toEqual([0, 0]);
    let back = bootBack(rebootDurable(image));
    expect(back.seen).toEqual(seqs); // nothing retired: all delivered

    const again = cutWithPending(3);
    const end = (again.positions.at(-1) as number) + 1;
    expect(giveBack(again.image, { heads: [0, end + 50], taken: [] }).retired).toEqual([0, 3]);
    back = bootBack(again.image);
    expect(back.range).toEqual({ head: end, tail: end });
    expect(back.seen).toEqual([]);
  });

  test('leaves a record it cannot read to recovery instead of marking it', () => {
    const { image, seqs, positions } = cutWithPending(3);
    const p1 = positions[1] as number;
    // damage the record at p1 (a byte of its details, inside its CRC), durably
    const fifo = nodeFifos(image, readNodeGeometry(image))[runtime] as PersistentFifo;
    const at = fifo.slotsOffset + fifo.slotBase(p1) + 70;
    const byte = new Uint8Array(1);
    image.loadBytes(at, byte);
    image.storeBytes(at, new Uint8Array([(byte[0] as number) ^ 0xff]));
    image.persist(at, 1);
    const handover: Handover = {
      heads: [0, positions[0] as number],
      taken: [{ fifo: runtime, position: p1, seq: seqs[1] as number }],
    };
    expect(giveBack(image, handover).retired).toEqual([0, 0]); // p1 not marked
    const { seen, range } = bootBack(image);
    expect(range.head).toBe(positions[0]);
    expect(seen).toEqual([seqs[0], seqs[2]]); // the damaged one is recovery's: never delivered
  });
});
