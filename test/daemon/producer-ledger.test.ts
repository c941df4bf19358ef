/**
 * src/daemon/producer-ledger.ts on its own: one holder per producer name, counters resumed or
 * started above the highest seen, promises of seqs settled or forgotten, and a bounded memory.
 */
import { describe, expect, test } from 'vitest';
import { ProducerLedger, ledgerCountersMax } from '../../src/daemon/producer-ledger.js';
import { bootNode, bytes, freshDevice, rebootDurable } from '../engine/harness.js';

describe('ProducerLedger', () => {
  test('a name is held by one connection until it is released', () => {
    const ledger = new ProducerLedger();
    const first = {};
    const second = {};
    expect(ledger.claim('raid', first, 0)).toBe(1);
    expect(ledger.claim('raid', first, 0)).toBe(1); // the holder may claim again
    expect(ledger.claim('raid', second, 0)).toBeNull();
    ledger.release(first);
    expect(ledger.claim('raid', second, 7)).toBe(7); // a client resuming its own count
  });

  test('a new claim starts above the highest counter recorded', () => {
    const ledger = new ProducerLedger();
    ledger.note('raid', 5, 105);
    ledger.note('raid', 3, 103);
    expect(ledger.claim('raid', {}, 0)).toBe(6);
  });

  test("a promise of a seq becomes the seq; a refused emit's promise is forgotten", async () => {
    const ledger = new ProducerLedger();
    let accept!: (seq: number) => void;
    let refuse!: (error: Error) => void;
    const accepted = new Promise<number>((resolve) => (accept = resolve));
    const refused = new Promise<number>((_, reject) => (refuse = reject));
    ledger.note('raid', 1, accepted);
    ledger.note('raid', 2, refused);
    expect(ledger.find('raid', 1)).toBe(accepted);
    accept(41);
    refuse(new Error('queue full'));
    await accepted;
    await refused.catch(() => undefined);
    expect(ledger.find('raid', 1)).toBe(41);
    expect(ledger.find('raid', 2)).toBeUndefined();
    expect(ledger.find('nobody', 1)).toBeUndefined();
  });

  test('a promise replaced before it settles does not overwrite the newer entry', async () => {
    const ledger = new ProducerLedger();
    let settle!: (seq: number) => void;
    const stale = new Promise<number>((resolve) => (settle = resolve));
    ledger.note('raid', 1, stale);
    ledger.note('raid', 1, 77);
    settle(40);
    await stale;
    expect(ledger.find('raid', 1)).toBe(77);
  });

  test(`at most ${ledgerCountersMax} counters are remembered per name: the oldest go first`, () => {
    const ledger = new ProducerLedger();
    for (let counter = 1; counter <= ledgerCountersMax + 2; counter++) {
      ledger.note('raid', counter, counter + 100);
    }
    expect(ledger.find('raid', 1)).toBeUndefined();
    expect(ledger.find('raid', 2)).toBeUndefined();
    expect(ledger.find('raid', 3)).toBe(103);
    expect(ledger.find('raid', ledgerCountersMax + 2)).toBe(ledgerCountersMax + 102);
  });

  test('recovered from the pending records a boot found: counters of damaged (discarded) records are not remembered', async () => {
    const { node, device } = bootNode(freshDevice());
    node.registerRecipient('audit', {}, () => {}); // never confirms: every record stays pending
    node.start();
    const producer = node.producer('raid');
    const acks = [1, 2, 3].map((counter) =>
      producer.emitAsync('disk.failed', 'err', bytes(counter), counter),
    );
    producer.emit('disk.plain', 'err', bytes(9)); // no counter: nothing to remember
    node.commit();
    const seqs = await Promise.all(acks);
    const queue = node.queue;
    const second = queue.head + 1; // the record of counter 2
    const fifo = node.fifos[queue.fifoIndex[second % queue.capacity] as number]!;
    const offset =
      fifo.slotsOffset + fifo.slotBase(queue.position[second % queue.capacity] as number);
    node.close();

    const damaged = rebootDurable(device);
    damaged.flipBits(offset + 24, 4, 3, 11); // inside the record: its checks fail
    damaged.persist(offset + 24, 4);
    const again = bootNode(damaged).node;
    // the replay plan marks the damaged record discarded (seq 0): never delivered, never read
    expect(again.replay.plan?.items.map((item) => item.seq)).toEqual([seqs[0], 0, seqs[2], 4]);
    const ledger = ProducerLedger.recover(again);
    expect(ledger.find('raid', 1)).toBe(seqs[0]);
    expect(ledger.find('raid', 2)).toBeUndefined();
    expect(ledger.find('raid', 3)).toBe(seqs[2]);
    expect(ledger.claim('raid', {}, 0)).toBe(4);
    again.close();
  });
});
