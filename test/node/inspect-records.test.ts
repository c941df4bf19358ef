/**
 * inspectNode record by record: between the FIFO head and tail it lists every published record
 * with its verdict, whether every intended recipient has confirmed it (handled), and counts as
 * pending, and as owed to a recipient, only the valid records not handled; the oldest pending
 * time is that of the first such record, past a damaged one and a handled one. A recipient's
 * oldest owed seq is the smallest across both FIFOs (the boot FIFO is listed first, yet its
 * records may be newer). A dead letter of a retired recipient names no recipient (its id is
 * another's now), and a seq lease word that fails its check shows as null.
 */
import { describe, expect, test } from 'vitest';
import { inspectNode } from '../../src/node/inspect.js';
import { leaseOffset, nodeFifos } from '../../src/node/layout.js';
import { bootNode, rebootDurable } from '../engine/harness.js';

const held = (seq: number, time: number, type: string) =>
  expect.objectContaining({ seq, time, type, source: 'raid' }) as unknown;

describe('inspectNode records', () => {
  test('a damaged, a handled and unhandled records between head and tail', () => {
    const { node, device, clock } = bootNode();
    node.registerRecipient('keep', {}, (event, recipient) => {
      if (event.type !== 'hold') recipient.confirm(event.seq);
    });
    node.start();
    const p = node.producer('raid');
    const seqs: number[] = [];
    for (const type of ['x', 'hold', 'x', 'hold', 'hold']) {
      clock.advance(7);
      seqs.push(p.emit(type, 'info'));
    }
    node.drainUntilIdle(); // the head passes the first (confirmed), stops at the first 'hold'
    const image = rebootDurable(device);
    const geometry = inspectNode(image).geometry;
    const runtime = nodeFifos(image, geometry)[1]!;
    image.flipBits(runtime.slotsOffset + runtime.slotBase(1) + 40, 1, 1, 1);

    const view = inspectNode(image);
    expect(view.fifos[0]).toEqual({
      name: 'boot-fifo',
      slotCount: 8,
      head: 0,
      tail: 0,
      published: 0,
      pending: 0,
      salvaged: false,
      oldestPendingTime: null,
      records: [],
    });
    expect(view.fifos[1]).toEqual({
      name: 'runtime-fifo',
      slotCount: 16,
      head: 1,
      tail: 5,
      published: 4,
      pending: 2,
      salvaged: false,
      oldestPendingTime: 1_000_028,
      records: [
        { position: 1, verdict: 'bad-checksum', handled: false, record: null },
        { position: 2, verdict: 'valid', handled: true, record: held(seqs[2]!, 1_000_021, 'x') },
        {
          position: 3,
          verdict: 'valid',
          handled: false,
          record: held(seqs[3]!, 1_000_028, 'hold'),
        },
        {
          position: 4,
          verdict: 'valid',
          handled: false,
          record: held(seqs[4]!, 1_000_035, 'hold'),
        },
      ],
    });
    expect(view.recipients[0]).toEqual({
      id: 0,
      name: 'keep',
      state: 'named',
      owed: 2,
      oldestOwedSeq: seqs[3],
    });
    expect(view.seqLease).toBe(65537);
  });

  test('the oldest owed seq is the smallest over both FIFOs', () => {
    const first = bootNode();
    first.node.registerRecipient('slow', {}, () => {});
    first.node.start();
    const older = first.node.producer('raid').emit('disk.failed', 'err');
    const second = bootNode(rebootDurable(first.device));
    second.node.registerRecipient('slow', {}, () => {});
    const newer = second.node.producer('raid').emit('disk.ok', 'info'); // booting: the boot FIFO
    const view = inspectNode(rebootDurable(second.device));
    expect(view.fifos.map((fifo) => fifo.records.map((entry) => entry.record?.seq))).toEqual([
      [newer],
      [older],
    ]);
    expect(newer).toBeGreaterThan(older);
    expect(view.recipients[0]).toEqual({
      id: 0,
      name: 'slow',
      state: 'named',
      owed: 2,
      oldestOwedSeq: older,
    });
  });

  test("a retired recipient's dead letter names no one; a damaged lease word is null", () => {
    const first = bootNode();
    first.node.registerRecipient('gone', {}, () => {});
    first.node.start();
    const seq = first.node.producer('raid').emit('disk.failed', 'err');
    const { node, device } = bootNode(rebootDurable(first.device));
    node.start();
    expect(node.retireRecipient('gone')).toEqual({ deadLettered: 1 });
    node.registerRecipient('next', {}, () => {}); // takes the freed id 0
    const image = rebootDurable(device);
    const view = inspectNode(image);
    expect(view.recipients[0]?.name).toBe('next');
    expect(
      view.deadLetters.map((letter) => [letter.seq, letter.recipientId, letter.recipient]),
    ).toEqual([[seq, 0, null]]);
    expect(view.seqLease).toBeGreaterThan(seq);
    image.flipBits(image.section('control').offset + leaseOffset, 8, 3, 5);
    expect(inspectNode(image).seqLease).toBeNull();
  });
});
