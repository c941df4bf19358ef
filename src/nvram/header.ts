/**
 * A read-only examination of a device header (docs/ARCHITECTURE.md, "The device header"),
 * for `nvrelay inspect` and `nvrelay check` on a device that may be open in another process:
 * it reads the file, takes no lock, writes nothing, and lists *every* finding instead of
 * stopping at the first (the addon's parseHeader is the authority when a device is opened;
 * test/nvram/header.test.ts holds the two to the same verdicts).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { HeaderInfo, SectionInfo } from './addon-api.js';
import { addon } from './addon.js';
import { deviceBytesMax, headerBytes, pageBytes, sectionsMax } from './arguments.js';
import { foreignMagic, requireDeviceFile } from './direct.js';
import { NvramError, type NvramErrorCode } from './errors.js';

/** Byte offsets of the header fields; the layout table in docs/ARCHITECTURE.md. */
export const headerLayout = {
  magic: 0,
  version: 8,
  headerBytes: 12,
  sizeBytes: 16,
  deviceId: 24,
  sectionCount: 32,
  reserved: 36,
  sectionTable: 40,
  sectionEntryBytes: 48,
  sectionNameBytes: 32,
  headerCrc: 1576,
  bootSlotA: 2048,
  bootSlotB: 2112,
} as const;

export const deviceMagic = 'NVRLDEV1';
export const formatVersion = 1;

export interface Finding {
  code: NvramErrorCode;
  message: string;
}

export interface HeaderExamination {
  /** The decoded header, or null when it is too broken to decode (bad magic, version, size). */
  header: HeaderInfo | null;
  /** Empty when the header and section table are sound. */
  findings: Finding[];
  fileBytes: number;
  /** Which boot slots hold a valid count (A, B). */
  bootSlotsValid: [boolean, boolean];
}

const sectionNamePattern = /^[a-z0-9._-]{1,31}$/;

/** Reads the header page of `path` (no lock) and examines it. NVRAM_FILE_MISSING / NVRAM_IO throw. */
export function examineDeviceFile(path: string): HeaderExamination {
  requireDeviceFile(path); // NVRAM_FILE_MISSING, or NVRAM_NOT_A_FILE naming what it is
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new NvramError('NVRAM_FILE_MISSING', `nvram: ${path}: no such device file`);
    throw new NvramError('NVRAM_IO', `nvram: ${path}: cannot open: ${(error as Error).message}`);
  }
  try {
    const fileBytes = fstatSync(fd).size;
    const page = new Uint8Array(Math.min(headerBytes, fileBytes));
    let filled = 0;
    while (filled < page.length) {
      const got = readSync(fd, page, filled, page.length - filled, filled);
      if (got === 0) break;
      filled += got;
    }
    return examineHeader(page.subarray(0, filled), fileBytes, path);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and validates the header of a device file without taking its lock (so it works on a
 * device in use). Throws the first finding as an NvramError.
 */
export function inspectDeviceFile(path: string): HeaderInfo {
  const { header, findings } = examineDeviceFile(path);
  const first = findings[0];
  if (first !== undefined) throw new NvramError(first.code, first.message);
  if (header === null) throw new Error(`assertion failed: ${path}: no findings but no header`);
  return header;
}

/** Examines a header page (`page` may be shorter than 4096 if the file is). */
export function examineHeader(
  page: Uint8Array,
  fileBytes: number,
  label: string,
): HeaderExamination {
  const findings: Finding[] = [];
  const none: HeaderExamination = {
    header: null,
    findings,
    fileBytes,
    bootSlotsValid: [false, false],
  };
  const note = (code: NvramErrorCode, problem: string): void => {
    findings.push({ code, message: `nvram: ${label}: ${problem}` });
  };
  if (page.length < headerBytes || fileBytes < headerBytes) {
    note(
      'NVRAM_TRUNCATED',
      `file is ${fileBytes} bytes, shorter than the ${headerBytes}-byte header`,
    );
    return none;
  }
  const view = new DataView(page.buffer, page.byteOffset, headerBytes);
  const magic = latin1(page.subarray(0, 8));
  if (magic !== deviceMagic) {
    const lost = page.every((byte) => byte === 0);
    note(
      'NVRAM_BAD_MAGIC',
      lost ? 'header is all zeros (device lost?)' : foreignMagic(page.subarray(0, 8)),
    );
    return none;
  }
  const version = view.getUint32(headerLayout.version, true);
  if (version !== formatVersion) {
    note(
      'NVRAM_BAD_VERSION',
      `format version ${version} is not supported (this build reads ${formatVersion})`,
    );
    return none;
  }
  const storedCrc = view.getUint32(headerLayout.headerCrc, true);
  const actualCrc = addon.crc32c(page, 0, headerLayout.headerCrc);
  if (storedCrc !== actualCrc) {
    note(
      'NVRAM_HEADER_CHECKSUM',
      `header checksum ${hex32(storedCrc)} does not match contents (${hex32(actualCrc)})`,
    );
  }
  // The rest in the addon's order (native/header.h, parse), so the first finding is its error.
  const declaredHeaderBytes = view.getUint32(headerLayout.headerBytes, true);
  if (declaredHeaderBytes !== headerBytes) {
    note('NVRAM_BAD_LAYOUT', `header size ${declaredHeaderBytes} is not ${headerBytes}`);
  }
  const sizeBytes = Number(view.getBigUint64(headerLayout.sizeBytes, true));
  if (sizeBytes % pageBytes !== 0 || sizeBytes < headerBytes || sizeBytes > deviceBytesMax) {
    note(
      'NVRAM_BAD_SIZE',
      `device size ${sizeBytes} is not a multiple of ${pageBytes} between ${headerBytes} and 2^40 bytes`,
    );
  }
  if (sizeBytes !== fileBytes) {
    note(
      'NVRAM_SIZE_MISMATCH',
      `header says the device is ${sizeBytes} bytes, but the file is ${fileBytes} bytes`,
    );
  }
  const deviceId = view.getBigUint64(headerLayout.deviceId, true);
  const sections = examineSections(view, page, sizeBytes, note);
  const slotA = readBootSlot(view, headerLayout.bootSlotA, deviceId);
  const slotB = readBootSlot(view, headerLayout.bootSlotB, deviceId);
  const bootCount = Math.max(slotA ?? 0, slotB ?? 0);
  const header: HeaderInfo = { magic, version, sizeBytes, deviceId, bootCount, sections };
  return { header, findings, fileBytes, bootSlotsValid: [slotA !== null, slotB !== null] };
}

function examineSections(
  view: DataView,
  page: Uint8Array,
  sizeBytes: number,
  note: (code: NvramErrorCode, problem: string) => void,
): SectionInfo[] {
  const count = view.getUint32(headerLayout.sectionCount, true);
  if (count > sectionsMax) {
    note('NVRAM_BAD_LAYOUT', `section count ${count} exceeds ${sectionsMax}`);
    return [];
  }
  if (view.getUint32(headerLayout.reserved, true) !== 0)
    note('NVRAM_BAD_LAYOUT', 'reserved field not zero');
  const sections: SectionInfo[] = [];
  let end = headerBytes; // sections are laid out in table order from the end of the header page
  for (let index = 0; index < sectionsMax; index++) {
    const at = headerLayout.sectionTable + index * headerLayout.sectionEntryBytes;
    const entry = page.subarray(at, at + headerLayout.sectionEntryBytes);
    if (index >= count) {
      if (entry.some((byte) => byte !== 0))
        note('NVRAM_BAD_LAYOUT', `unused section entry ${index} is not zero`);
      continue;
    }
    const nameBytes = entry.subarray(0, headerLayout.sectionNameBytes);
    const nameEnd = nameBytes.indexOf(0);
    const name = latin1(nameBytes.subarray(0, nameEnd < 0 ? nameBytes.length : nameEnd));
    const offset = Number(view.getBigUint64(at + headerLayout.sectionNameBytes, true));
    const length = Number(view.getBigUint64(at + headerLayout.sectionNameBytes + 8, true));
    const where = `section ${index} (${JSON.stringify(name)})`;
    if (
      !sectionNamePattern.test(name) ||
      nameBytes.subarray(name.length).some((byte) => byte !== 0)
    ) {
      note('NVRAM_BAD_LAYOUT', `${where}: name is not 1..31 characters of [a-z0-9._-], NUL-padded`);
    }
    if (sections.some((section) => section.name === name)) {
      note('NVRAM_BAD_LAYOUT', `${where}: name is used twice`);
    }
    if (offset % pageBytes !== 0 || length % pageBytes !== 0 || length === 0) {
      note(
        'NVRAM_BAD_LAYOUT',
        `${where}: offset ${offset} and length ${length} must be positive multiples of ${pageBytes}`,
      );
    }
    if (offset < end) {
      note('NVRAM_BAD_LAYOUT', `${where}: starts at ${offset}, overlapping what ends at ${end}`);
    }
    if (offset + length > sizeBytes) {
      note(
        'NVRAM_BAD_LAYOUT',
        `${where}: [${offset}, ${offset + length}) runs past the ${sizeBytes}-byte device`,
      );
    }
    end = Math.max(end, offset + length);
    sections.push({ name, offset, length });
  }
  return sections;
}

/** A boot slot's count if its CRC32C(deviceId ‖ bootCount) holds, else null. */
function readBootSlot(view: DataView, at: number, deviceId: bigint): number | null {
  const slot = new Uint8Array(16);
  new DataView(slot.buffer).setBigUint64(0, deviceId, true);
  const count = view.getBigUint64(at, true);
  new DataView(slot.buffer).setBigUint64(8, count, true);
  // As native/header.cpp readSlot: the CRC binds the slot to this device, the count is JS-safe.
  if (addon.crc32c(slot, 0, 16) !== view.getUint32(at + 8, true) || count >= 2n ** 53n) return null;
  return Number(count);
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function hex32(value: number): string {
  return '0x' + value.toString(16).padStart(8, '0');
}
