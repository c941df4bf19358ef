/**
 * A remote recipient that reconnects may confirm again, before the daemon delivers anything
 * again, an event it was delivered on its last connection (docs/PROTOCOL.md, CONFIRM). The
 * confirmation must take effect then, not be ignored: a multiplexing recipient releases its
 * hold on the event once the daemon says the confirmation is durable (src/mux). And
 * othersHandled, which an end-to-end mux waits on.
 */
import { describe, expect, test } from 'vitest';
import { bootNode, freshDevice, rebootDurable } from '../engine/harness.js';

describe('a confirmation of an event owed but not in flight', () => {
  test('after a reattach: applied, so the event is not delivered again; a repeat is ignored', () => {
    const { node } = bootNode(freshDevice());
    const seen: number[] = [];
    const remote = node.registerRecipient('remote', {}, (event) => seen.push(event.seq));
    node.start();
    const p = node.producer('p');
    const seqs = [1, 2, 3].map(() => p.emit('disk.failed', 'err'));
    node.drain();
    expect(seen).toEqual(seqs);
    node.detachRecipient(remote);
    node.registerRecipient('remote', {}, (event) => seen.push(event.seq));
    // confirmed again before the re-delivery: 1 and 3
    expect(remote.confirm(seqs[0] as number)).toBe(true);
    expect(remote.confirm(seqs[2] as number)).toBe(true);
    expect(remote.confirm(seqs[2] as number)).toBe(false); // a repeat
    expect(remote.confirm(999)).toBe(false); // unknown
    node.drainUntilIdle();
    expect(seen).toEqual([...seqs, seqs[1]]);
    expect(remote.confirmsIgnored).toBe(2);
  });

  test('after a reboot, before the replay examined the record: durable once fenced', () => {
    const { node, device } = bootNode(freshDevice());
    node.registerRecipient('remote', {}, () => {});
    node.start();
    const seqs = [1, 2].map(() => node.producer('p').emit('disk.failed', 'err'));
    node.drain();
    node.close();
    const image = rebootDurable(device);
    const again = bootNode(image).node;
    const seen: number[] = [];
    const remote = again.registerRecipient('remote', {}, (event) => seen.push(event.seq));
    expect(remote.confirm(seqs[1] as number)).toBe(true); // not yet examined by the replay
    again.start();
    again.drainUntilIdle();
    expect(seen).toEqual([seqs[0]]);
    again.persistConfirmations();
    again.close();
    const third = bootNode(rebootDurable(image)).node;
    const replayed: number[] = [];
    third.registerRecipient('remote', {}, (event) => replayed.push(event.seq));
    third.start();
    third.drainUntilIdle();
    expect(replayed).toEqual([seqs[0]]); // seqs[1]'s confirmation was made durable
  });
});

describe('after close()', () => {
  test('a confirmation or refusal records nothing and says so; the next boot delivers the event again', () => {
    const { node, device } = bootNode(freshDevice());
    const recipient = node.registerRecipient('r', {}, () => {});
    node.start();
    const p = node.producer('p');
    const [first, second] = [1, 2].map(() => p.emit('disk.failed', 'err')) as [number, number];
    node.drain();
    node.close();
    expect(recipient.confirm(first)).toBe(false);
    expect(recipient.refuse(second, 404)).toBe(false);
    expect(recipient.confirmed).toBe(0);
    expect(recipient.confirmsIgnored).toBe(0);
    expect(recipient.inFlight()).toBe(2);
    const again = bootNode(rebootDurable(device)).node;
    const replayed: number[] = [];
    again.registerRecipient('r', {}, (event) => replayed.push(event.seq));
    again.start();
    again.drainUntilIdle();
    expect(replayed).toEqual([first, second]);
    expect(again.deadLetterList()).toEqual([]);
  });
});

describe('othersHandled', () => {
  test('tells whether the other intended recipients are done, and whether there were any', () => {
    const { node } = bootNode(freshDevice());
    const held: number[] = [];
    const custodian = node.registerRecipient('custodian', {}, (event) => held.push(event.seq));
    let confirming = false;
    node.registerRecipient('disk', { prefixes: ['disk.'] }, (event, r) => {
      if (confirming) r.confirm(event.seq);
    });
    node.start();
    const disk = node.producer('p').emit('disk.failed', 'err');
    const fan = node.producer('p').emit('fan.slow', 'err');
    node.drain();
    expect(node.engine.othersHandled(custodian, disk)).toEqual({ handled: false, others: true });
    expect(node.engine.othersHandled(custodian, fan)).toEqual({ handled: true, others: false });
    expect(node.engine.othersHandled(custodian, 12345)).toBeNull();
    confirming = true;
    node.detachRecipient(node.engine.recipients[1] as never);
    node.registerRecipient('disk', { prefixes: ['disk.'] }, (event, r) => r.confirm(event.seq));
    node.drainUntilIdle();
    expect(node.engine.othersHandled(custodian, disk)).toEqual({ handled: true, others: true });
    expect(held).toEqual([disk, fan]);
  });
});
