/**
 * Giveback [193]: a node that returns after its partner took its events over takes its stream
 * back without delivering again what the partner recorded. The partner's mirror hands back
 * (`PartnerMirror.handover()`, made durable by the takeover before it let anything go) how far
 * it holds nothing of this node's pending, per FIFO, and which records past that it holds as
 * handled: every record of this node before the head was either completely handled here or is
 * the partner's now, and so is each record handed back by position (checked by its seq here).
 * So, before the node boots (and replays), the words of those records say every intended
 * recipient confirmed them [216], and each FIFO's head word moves past the prefix: one fence
 * per FIFO (persist order G). The boot then retires them without delivering them.
 *
 * G is restartable: a cut before the fence leaves the old words, and the next boot asks the
 * partner again and does the same. It never moves a head past this node's own tail: a mirror
 * never holds a position this node did not make durable first (persist order H).
 */
import { getU64 } from '../events/record.js';
import { SlotVerdict, type PersistentFifo } from '../fifo/fifo.js';
import { nodeFifos, readNodeGeometry } from '../node/layout.js';
import type { NvramDevice } from '../nvram/device.js';
import type { Handover } from './mirror-update.js';

export interface GivebackReport {
  /** Per FIFO (boot, runtime): records the partner had taken over, retired here unreplayed. */
  retired: number[];
}

/** Applies the partner's handover to this node's FIFOs (before Node.boot). */
export function giveBack(device: NvramDevice, handover: Handover): GivebackReport {
  const geometry = readNodeGeometry(device);
  const fifos = nodeFifos(device, geometry);
  const retired = fifos.map((fifo, k) => {
    const { head, tail, verdicts } = fifo.recover({ repair: true });
    const target = Math.max(head, Math.min(handover.heads[k] ?? 0, tail));
    let count = target - head;
    for (const { fifo: index, position, seq } of handover.taken) {
      if (index !== k || position < target || position >= tail) continue;
      if (verdicts[position - head] !== SlotVerdict.valid) continue;
      if (markHandled(fifo, position, seq)) count++;
    }
    fifo.head = target;
    fifo.persistPointers(); // G: the words and the head word, durable in one fence
    return count;
  });
  return { retired };
}

/** The record's confirmation word = its intended mask, if it is the record handed back. */
function markHandled(fifo: PersistentFifo, position: number, seq: number): boolean {
  const base = fifo.slotBase(position);
  const view = fifo.shadowView;
  if (getU64(view, base + 24) !== seq) return false; // another record: not the one taken over
  view.setUint32(base, view.getUint32(base + 40, true), true);
  view.setUint32(base + 4, view.getUint32(base + 44, true) & 0xffffff, true);
  fifo.deferConfirmation(position);
  return true;
}
