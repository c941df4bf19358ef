/**
 * A read-only view of a node's persistent state, for `nvrelay inspect`, `dump` and `check`:
 * the control block, the recipient table, each FIFO with its pending records and the
 * verdict on each, and the dead letters. Unlike Node.boot it writes nothing (no seq lease,
 * no pointer repair), so it is safe on a device another process may open later.
 */
import { DeadLetterStore, type DeadLetter } from '../engine/dead-letter.js';
import { RecipientTable, type RecipientEntryState } from '../engine/recipient-table.js';
import { decodeRecord, type EventRecord } from '../events/record.js';
import { PersistentFifo, SlotVerdict, slotVerdictNames } from '../fifo/fifo.js';
import type { NvramDevice } from '../nvram/device.js';
import {
  deadLetterGeometry,
  nodeFifos,
  leaseOffset,
  readNodeGeometry,
  sectionNames,
  type NodeGeometry,
} from './layout.js';
import { SeqLease } from './seq-lease.js';

/** The stored lease, or null if its word fails its check (row L1). */
function leaseOrNull(lease: number): number | null {
  return lease < 0 ? null : lease;
}

export interface FifoInspection {
  name: string;
  slotCount: number;
  head: number;
  tail: number;
  /** Published records between head and tail (tail - head). */
  published: number;
  /** Valid records some intended recipient has not confirmed yet. */
  pending: number;
  /** The pointer words were invalid; head and tail are what recovery would salvage. */
  salvaged: boolean;
  /** Time of the oldest pending record (ms), or null. */
  oldestPendingTime: number | null;
  /** Pending records in FIFO order; a record that fails validation has `verdict` != 'valid'. */
  records: { position: number; verdict: string; handled: boolean; record: EventRecord | null }[];
}

export interface RecipientInspection {
  id: number;
  name: string | null;
  state: RecipientEntryState;
  /**
   * Pending valid events intended for this id whose bit is not confirmed: what it holds back
   * (the FIFO head cannot pass them). A recipient that never registers again keeps them until
   * it is retired (Node.retireRecipient).
   */
  owed: number;
  /** The smallest seq among them, or null. */
  oldestOwedSeq: number | null;
}

export interface NodeInspection {
  geometry: NodeGeometry;
  /** Every seq issued so far is below this. */
  seqLease: number | null;
  recipients: RecipientInspection[];
  fifos: FifoInspection[];
  deadLetters: (DeadLetter & { recipient: string | null })[];
  deadLettersDamaged: number;
}

/** Reads everything; throws NODE_UNFORMATTED / NODE_CORRUPT / NODE_BAD_LAYOUT like a boot. */
export function inspectNode(device: NvramDevice): NodeInspection {
  const geometry = readNodeGeometry(device);
  const recipients = new RecipientTable(device, sectionNames.recipients, geometry.recipientsMax);
  recipients.load();
  const fifos = nodeFifos(device, geometry);
  const deadLetters = new DeadLetterStore(
    device,
    sectionNames.deadLetter,
    deadLetterGeometry(geometry),
  );
  const { damaged } = deadLetters.recover();
  const fifoViews = fifos.map(inspectFifo);
  return {
    geometry,
    seqLease: leaseOrNull(
      SeqLease.read(device, device.section(sectionNames.control).offset + leaseOffset),
    ),
    recipients: recipients.names.map((name, id) => ({
      id,
      name,
      state: recipients.states[id] ?? 'free',
      ...owedTo(id, fifoViews),
    })),
    fifos: fifoViews,
    deadLetters: deadLetters.list().map((letter) => ({
      ...letter,
      // a retired recipient's id was freed: the name there now (if any) is another's
      recipient:
        letter.reason === 'recipient-retired'
          ? null
          : (recipients.names[letter.recipientId] ?? null),
    })),
    deadLettersDamaged: damaged,
  };
}

function owedTo(
  id: number,
  fifos: readonly FifoInspection[],
): { owed: number; oldestOwedSeq: number | null } {
  const bit = 1n << BigInt(id);
  let owed = 0;
  let oldestOwedSeq: number | null = null;
  for (const fifo of fifos) {
    for (const { record } of fifo.records) {
      if (record === null || (record.intendedMask & bit) === 0n) continue;
      if ((record.confirmedMask & bit) !== 0n) continue;
      owed++;
      if (oldestOwedSeq === null || record.seq < oldestOwedSeq) oldestOwedSeq = record.seq;
    }
  }
  return { owed, oldestOwedSeq };
}

function inspectFifo(fifo: PersistentFifo): FifoInspection {
  const recovery = fifo.recover({ repair: false });
  const records: FifoInspection['records'] = [];
  for (let position = recovery.head; position < recovery.tail; position++) {
    const verdict = recovery.verdicts[position - recovery.head] as number;
    const record =
      verdict === SlotVerdict.valid ? decodeRecord(fifo.shadow, fifo.slotBase(position)) : null;
    const handled =
      record !== null && (record.confirmedMask & record.intendedMask) === record.intendedMask;
    records.push({
      position,
      verdict: slotVerdictNames[verdict] ?? String(verdict),
      handled,
      record,
    });
  }
  const oldest = records.find((entry) => entry.record !== null && !entry.handled)?.record ?? null;
  return {
    name: fifo.name,
    slotCount: fifo.slotCount,
    head: recovery.head,
    tail: recovery.tail,
    published: recovery.tail - recovery.head,
    pending: records.filter((entry) => entry.record !== null && !entry.handled).length,
    salvaged: recovery.salvaged !== null,
    oldestPendingTime: oldest === null ? null : oldest.time,
    records,
  };
}
