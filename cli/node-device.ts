/**
 * A node device file as the read-only commands see it (`dump`, the node parts of `inspect` and
 * `check`; opening one for writing is src/node/device-file.ts):
 *
 *  - `readNodeSnapshot` boots a node, read-only, on a private copy of the file (no lock, no
 *    write reaches the file): recovery runs exactly as at a real boot, so what it reports is
 *    what the next boot would replay. A file another process is writing may be caught midway.
 */
import { readFileSync } from 'node:fs';
import type { DeadLetter } from '../src/engine/dead-letter.js';
import type { OriginHop } from '../src/events/origin.js';
import { decodeRecord } from '../src/events/record.js';
import { severityName } from '../src/events/severity.js';
import { SlotVerdict, slotVerdictNames, type PersistentFifo } from '../src/fifo/fifo.js';
import { sectionNames } from '../src/node/layout.js';
import { Node, type NodeStats } from '../src/node/node.js';
import { inspectDeviceFile, TracedNvram } from '../src/nvram/index.js';

/** True if the device file has the node's control section (else it is a bare device). */
export function hasNodeSections(sections: readonly { name: string }[]): boolean {
  return sections.some((section) => section.name === sectionNames.control);
}

export interface NodeSnapshot {
  node: Node;
  device: TracedNvram;
  close(): void;
}

/**
 * Boots a node on a private in-memory copy of the file, never started: recovery's reads and
 * its few writes (the seq lease, salvaged pointers) stay in the copy.
 */
export function readNodeSnapshot(path: string): NodeSnapshot {
  inspectDeviceFile(path); // a missing file or a broken header is a typed NvramError
  const image = new Uint8Array(readFileSync(path));
  const device = TracedNvram.fromImage(image, { label: path, boot: false });
  let node: Node;
  try {
    node = Node.boot(device, { scheduling: 'manual' });
  } catch (error) {
    device.close();
    throw error;
  }
  return {
    node,
    device,
    close: () => {
      node.close();
      device.close();
    },
  };
}

/** Why no node could be booted on a device file: the typed error's code and message. */
export interface NodeBootFailure {
  code: string;
  message: string;
}

/**
 * readNodeSnapshot, with a typed error (no node, a damaged control block) returned as what
 * `inspect` and `check` report instead of the node; anything else still throws.
 */
export function tryReadNodeSnapshot(path: string): NodeSnapshot | NodeBootFailure {
  try {
    return readNodeSnapshot(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string') throw error;
    return { code, message: (error as Error).message };
  }
}

/** One published slot of a FIFO as `dump` and `check` show it. */
export interface PendingEvent {
  fifo: string;
  position: number;
  /** 'valid', or why recovery discards it (a torn or corrupt record, never delivered). */
  verdict: string;
  seq: number | null;
  /** When the event was recognised [111], ISO 8601, and in ms since the epoch. */
  time: string | null;
  timeMs: number | null;
  severity: string | null;
  source: string | null;
  type: string | null;
  detailsBytes: number | null;
  /** Details as text if they are printable UTF-8, else null (see detailsHex). */
  details: string | null;
  detailsHex: string | null;
  intended: string[];
  /** Intended recipients that have not confirmed (the event is replayed to these). */
  owed: string[];
  originalSeq: number;
  /** A relayed event's path through multiplexing recipients (first hop first); else empty. */
  origin: OriginHop[];
}

export interface DeadLetterEntry {
  index: number;
  recipient: string;
  seq: number;
  reason: string;
  /** The refusing recipient's code (reason refused: a sink's HTTP status), else 0. */
  detail: number;
  attempts: number;
  deadLetteredAt: string;
  originalSeq: number;
  type: string;
  source: string;
  severity: string;
  details: string | null;
  detailsHex: string | null;
}

/** The events recovery found published and not completely handled, in replay order. */
export function pendingEvents(node: Node): PendingEvent[] {
  const names = node.recipientTable.names;
  return (node.replay.plan?.items ?? []).map((item) => {
    const fifo = node.fifos[item.fifoIndex] as PersistentFifo;
    if (item.verdict !== SlotVerdict.valid) {
      return discardedEvent(fifo, item.position, item.verdict);
    }
    const record = decodeRecord(fifo.shadow, fifo.slotBase(item.position));
    const owed = record.intendedMask & ~record.confirmedMask;
    return {
      fifo: fifo.name,
      position: item.position,
      verdict: 'valid',
      seq: record.seq,
      time: new Date(record.time).toISOString(),
      timeMs: record.time,
      severity: severityName(record.severity), // checked by the record check: 0..7
      source: record.source,
      type: record.type,
      detailsBytes: record.details.length,
      ...detailsText(record.details),
      intended: maskNames(record.intendedMask, names),
      owed: maskNames(owed, names),
      originalSeq: record.originalSeq,
      origin: record.origin ?? [],
    };
  });
}

function discardedEvent(fifo: PersistentFifo, position: number, verdict: number): PendingEvent {
  return {
    fifo: fifo.name,
    position,
    verdict: slotVerdictNames[verdict] ?? String(verdict),
    seq: null,
    time: null,
    timeMs: null,
    severity: null,
    source: null,
    type: null,
    detailsBytes: null,
    details: null,
    detailsHex: null,
    intended: [],
    owed: [],
    originalSeq: 0,
    origin: [],
  };
}

export function deadLetterEntries(letters: (DeadLetter & { recipient: string })[]) {
  return letters.map((letter): DeadLetterEntry => ({
    index: letter.index,
    recipient: letter.recipient,
    seq: letter.seq,
    reason: letter.reason,
    detail: letter.detail,
    attempts: letter.attempts,
    deadLetteredAt: new Date(letter.deadLetteredAt).toISOString(),
    originalSeq: letter.record.originalSeq,
    type: letter.record.type,
    source: letter.record.source,
    severity: severityName(letter.record.severity),
    ...detailsText(letter.record.details),
  }));
}

const printable = /^[\x20-\x7e\t\n\r\u00a0-\uffff]*$/;

/** Details as text when they are printable UTF-8, else as hex (at most 64 bytes shown). */
function detailsText(details: Uint8Array): { details: string | null; detailsHex: string | null } {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(details);
  if (!text.includes('\ufffd') && printable.test(text)) return { details: text, detailsHex: null };
  const shown = Buffer.from(details.subarray(0, 64)).toString('hex');
  return { details: null, detailsHex: details.length > 64 ? `${shown}...` : shown };
}

/** Recipient names of a mask (an id with no name shows as #id). */
export function maskNames(mask: bigint, names: readonly (string | null)[]): string[] {
  const result: string[] = [];
  for (let id = 0; id < 64; id++) {
    if (((mask >> BigInt(id)) & 1n) === 1n) result.push(names[id] ?? `#${id}`);
  }
  return result;
}

/** What `inspect` shows of a node: FIFOs, pools and the dead-letter section. */
export interface NodeSummary {
  geometry: Node['geometry'];
  seqNext: number;
  fifos: (NodeStats['fifos'][number] & { oldestPendingAgeMs: number | null })[];
  pools: { name: string; capacity: number; used: number; urgentReserve: number }[];
  deadLetters: NodeStats['deadLetters'];
  recipients: { id: number; name: string }[];
  discarded: number;
}

export function nodeSummary(node: Node, now: number): NodeSummary {
  const stats = node.stats();
  const pending = pendingEvents(node);
  return {
    geometry: node.geometry,
    seqNext: stats.seqNext,
    fifos: stats.fifos.map((fifo) => {
      // from the decoded records: the oldest valid one still pending in this FIFO
      const times = pending.flatMap((event) =>
        event.fifo === fifo.name && event.timeMs !== null ? [event.timeMs] : [],
      );
      const oldest = times.length > 0 ? Math.min(...times) : null;
      return {
        ...fifo,
        oldestPendingTime: oldest,
        oldestPendingAgeMs: oldest === null ? null : now - oldest,
      };
    }),
    pools: stats.pools.map(({ name, capacity, used, urgentReserve }) => ({
      name,
      capacity,
      used,
      urgentReserve,
    })),
    deadLetters: stats.deadLetters,
    recipients: stats.recipients.map(({ id, name }) => ({ id, name })),
    discarded: pending.filter((event) => event.verdict !== 'valid').length,
  };
}
