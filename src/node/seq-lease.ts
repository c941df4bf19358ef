/**
 * The seq lease (SPEC 4.5): the control block's lease word L says every seq ever issued is below
 * L. A boot takes next = max(L, largest seq the device shows + 1) and persists L' = next +
 * seqLeaseStep before issuing any; when the issued seqs reach L', it persists another step
 * first. So seqs are unique and increasing across any number of reboots and cuts.
 *
 * L is a checked word (src/events/checked-word.ts): a media fault in it is detected (row L1)
 * and the device is scanned for the largest seq it shows. Even an intact L is never trusted
 * below the newest record of each FIFO and the dead letters (row L2): a lease behind them is
 * reported and moved past them, so a seq is never issued twice.
 */
import { seqLeaseStep, seqMax } from '../constants.js';
import { assert } from '../events/assert.js';
import {
  WordRole,
  decodeCounterWord,
  encodeCounterWord,
  wordDamaged,
} from '../events/checked-word.js';
import type { NvramDevice } from '../nvram/device.js';
import type { RecoveryEvent } from '../replay/replay-engine.js';

/** Where the device shows seqs: cheaply (newest records) and by a full scan (row L1). */
export interface SeqWitness {
  /** The largest seq among each FIFO's newest intact record and the dead letters. */
  newest(): number;
  /** The largest seq any intact record on the device shows (reads every slot). */
  scan(): number;
}

export class SeqLease {
  readonly device: NvramDevice;
  readonly offset: number;
  /** The next seq to issue. */
  next = 1;
  /** The durable lease: every seq issued is below it. */
  lease = 1;
  protected readonly word = new Uint8Array(8);

  constructor(device: NvramDevice, offset: number) {
    this.device = device;
    this.offset = offset;
  }

  /** Writes the lease word of a fresh node (format time): no seq issued yet. */
  static format(device: NvramDevice, offset: number): void {
    const word = new Uint8Array(8);
    encodeCounterWord(1, WordRole.lease, word);
    device.storeBytes(offset, word);
    device.persist(offset, 8);
  }

  /** The stored lease, or wordDamaged (read-only: inspection uses it too). */
  static read(device: NvramDevice, offset: number): number {
    const word = new Uint8Array(8);
    device.loadBytes(offset, word);
    const lease = decodeCounterWord(word, WordRole.lease);
    return lease !== wordDamaged && lease >= 1 && lease <= seqMax + seqLeaseStep
      ? lease
      : wordDamaged;
  }

  /** Boot: rows L1 and L2, then a fresh lease persisted. Returns what it reports, if anything. */
  renew(witness: SeqWitness): RecoveryEvent | null {
    const stored = SeqLease.read(this.device, this.offset);
    if (stored === wordDamaged) {
      const seen = witness.scan(); // row L1
      this.next = seen + 1;
      this.extend();
      return { type: 'nvrelay.lease.repaired', severity: 'crit', details: { seqSeen: seen } };
    }
    const newest = witness.newest(); // row L2
    this.next = Math.max(stored, newest + 1);
    this.extend();
    if (newest < stored) return null;
    return {
      type: 'nvrelay.lease.repaired',
      severity: 'crit',
      details: { stored, seqSeen: newest },
    };
  }

  /** The next seq, extending the lease durably first when it is used up. */
  take(): number {
    if (this.next >= this.lease) this.extend();
    return this.next++;
  }

  /** Persists next + seqLeaseStep before any seq below it is issued (SPEC 4.5). */
  protected extend(): void {
    const lease = this.next + seqLeaseStep;
    assert(lease <= seqMax + seqLeaseStep, 'sequence numbers exhausted');
    encodeCounterWord(lease, WordRole.lease, this.word);
    this.device.storeBytes(this.offset, this.word);
    this.device.persist(this.offset, 8);
    this.lease = lease;
  }
}
