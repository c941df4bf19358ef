/**
 * The partner sections of a node in a high-availability pair [193]: the mirror of the partner's
 * recipient table and of its two FIFOs, each with the same layout as the partner's own section
 * (so one recovery, RecoverableFifo's rows D1-D6 and R1-R3, reads both), after the node's own
 * sections. Both nodes of a pair are formatted with the same limits: the mirror of a FIFO is a
 * copy slot for slot, position for position, and a record's position check holds in it.
 *
 * | section | mirrors | length |
 * |---|---|---|
 * | `partner-recipients` | the partner's `recipients` | as `recipients` |
 * | `partner-boot-fifo` | the partner's `boot-fifo` | as `boot-fifo` |
 * | `partner-runtime-fifo` | the partner's `runtime-fifo` | as `runtime-fifo` |
 *
 * A mirror FIFO's `owner` word (offset 192, reserved in every FIFO) holds the partner's node id
 * (its device id) once the first update from it is applied, so a mirror is never read as
 * another node's: a pair re-formed with a new partner starts from an empty mirror.
 */
import { recipientTableBytes } from '../engine/recipient-table.js';
import { fifoSectionBytes } from '../fifo/layout.js';
import {
  fifoGeometry,
  nodeGeometry,
  nodeLayout,
  type NodeGeometry,
  type NodeLayout,
  type NodeLimits,
} from '../node/layout.js';

export const partnerSectionNames = Object.freeze({
  recipients: 'partner-recipients',
  bootFifo: 'partner-boot-fifo',
  runtimeFifo: 'partner-runtime-fifo',
});

/** The mirror FIFOs in the partner's FIFO order (index 0 boot, 1 runtime, as in a Node). */
export const partnerFifoNames = [partnerSectionNames.bootFifo, partnerSectionNames.runtimeFifo];

/** A node's sections followed by the partner sections: the device of one node of a pair. */
export function pairLayout(limits: NodeLimits | NodeGeometry = {}): NodeLayout {
  const own = nodeLayout(limits);
  const geometry = nodeGeometry(limits);
  const partner = [
    {
      name: partnerSectionNames.recipients,
      length: recipientTableBytes(geometry.recipientsMax),
    },
    {
      name: partnerSectionNames.bootFifo,
      length: fifoSectionBytes(fifoGeometry(geometry, geometry.bootSlots)),
    },
    {
      name: partnerSectionNames.runtimeFifo,
      length: fifoSectionBytes(fifoGeometry(geometry, geometry.runtimeSlots)),
    },
  ];
  const sizeBytes = partner.reduce((total, section) => total + section.length, own.sizeBytes);
  return { geometry, sections: [...own.sections, ...partner], sizeBytes };
}

/** The slot count of each mirror FIFO, in partnerFifoNames order. */
export function partnerSlotCounts(geometry: NodeGeometry): [boot: number, runtime: number] {
  return [geometry.bootSlots, geometry.runtimeSlots];
}
