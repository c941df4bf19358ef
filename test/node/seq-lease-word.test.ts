/**
 * The seq lease word (SPEC 4.5) on its own: a stored lease is trusted only in [1, seqMax +
 * seqLeaseStep] (anything else reads as damaged); a damaged word makes the boot scan the device
 * (row L1) and report it; an intact lease at or behind the newest seq the device shows is
 * reported and moved past it (row L2), one ahead of it is not; `take` persists the next step
 * exactly when the issued seqs reach the lease, and a lease beyond seqMax + seqLeaseStep is
 * refused (sequence numbers exhausted).
 */
import { describe, expect, test } from 'vitest';
import { seqLeaseStep, seqMax } from '../../src/constants.js';
import { AssertionError } from '../../src/events/assert.js';
import { WordRole, encodeCounterWord, wordDamaged } from '../../src/events/checked-word.js';
import { SeqLease, type SeqWitness } from '../../src/node/seq-lease.js';
import { TracedNvram } from '../../src/nvram/index.js';

function leaseDevice(): { device: TracedNvram; offset: number } {
  const device = TracedNvram.format(8192, [{ name: 'lease', length: 4096 }]);
  return { device, offset: device.section('lease').offset };
}

/** A device whose lease word holds `value` (a valid check). */
function storing(value: number): { device: TracedNvram; offset: number } {
  const at = leaseDevice();
  const word = new Uint8Array(8);
  encodeCounterWord(value, WordRole.lease, word);
  at.device.storeBytes(at.offset, word);
  at.device.persist(at.offset, 8);
  return at;
}

function witness(newest: number, scanned = newest): SeqWitness {
  return { newest: () => newest, scan: () => scanned };
}

describe('SeqLease.read: the stored lease, or wordDamaged', () => {
  test('1 and seqMax + seqLeaseStep are leases; 0 and one past the top are damaged', () => {
    for (const [value, read] of [
      [1, 1],
      [seqMax + seqLeaseStep, seqMax + seqLeaseStep],
      [0, wordDamaged],
      [seqMax + seqLeaseStep + 1, wordDamaged],
    ] as const) {
      const { device, offset } = storing(value);
      expect(SeqLease.read(device, offset)).toBe(read);
    }
  });

  test('a word whose check fails is damaged', () => {
    const { device, offset } = storing(7);
    const word = new Uint8Array(8);
    device.loadBytes(offset, word);
    word[6] = (word[6] as number) ^ 1;
    device.storeBytes(offset, word);
    expect(SeqLease.read(device, offset)).toBe(wordDamaged);
  });
});

describe('SeqLease.renew at boot', () => {
  test('row L1: a damaged lease scans the device; next is past the largest seq seen', () => {
    const { device, offset } = storing(0);
    const lease = new SeqLease(device, offset);
    expect(lease.renew(witness(3, 40))).toEqual({
      type: 'nvrelay.lease.repaired',
      severity: 'crit',
      details: { seqSeen: 40 },
    });
    expect(lease.next).toBe(41);
    expect(lease.lease).toBe(41 + seqLeaseStep);
    expect(SeqLease.read(device, offset)).toBe(41 + seqLeaseStep);
  });

  test('row L2: a lease equal to the newest seq shown is reported and moved past it', () => {
    const { device, offset } = storing(50);
    const lease = new SeqLease(device, offset);
    expect(lease.renew(witness(50))).toEqual({
      type: 'nvrelay.lease.repaired',
      severity: 'crit',
      details: { stored: 50, seqSeen: 50 },
    });
    expect(lease.next).toBe(51);
    expect(SeqLease.read(device, offset)).toBe(51 + seqLeaseStep);
  });

  test('a lease ahead of every seq shown is kept as next, nothing reported', () => {
    const { device, offset } = storing(50);
    const lease = new SeqLease(device, offset);
    expect(lease.renew(witness(49))).toBeNull();
    expect(lease.next).toBe(50);
    expect(SeqLease.read(device, offset)).toBe(50 + seqLeaseStep);
  });
});

describe('SeqLease.take', () => {
  test('the lease is extended durably exactly when the issued seqs reach it', () => {
    const { device, offset } = storing(1);
    const lease = new SeqLease(device, offset);
    lease.renew(witness(0));
    lease.next = 1 + seqLeaseStep - 1;
    expect(lease.take()).toBe(seqLeaseStep);
    expect(lease.lease).toBe(1 + seqLeaseStep);
    expect(SeqLease.read(device, offset)).toBe(1 + seqLeaseStep);
    expect(lease.take()).toBe(1 + seqLeaseStep); // reached: the next step persisted first
    expect(lease.lease).toBe(1 + 2 * seqLeaseStep);
    expect(SeqLease.read(device, offset)).toBe(1 + 2 * seqLeaseStep);
  });

  test('seqMax is the last seq issued; past it, sequence numbers are exhausted', () => {
    const { device, offset } = storing(1);
    const lease = new SeqLease(device, offset);
    lease.next = seqMax;
    lease.lease = seqMax;
    expect(lease.take()).toBe(seqMax);
    expect(SeqLease.read(device, offset)).toBe(seqMax + seqLeaseStep);
    lease.lease = lease.next;
    expect(() => lease.take()).toThrow(AssertionError);
    expect(SeqLease.read(device, offset)).toBe(seqMax + seqLeaseStep);
  });
});
