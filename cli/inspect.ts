/**
 * `nvrelay inspect <device> [--json]`: the header, the section table and the boot count of a
 * device file. Reads only (no lock), so it works on a device another process has open.
 *
 * Other parts of the system add what they keep on the device (FIFOs, pools, ...) with
 * `addInspectPart` from their own command file; each part appears after the sections.
 */
import type { Command } from 'commander';
import { inspectNode } from '../src/node/inspect.js';
import { examineDeviceFile, NvramError, type HeaderInfo } from '../src/nvram/index.js';
import { formatSize } from './arguments.js';
import { leaseHolders, partnerPart, renderLeases, type LeaseView } from './partner.js';
import {
  hasNodeSections,
  nodeSummary,
  tryReadNodeSnapshot,
  type NodeSummary,
} from './node-device.js';

export interface InspectPart {
  /** The key of the part in --json output, and its heading in text output. */
  readonly name: string;
  /** Undefined: the part has nothing on this device and is left out. */
  collect(path: string, header: HeaderInfo): unknown;
  render(value: unknown): string[];
}

const parts: InspectPart[] = [];

export function addInspectPart(part: InspectPart): void {
  parts.push(part);
}

export interface InspectReport {
  path: string;
  header: HeaderInfo;
  bootSlotsValid: [boolean, boolean];
  parts: Array<{ part: InspectPart; value: unknown }>;
}

/** Reads and validates the header of `path`; the first finding, if any, is thrown. */
export function inspectDevice(path: string): InspectReport {
  const examination = examineDeviceFile(path);
  const first = examination.findings[0];
  if (first !== undefined) throw new NvramError(first.code, first.message);
  const header = examination.header;
  if (header === null) throw new Error(`assertion failed: ${path}: no findings but no header`);
  return {
    path,
    header,
    bootSlotsValid: examination.bootSlotsValid,
    parts: parts
      .map((part) => ({ part, value: part.collect(path, header) }))
      .filter(({ value }) => value !== undefined),
  };
}

export function renderInspect(report: InspectReport): string {
  const { header } = report;
  const slots = report.bootSlotsValid.map((valid) => (valid ? 'valid' : 'invalid'));
  const lines = [
    `device      ${report.path}`,
    `magic       ${header.magic}`,
    `version     ${header.version}`,
    `size        ${header.sizeBytes} bytes (${formatSize(header.sizeBytes)})`,
    `device id   ${hexId(header.deviceId)}`,
    `boot count  ${header.bootCount} (slot A ${slots[0]}, slot B ${slots[1]})`,
    `sections    ${header.sections.length}`,
  ];
  if (header.sections.length > 0) {
    const width = Math.max(4, ...header.sections.map((section) => section.name.length));
    lines.push(`  ${'name'.padEnd(width)}  ${'offset'.padStart(12)}  ${'length'.padStart(12)}`);
    for (const section of header.sections) {
      lines.push(
        `  ${section.name.padEnd(width)}  ${String(section.offset).padStart(12)}  ${String(section.length).padStart(12)}  ${formatSize(section.length)}`,
      );
    }
  }
  for (const { part, value } of report.parts) lines.push(`${part.name}`, ...part.render(value));
  return lines.join('\n');
}

export function inspectJson(report: InspectReport): Record<string, unknown> {
  const { header } = report;
  const json: Record<string, unknown> = {
    path: report.path,
    magic: header.magic,
    version: header.version,
    sizeBytes: header.sizeBytes,
    deviceId: hexId(header.deviceId),
    bootCount: header.bootCount,
    bootSlotsValid: report.bootSlotsValid,
    sections: header.sections.map(({ name, offset, length }) => ({ name, offset, length })),
  };
  for (const { part, value } of report.parts) json[part.name] = value;
  return json;
}

/** This node's stream and its partner's (if the mirror names one), as the coordinator has them. */
async function pairLeases(report: InspectReport, config: string): Promise<LeaseView[]> {
  const self = report.header.deviceId.toString(16).padStart(16, '0');
  const partner = report.parts.find(({ part }) => part.name === 'partner')?.value as
    { partner?: string | null } | undefined;
  const streams = [self, ...(partner?.partner ? [partner.partner] : [])];
  return leaseHolders(config, streams);
}

function hexId(id: bigint): string {
  return '0x' + id.toString(16).padStart(16, '0');
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show the header, sections and boot count of a device (takes no lock)')
    .argument('<device>', 'path of the device file')
    .option('--json', 'print one JSON object')
    .option('--config <file>', "an HA pair's serve config: also who holds each stream's lease")
    .action(async (device: string, options: { json?: boolean; config?: string }) => {
      const report = inspectDevice(device);
      const leases = options.config === undefined ? [] : await pairLeases(report, options.config);
      if (options.json === true) {
        const json = inspectJson(report);
        if (options.config !== undefined) json['leases'] = leases;
        console.log(JSON.stringify(json, null, 2));
        return;
      }
      const text = renderInspect(report);
      console.log(options.config === undefined ? text : [text, ...renderLeases(leases)].join('\n'));
    });
}

// ---- the node's part: FIFOs, pools, dead letters (issue 3) ----

/** Per named recipient: the pending events still owed to it (what it holds back). */
interface RecipientHolding {
  id: number;
  name: string;
  owed: number;
  oldestOwedSeq: number | null;
}

type NodePart =
  | (Omit<NodeSummary, 'recipients'> & { recipients: RecipientHolding[] })
  | { error: string; code: string };

/** Boots a read-only snapshot of the node (recovery as at a real boot) and summarises it. */
function collectNode(path: string, header: HeaderInfo): NodePart | undefined {
  if (!hasNodeSections(header.sections)) return undefined;
  const snapshot = tryReadNodeSnapshot(path);
  if (!('node' in snapshot)) return { error: snapshot.message, code: snapshot.code };
  try {
    const summary = nodeSummary(snapshot.node, Date.now());
    const view = inspectNode(snapshot.device); // read-only, on the snapshot's private copy
    const recipients = summary.recipients.map(({ id, name }) => {
      const seen = view.recipients[id];
      return { id, name, owed: seen?.owed ?? 0, oldestOwedSeq: seen?.oldestOwedSeq ?? null };
    });
    return { ...summary, recipients };
  } finally {
    snapshot.close();
  }
}

function renderNode(value: unknown): string[] {
  const part = value as NodePart;
  if ('error' in part) return [`  cannot boot a node on it: ${part.error} (${part.code})`];
  const { geometry } = part;
  const lines = [
    `  limits      details <= ${geometry.detailsBytesMax} bytes, ${geometry.slotBytes}-byte slots, ` +
      `${geometry.recipientsMax} recipients max`,
    `  seq next    ${part.seqNext}`,
    `  recipients  ${part.recipients.map(({ id, name }) => `${name} (${id})`).join(', ') || '-'}`,
    ...holding(part.recipients),
    '  fifos',
    ...table(
      ['name', 'head', 'tail', 'pending', 'slots', 'oldest pending age'],
      part.fifos.map((fifo) => [
        fifo.name,
        fifo.head,
        fifo.tail,
        fifo.pending,
        fifo.slotCount,
        fifo.oldestPendingAgeMs === null ? '-' : formatAge(fifo.oldestPendingAgeMs),
      ]),
    ),
    '  pools',
    ...table(
      ['name', 'capacity', 'used', 'urgent reserve'],
      part.pools.map((pool) => [pool.name, pool.capacity, pool.used, pool.urgentReserve]),
    ),
    `  dead letters  ${part.deadLetters.held} held, ${part.deadLetters.damaged} damaged, ` +
      `capacity ${part.deadLetters.capacity}`,
    `  discarded     ${part.discarded} torn or corrupt records (recovery drops them)`,
  ];
  return lines;
}

/**
 * The recipients that pending events still wait for: a recipient that never registers again
 * holds the FIFO head back until it is retired (`nvrelay recipients retire`).
 */
function holding(recipients: readonly RecipientHolding[]): string[] {
  return recipients
    .filter((recipient) => recipient.owed > 0)
    .map(
      ({ id, name, owed, oldestOwedSeq }) =>
        `  holds back  ${name} (${id}): ${owed} pending event${owed === 1 ? '' : 's'} owed, ` +
        `oldest seq ${oldestOwedSeq ?? '-'}`,
    );
}

function table(header: string[], rows: (string | number)[][]): string[] {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) =>
    Math.max(...cells.map((row) => (row[column] ?? '').length)),
  );
  return cells.map(
    (row) =>
      '    ' +
      row
        .map((cell, column) =>
          column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
        )
        .join('  '),
  );
}

function formatAge(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 120_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

addInspectPart({ name: 'node', collect: collectNode, render: renderNode });
addInspectPart(partnerPart); // an HA pair's partner mirror [193] (./partner.ts)
