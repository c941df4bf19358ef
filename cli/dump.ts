/**
 * `nvrelay dump <device> [--json]`: the events a node device holds that are not completely
 * handled (in replay order, with the recipients that still owe a confirmation) and its dead
 * letters. Reads a private copy of the file (no lock, writes nothing): what it lists is what
 * the next boot would replay [231].
 *
 * `nvrelay redeliver <device> [--recipient NAME] [--seq N] [--json]`: the operator command for
 * dead letters: each one chosen is recorded again as a new event for its recipient alone (with
 * its original seq), and its dead-letter entry is freed once that is durable. It looks first, on
 * a read-only copy: with nothing to re-deliver it leaves the device untouched (no boot counted).
 * Else it opens the device for writing, so the node's own process must not hold it.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { formatOrigin } from '../src/events/origin.js';
import { Node } from '../src/node/node.js';
import { DirectNvram } from '../src/nvram/index.js';
import {
  deadLetterEntries,
  pendingEvents,
  readNodeSnapshot,
  type DeadLetterEntry,
  type PendingEvent,
} from './node-device.js';

export interface DumpReport {
  path: string;
  pending: PendingEvent[];
  deadLetters: DeadLetterEntry[];
}

export function dumpDevice(path: string): DumpReport {
  const snapshot = readNodeSnapshot(path);
  try {
    return {
      path,
      pending: pendingEvents(snapshot.node),
      deadLetters: deadLetterEntries(snapshot.node.deadLetterList()),
    };
  } finally {
    snapshot.close();
  }
}

export function renderDump(report: DumpReport): string {
  const lines = [`pending events: ${report.pending.length}`];
  for (const event of report.pending) lines.push(`  ${describePending(event)}`);
  lines.push(`dead letters: ${report.deadLetters.length}`);
  for (const letter of report.deadLetters) {
    const original = letter.originalSeq !== 0 ? ` (first emitted as ${letter.originalSeq})` : '';
    lines.push(
      `  #${letter.index} seq ${letter.seq}${original} for ${letter.recipient}: ${letter.reason}` +
        `${letter.detail !== 0 ? ` (${letter.detail})` : ''} ` +
        `after ${letter.attempts} attempts at ${letter.deadLetteredAt}`,
      `    ${letter.severity} ${letter.source} ${letter.type} ${shownDetails(letter)}`,
    );
  }
  return lines.join('\n');
}

function describePending(event: PendingEvent): string {
  const at = `${event.fifo}@${event.position}`;
  if (event.verdict !== 'valid')
    return `${at} DISCARDED (${event.verdict}): torn or corrupt record`;
  const owed = event.owed.length > 0 ? event.owed.join(',') : '-';
  const via = event.origin.length > 0 ? ` via ${formatOrigin(event.origin)}` : '';
  return (
    `seq ${event.seq} ${at} ${event.time} ${event.severity} ${event.source} ${event.type} ` +
    `owed by ${owed} of ${event.intended.join(',') || '-'} ${shownDetails(event)}${via}`
  );
}

const detailsShownMax = 60;

function shownDetails(event: { details: string | null; detailsHex: string | null }): string {
  if (event.details !== null) {
    const text = JSON.stringify(event.details);
    return text.length > detailsShownMax ? `${text.slice(0, detailsShownMax)}...` : text;
  }
  return `0x${(event.detailsHex ?? '').slice(0, detailsShownMax)}`;
}

export function registerDump(program: Command): void {
  program
    .command('dump')
    .description('list the pending (not completely handled) and dead-lettered events of a device')
    .argument('<device>', 'path of the device file')
    .option('--json', 'print one JSON object')
    .action((device: string, options: { json?: boolean }) => {
      const report = dumpDevice(device);
      console.log(options.json === true ? JSON.stringify(report, null, 2) : renderDump(report));
    });
}

interface RedeliverOptions {
  recipient?: string;
  seq?: number;
  json?: boolean;
}

export function registerRedeliver(program: Command): void {
  program
    .command('redeliver')
    .description("re-deliver dead letters (all, or one recipient's, or one seq) as new events")
    .argument('<device>', 'path of the device file (not open in another process)')
    .option('--recipient <name>', 'only the dead letters of this recipient')
    .option('--seq <n>', 'only the dead letter of this seq', (text: string) => {
      const value = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(value))
        throw new InvalidArgumentError(`'${text}' is not a sequence number`);
      return value;
    })
    .option('--json', 'print one JSON object: {path, redelivered}')
    .action((device: string, options: RedeliverOptions) => {
      const count = redeliver(device, { recipient: options.recipient, seq: options.seq });
      if (options.json === true)
        console.log(JSON.stringify({ path: device, redelivered: count }, null, 2));
      else console.log(`re-delivered ${count} dead letter${count === 1 ? '' : 's'}`);
    });
}

/**
 * Boots the node (no recipients here, so nothing is delivered in this process), records the
 * chosen dead letters again as new events, and closes. Their recipients receive them at their
 * next boot, after everything older.
 */
export function redeliver(path: string, filter: RedeliverOptions): number {
  if (chosenDeadLetters(path, filter) === 0) return 0; // nothing to do: no boot, no write
  const device = DirectNvram.open(path, { durability: 'power' });
  try {
    const node = Node.boot(device, { scheduling: 'manual' });
    try {
      node.start();
      return node.redeliverDeadLetters(filter);
    } finally {
      node.close();
    }
  } finally {
    device.close();
  }
}

/**
 * How many dead letters `redeliver` would choose, from a read-only copy of the device (the same
 * choice as Node.redeliverDeadLetters: a retired recipient's letters are never re-delivered).
 * A missing file, a directory or a damaged device throws its typed error here, before any boot.
 */
function chosenDeadLetters(path: string, filter: RedeliverOptions): number {
  const snapshot = readNodeSnapshot(path);
  try {
    return snapshot.node
      .deadLetterList()
      .filter(
        (letter) =>
          letter.reason !== 'recipient-retired' &&
          (filter.recipient === undefined || letter.recipient === filter.recipient) &&
          (filter.seq === undefined || letter.seq === filter.seq),
      ).length;
  } finally {
    snapshot.close();
  }
}
