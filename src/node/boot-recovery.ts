/**
 * Boot steps 231-232 [190-193]: the recipient table, the dead letters, every FIFO's pointers
 * (the replay plan; records are examined later, as the engine first reaches each), the seq lease
 * (rows L1, L2); the replay is queued here. What recovery finds is returned as events, raised
 * through the boot pool when the node starts.
 */
import type { RecoveryEvent } from '../replay/replay-engine.js';
import type { Node, RecoveryReport } from './node.js';

export function recoverNode(node: Node): RecoveryReport {
  node.recipientTable.load();
  const deadLetters = node.deadLetters.recover();
  const plan = node.replay.recover();
  const events = node.replay.recoveryEvents();
  if (deadLetters.damaged > 0) {
    events.push({
      type: 'nvrelay.deadletter.damaged',
      severity: 'err',
      details: { section: node.deadLetters.name, damaged: deadLetters.damaged },
    });
  }
  guardDamagedRecipients(node, plan.published, events);
  const leaseEvent = node.lease.renew({
    newest: () => seqNewest(node),
    scan: () => seqHighestSeen(node),
  });
  if (leaseEvent !== null) events.push(leaseEvent);
  node.counters.replayed = node.replay.admit('boot');
  return { replayed: plan.published, discarded: 0, events };
}

/**
 * A damaged recipient entry may be named by a pending event (its id was in use), which only
 * examining that event would tell; so while events are pending at boot, damaged ids are not
 * handed out again this boot, and are reported. With nothing pending they are reused.
 */
function guardDamagedRecipients(node: Node, published: number, events: RecoveryEvent[]): void {
  if (published === 0) return;
  const damaged: number[] = [];
  node.recipientTable.states.forEach((state, id) => {
    if (state !== 'damaged') return;
    node.recipientTable.quarantine(id);
    damaged.push(id);
  });
  if (damaged.length === 0) return;
  events.push({
    type: 'nvrelay.recipient.damaged',
    severity: 'crit',
    details: { section: node.recipientTable.sectionName, ids: damaged },
  });
}

/** Row L2: the newest intact record of each FIFO and the dead letters (no slot scan). */
function seqNewest(node: Node): number {
  const deadLetterSeqs = node.deadLetters.list().map((letter) => letter.seq);
  const newest = node.fifos.map((fifo) => fifo.newestSeq());
  return Math.max(0, ...deadLetterSeqs, ...newest);
}

/**
 * Row L1: the highest seq the device still shows: pending and retired records in every FIFO
 * slot, and dead letters. Reads every slot (only when the lease word is damaged).
 */
function seqHighestSeen(node: Node): number {
  const slotSeqs = node.fifos.map((fifo) => fifo.highestSeqInSlots());
  return Math.max(node.replay.seqHighest(), seqNewest(node), ...slotSeqs);
}
