/**
 * A hex diff of two device images: only the 16-byte rows that differ, each shown as the
 * durable row over the crash row with the differing bytes marked below.
 */

const rowBytes = 16;

export interface DiffRow {
  offset: number;
  before: Uint8Array;
  after: Uint8Array;
}

/** The rows of `before` and `after` (same length) that differ, in address order. */
export function diffRows(before: Uint8Array, after: Uint8Array, limit = Infinity): DiffRow[] {
  const rows: DiffRow[] = [];
  const length = Math.min(before.length, after.length);
  for (let offset = 0; offset < length && rows.length < limit; offset += rowBytes) {
    const end = Math.min(offset + rowBytes, length);
    let same = true;
    for (let i = offset; i < end; i++) {
      if (before[i] !== after[i]) {
        same = false;
        break;
      }
    }
    if (!same)
      rows.push({
        offset,
        before: before.subarray(offset, end),
        after: after.subarray(offset, end),
      });
  }
  return rows;
}

/** Text lines of the diff; `limit` rows at most. */
export function hexDiff(durable: Uint8Array, crash: Uint8Array, limit = 32): string[] {
  const rows = diffRows(durable, crash, limit + 1);
  if (rows.length === 0) return ['(identical: no non-durable store survived)'];
  const lines: string[] = [];
  for (const row of rows.slice(0, limit)) {
    const at = `0x${row.offset.toString(16).padStart(5, '0')}`;
    lines.push(`${at} durable ${bytesHex(row.before)}`);
    lines.push(`${' '.repeat(at.length)} crash   ${bytesHex(row.after)}`);
    lines.push(`${' '.repeat(at.length)}         ${markers(row.before, row.after)}`);
  }
  if (rows.length > limit) lines.push(`... more rows differ`);
  return lines;
}

export function bytesHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function markers(before: Uint8Array, after: Uint8Array): string {
  return Array.from(before, (b, i) => (b === after[i] ? '  ' : '^^')).join(' ');
}
