/**
 * `nvrelay check <device>`: verifies the header and the section table. Exit 0 if sound;
 * exit 1 with one line per finding if not. Reads only (no lock).
 *
 * Other parts of the system add checks of what they keep on the device (records, pointers)
 * with `addCheckPart` from their own command file; they run only if the header is sound.
 */
import type { Command } from 'commander';
import { examineDeviceFile, type Finding, type HeaderInfo } from '../nvram/index.js';

export interface CheckPart {
  readonly name: string;
  check(path: string, header: HeaderInfo): Finding[];
}

const parts: CheckPart[] = [];

export function addCheckPart(part: CheckPart): void {
  parts.push(part);
}

/** Every finding about the device at `path`; empty when it is sound. */
export function checkDevice(path: string): Finding[] {
  const examination = examineDeviceFile(path);
  const findings = [...examination.findings];
  const header = examination.header;
  if (header === null || findings.length > 0) return findings;
  if (!examination.bootSlotsValid[0] && !examination.bootSlotsValid[1]) {
    // Format writes slot A and a boot only ever rewrites the other slot, so one is always valid.
    findings.push({
      code: 'NVRAM_HEADER_CHECKSUM',
      message: `nvram: ${path}: neither boot slot is valid (boot count reads as 0)`,
    });
  }
  for (const part of parts) findings.push(...part.check(path, header));
  return findings;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      'verify the header and section table of a device; exit 1 with findings if not sound',
    )
    .argument('<device>', 'path of the device file')
    .action((device: string) => {
      const findings = checkDevice(device);
      if (findings.length === 0) {
        console.log(`${device}: sound`);
        return;
      }
      for (const finding of findings) console.log(`${finding.message} (${finding.code})`);
      console.log(`${device}: ${findings.length} finding${findings.length === 1 ? '' : 's'}`);
      process.exitCode = 1;
    });
}
