/** Fixtures of the record codec's tests: codec limits, and one sample record to vary. */
import type { EventRecord, RecordLimits } from '../../src/events/record.js';
import { slotBytesFor } from '../../src/fifo/layout.js';

/** Limits for slots sized to `detailsBytesMax`. */
export function recordLimits(detailsBytesMax: number, recipientsMax: number): RecordLimits {
  return { slotBytes: slotBytesFor(detailsBytesMax), detailsBytesMax, recipientsMax };
}

/** raid's disk.failed, err, for recipient 0, with four bytes of details; `change` varies it. */
export function sampleRecord(change: Partial<EventRecord> = {}): EventRecord {
  return {
    position: 7,
    seq: 10,
    time: 1,
    severity: 3,
    flags: 0,
    intendedMask: 1n,
    confirmedMask: 0n,
    originalSeq: 0,
    source: 'raid',
    type: 'disk.failed',
    details: new Uint8Array(4),
    ...change,
  };
}
