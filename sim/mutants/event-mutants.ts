/**
 * Deliberately broken variants of the event core (issue 4, self-test): each overrides one small
 * persist or ordering step of the FIFO, the distribution engine or the replay engine, the
 * hooks those classes keep for this purpose. The explorer must catch every one, or its checker
 * is vacuous. (test/replay/mutants.test.ts runs them through the event core's own, simpler
 * exploration too.)
 */
import { DistributionEngine } from '../../src/engine/distribution-engine.js';
import { PersistentFifo, SlotVerdict } from '../../src/fifo/fifo.js';
import type { Recipient } from '../../src/engine/recipient.js';
import type { NodeOptions } from '../../src/node/node.js';
import type { ExploreOptions } from '../explore/explorer.js';
import { ReplayEngine, type RecoveryEvent } from '../../src/replay/replay-engine.js';
import { seqLeaseStep } from '../../src/constants.js';
import { wordDamaged } from '../../src/events/checked-word.js';
import { SeqLease, type SeqWitness } from '../../src/node/seq-lease.js';

/** Step 213 reversed: the tail is persisted before the record it publishes. */
export class TailBeforeRecordFifo extends PersistentFifo {
  override commitAppend(position: number): void {
    this.publishTail(position + 1);
    this.persistRecord(position);
  }
}

/**
 * Recovery without the checksum check: every published slot is trusted. With a correct
 * persist order no torn record is ever published, so it is paired with the tail-first order,
 * which publishes torn records for it to trust.
 */
export class NoChecksumFifo extends TailBeforeRecordFifo {
  protected override checkSlot(): number {
    return SlotVerdict.valid;
  }
}

/**
 * Recovery without the checksum check, with the correct persist order: only media faults
 * (bit flips in published records) can show it.
 */
export class ChecksumIgnoredFifo extends PersistentFifo {
  protected override checkSlot(): number {
    return SlotVerdict.valid;
  }
}

/**
 * Flow point 220 too early: the head advances past an event once any one recipient confirmed
 * it, before the other confirmations exist (let alone are durable).
 */
export class EarlyHeadEngine extends DistributionEngine {
  protected override isCompletelyHandled(i: number): boolean {
    const queue = this.queue;
    const any = ((queue.confirmedLo[i] as number) | (queue.confirmedHi[i] as number)) !== 0;
    return any || queue.handled(i);
  }
}

/** Replay queued at start, after the events emitted while booting [230-240] reversed. */
export class ReplayAfterNewEngine extends ReplayEngine {
  protected override replayBeforeNew(): boolean {
    return false;
  }
}

/**
 * Group commit without its fence: the tail word names the group's records while they are only
 * flushed, so a cut can leave it naming torn ones.
 */
export class GroupWithoutFenceFifo extends PersistentFifo {
  override commitGroup(tail: number): void {
    this.publishTail(tail);
  }
}

/**
 * A pipelined group acknowledged at the issue of its fence, not at its completion: its emitters
 * hear (and its records are published and delivered) while the records may still be only
 * flushed, so a cut before the completion loses acknowledged events.
 */
export class AckAtIssueFifo extends PersistentFifo {
  override issueGroupFence(tail: number, done: (error: Error | null) => void): void {
    super.issueGroupFence(tail, () => {}); // the real completion, ignored
    this.groupFenced(tail, -1, -1);
    done(null);
  }
}

/**
 * Step 216 skipped: a confirmation the head word does not pass (an out-of-order one) is never
 * stored, though the fence after it returns as if it were durable.
 */
export class DroppedConfirmationsFifo extends PersistentFifo {
  protected override storeDeferredConfirmations(): void {
    this.deferredCount = 0;
  }
}

/**
 * The dead-letter persist order reversed: the recipient's confirmation bit is made durable
 * before the dead-letter copy is written, so a cut between them leaves the event handled for
 * that recipient and no dead letter to re-deliver: lost.
 */
export class DeadLetterBitFirstEngine extends DistributionEngine {
  protected override deadLetter(recipient: Recipient, slot: number): boolean {
    this.settle(recipient, slot);
    this.confirmationsDurable();
    return super.deadLetter(recipient, slot);
  }
}

/**
 * Slots reserved against the volatile head instead of the durable one: a slot whose event is
 * retired in memory but not durably is reused, so a cut inside the fence of the record that
 * reuses it leaves the durable head before that slot and the slot holding a newer position's
 * record (recovery discards and reports it). Caught by `dead-letters` (deferredFence, the
 * default) once the pools admit through `free()`: today EventPool reads `persistedHead` itself,
 * so this class alone changes nothing a node does, and it is not in `eventMutants` (the
 * durable-head test in test/sim/dead-letters-workload.test.ts routes the pools through
 * `free()` for it).
 */
export class VolatileHeadFifo extends PersistentFifo {
  override free(): number {
    return this.slotCount - (this.reserved - this.head);
  }

  override reserve(): number {
    return this.reserved++;
  }
}

/**
 * Seq lease: a boot trusts a stale lease word (one step behind, as after a lost write) and never
 * checks it against the newest record on the device (row L2), so it issues seqs again that
 * acknowledged events already carry.
 */
export class StaleLeaseTrusted extends SeqLease {
  override renew(witness: SeqWitness): RecoveryEvent | null {
    const stored = SeqLease.read(this.device, this.offset);
    if (stored === wordDamaged) return super.renew(witness);
    this.next = Math.max(1, stored - seqLeaseStep);
    this.extend();
    return null;
  }
}

export interface EventMutant {
  /** The workload name it is registered under. */
  name: string;
  description: string;
  variant: Pick<NodeOptions, 'Fifo' | 'Replay' | 'Engine' | 'SeqLease'>;
  /** The workload that must catch it (default `events`, workloads/registry.ts). */
  workload?: 'events' | 'dead-letters' | 'events-pipelined';
  /**
   * The invariants (checker/spec4.ts) whose violation shows the mutant for what it is; one
   * suffices. 'recovery completes' is the runtime's own assertion stopping a broken recovery.
   */
  expects: readonly string[];
  /** Exploration options the mutant needs (media faults for a missing checksum check). */
  options?: Partial<ExploreOptions>;
}

export const eventMutants: readonly EventMutant[] = [
  {
    name: 'mutant-tail-before-record',
    expects: ['persist-order'],
    description: 'FIFO: tail persisted before the record',
    variant: { Fifo: TailBeforeRecordFifo },
  },
  {
    name: 'mutant-early-head',
    expects: ['no-loss'],
    description: 'engine: head advanced before every confirmation was durable',
    variant: { Engine: EarlyHeadEngine },
  },
  {
    name: 'mutant-group-no-fence',
    expects: ['persist-order'],
    description: 'FIFO: a group commit published without its fence',
    variant: { Fifo: GroupWithoutFenceFifo },
  },
  {
    name: 'mutant-ack-at-issue',
    expects: ['no-loss', 'persist-order'],
    description: 'pipelined group commit: a group acknowledged when its fence is issued',
    variant: { Fifo: AckAtIssueFifo },
    workload: 'events-pipelined',
  },
  {
    name: 'mutant-dropped-confirmations',
    expects: ['no-zombies'],
    description: 'FIFO: confirmations the head does not pass never stored',
    variant: { Fifo: DroppedConfirmationsFifo },
  },
  {
    name: 'mutant-no-checksum',
    expects: ['no-garbage'],
    description: 'FIFO recovery: no checksum check (with the tail-first order)',
    variant: { Fifo: NoChecksumFifo },
  },
  {
    name: 'mutant-checksum-ignored',
    expects: ['no-garbage'],
    description: 'FIFO recovery: no checksum check, found by bit flips in published records',
    variant: { Fifo: ChecksumIgnoredFifo },
    // four faulted images per cut: few records are pending at a cut (the head moves with every
    // fence), so two images often flip nothing recovery delivers
    options: { mediaFaults: { flips: 1, imagesPerCut: 4 } },
  },
  {
    name: 'mutant-dead-letter-bit-first',
    expects: ['no-loss'],
    description: 'engine: confirmation bit durable before the dead-letter copy',
    variant: { Engine: DeadLetterBitFirstEngine },
    workload: 'dead-letters',
  },
  {
    name: 'mutant-volatile-head',
    expects: ['persist-order'],
    description: 'FIFO: slots reserved against the volatile head, not the durable one',
    variant: { Fifo: VolatileHeadFifo },
    workload: 'dead-letters',
  },
  {
    name: 'mutant-stale-lease',
    expects: ['unique-identity'],
    description: 'seq lease: a stale lease word trusted over the newest record (row L2)',
    variant: { SeqLease: StaleLeaseTrusted },
  },
  {
    name: 'mutant-replay-after-new',
    expects: ['order', 'recovery completes'],
    description: 'replay engine: replayed events queued after new ones',
    variant: { Replay: ReplayAfterNewEngine },
  },
];
