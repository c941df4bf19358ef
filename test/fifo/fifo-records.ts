/** Records the FIFO tests append: for recipient 0, info, source 'r', type 't', no details. */
import { writeRecord } from '../../src/events/record.js';
import type { PersistentFifo } from '../../src/fifo/fifo.js';

export const source = new Uint8Array([0x72]); // 'r'
export const type = new Uint8Array([0x74]); // 't'

/** Encodes a record with `seq` at `position` in the FIFO's shadow. */
export function encodeRecordAt(fifo: PersistentFifo, position: number, seq: number): void {
  writeRecord(
    fifo.buffer,
    fifo.slotBase(position),
    position,
    seq,
    6,
    0,
    1,
    0,
    0,
    source,
    type,
    null,
  );
}

/** Appends one record with `seq` (step 213); returns its position. */
export function appendRecord(fifo: PersistentFifo, seq: number): number {
  const position = fifo.reserve();
  encodeRecordAt(fifo, position, seq);
  fifo.commitAppend(position);
  return position;
}
