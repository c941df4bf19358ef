/**
 * `nvrelay inspect <device> [--json]`: the header, the section table and the boot count of a
 * device file. Reads only (no lock), so it works on a device another process has open.
 *
 * Other parts of the system add what they keep on the device (FIFOs, pools, ...) with
 * `addInspectPart` from their own command file; each part appears after the sections.
 */
import type { Command } from 'commander';
import { examineDeviceFile, NvramError, type HeaderInfo } from '../nvram/index.js';
import { formatSize } from './arguments.js';

export interface InspectPart {
  /** The key of the part in --json output, and its heading in text output. */
  readonly name: string;
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
    parts: parts.map((part) => ({ part, value: part.collect(path, header) })),
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

function hexId(id: bigint): string {
  return '0x' + id.toString(16).padStart(16, '0');
}

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('show the header, sections and boot count of a device (takes no lock)')
    .argument('<device>', 'path of the device file')
    .option('--json', 'print one JSON object')
    .action((device: string, options: { json?: boolean }) => {
      const report = inspectDevice(device);
      console.log(
        options.json === true
          ? JSON.stringify(inspectJson(report), null, 2)
          : renderInspect(report),
      );
    });
}
