/**
 * Giveback [193]: a node that returns after its partner took its events over takes its stream
 * back without delivering again what the partner recorded. The partner's mirror says how far
 * it holds nothing of this node's pending (`PartnerMirror.heads()`, made durable by the
 * takeover before it acknowledged anything): every record of this node before those positions
 * was either completely handled here or is the partner's now. So, before the node boots (and
 * replays), each FIFO's head word is moved past them: one fence per FIFO (persist order G).
 *
 * G is restartable: a cut before the fence leaves the old head, and the next boot asks the
 * partner again and moves it the same way. It never moves a head past this node's own tail: a
 * mirror never holds a position this node did not make durable first (persist order H).
 */
import { nodeFifos, readNodeGeometry } from '../node/layout.js';
import type { NvramDevice } from '../nvram/device.js';

export interface GivebackReport {
  /** Per FIFO (boot, runtime): records the partner had taken over, retired here unreplayed. */
  retired: number[];
}

/** Moves this node's FIFO heads to the partner mirror's heads (before Node.boot). */
export function giveBack(device: NvramDevice, mirrorHeads: readonly number[]): GivebackReport {
  const geometry = readNodeGeometry(device);
  const fifos = nodeFifos(device, geometry);
  const retired = fifos.map((fifo, k) => {
    const { head, tail } = fifo.recoverPointers({ repair: true });
    const target = Math.min(mirrorHeads[k] ?? 0, tail);
    if (target <= head) return 0;
    fifo.head = target;
    fifo.persistPointers(); // G: the head word past the taken-over records, durable
    return target - head;
  });
  return { retired };
}
