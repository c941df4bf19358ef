/**
 * The seq lease mutant of sim/mutants/event-mutants.ts on its own: StaleLeaseTrusted trusts an
 * intact lease word one step back without asking the device (row L2), and falls back to the
 * correct repair (row L1) only when the word is damaged. EarlyHeadEngine moves the head past an
 * event once any recipient confirmed it.
 */
import { describe, expect, test } from 'vitest';
import { seqLeaseStep } from '../../src/constants.js';
import { wordDamaged } from '../../src/events/checked-word.js';
import { leaseOffset, sectionNames } from '../../src/node/layout.js';
import { SeqLease, type SeqWitness } from '../../src/node/seq-lease.js';
import { EarlyHeadEngine, StaleLeaseTrusted } from '../../sim/mutants/event-mutants.js';
import { bootNode, freshDevice, rebootDurable } from '../engine/harness.js';

/** A witness that shows `seen` and counts how often it was asked. */
function witness(seen: number): SeqWitness & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    newest: () => {
      asked.push('newest');
      return seen;
    },
    scan: () => {
      asked.push('scan');
      return seen;
    },
  };
}

function leaseOn(): { lease: StaleLeaseTrusted; offset: number } {
  const device = freshDevice();
  const offset = device.section(sectionNames.control).offset + leaseOffset;
  return { lease: new StaleLeaseTrusted(device, offset), offset };
}

describe('the stale-lease mutant', () => {
  test('an intact lease word is trusted one step back, the newest record never asked', () => {
    const { lease } = leaseOn();
    const seen = witness(500);
    // the word of a fresh node is 1: one step back is below 1, so the first seq is 1 again
    expect(lease.renew(seen)).toBe(null);
    expect(seen.asked).toEqual([]);
    expect(lease.next).toBe(1);
    expect(lease.lease).toBe(1 + seqLeaseStep);
    // a correct lease would have moved past the seq the device shows
    expect(lease.take()).toBeLessThanOrEqual(500);
  });

  test('a damaged lease word is repaired from a scan of the device, reported as crit', () => {
    const { lease, offset } = leaseOn();
    lease.device.storeBytes(offset, new Uint8Array(8).fill(0xa5));
    lease.device.persist(offset, 8);
    expect(SeqLease.read(lease.device, offset)).toBe(wordDamaged);
    const seen = witness(41);
    expect(lease.renew(seen)).toEqual({
      type: 'nvrelay.lease.repaired',
      severity: 'crit',
      details: { seqSeen: 41 },
    });
    expect(seen.asked).toEqual(['scan']);
    expect(lease.take()).toBe(42);
  });
});

describe('the early-head mutant', () => {
  test('the head passes an event one recipient confirmed, and stops at one nobody confirmed', () => {
    const { device, node } = bootNode(freshDevice(), { Engine: EarlyHeadEngine });
    node.registerRecipient('audit', { prefixes: ['a.'] }, (event, r) => r.confirm(event.seq));
    node.registerRecipient('pager', {}, () => {}); // never confirms
    node.start();
    const producer = node.producer('shelf');
    const both = producer.emit('a.one', 'err');
    const pagerOnly = producer.emit('p.two', 'err');
    node.drainUntilIdle();
    node.close();
    // the next boot (the correct engine) replays to pager what the head had not passed only
    const { node: rebooted } = bootNode(rebootDurable(device));
    const replayed: { seq: number; replayed: boolean }[] = [];
    rebooted.registerRecipient('audit', { prefixes: ['a.'] }, (event, r) => r.confirm(event.seq));
    rebooted.registerRecipient('pager', {}, (event) =>
      replayed.push({ seq: event.seq, replayed: event.replayed }),
    );
    rebooted.start();
    rebooted.drainUntilIdle();
    expect(replayed).toEqual([{ seq: pagerOnly, replayed: true }]);
    expect(both).toBeLessThan(pagerOnly); // a.one, owed to pager, was lost
    rebooted.close();
  });
});
