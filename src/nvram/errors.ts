/**
 * Typed errors of the NVRAM device. Every expected failure (bad file, bad argument,
 * out of range, power cut) is an `NvramError` with a stable string `code`; the class is
 * handed to the native addon once, so errors thrown in C++ are ordinary `instanceof`-able
 * JavaScript errors (the better-sqlite3 pattern).
 */
export type NvramErrorCode =
  | 'NVRAM_FILE_MISSING' // the device file does not exist
  | 'NVRAM_NOT_A_FILE' // the path is a directory, a device node, a socket or a FIFO, not a file
  | 'NVRAM_FILE_EXISTS' // format refused to overwrite an existing file
  | 'NVRAM_TRUNCATED' // file shorter than the header page
  | 'NVRAM_SIZE_MISMATCH' // size recorded in the header differs from the file size
  | 'NVRAM_BAD_MAGIC' // not an nvrelay device (or the whole device was lost)
  | 'NVRAM_BAD_VERSION' // format version this build does not read
  | 'NVRAM_HEADER_CHECKSUM' // header CRC32C mismatch
  | 'NVRAM_BAD_LAYOUT' // section table invalid, or format arguments that cannot be laid out
  | 'NVRAM_BAD_SIZE' // device size not a positive multiple of 4096, or too large
  | 'NVRAM_UNKNOWN_SECTION' // no section of that name
  | 'NVRAM_OUT_OF_RANGE' // offset/length outside the device or section
  | 'NVRAM_BAD_ARGUMENT' // negative, non-integer, wrong type
  | 'NVRAM_UNALIGNED' // alignment required and not met
  | 'NVRAM_CLOSED' // use after close
  | 'NVRAM_LOCKED' // another process holds the device open for writing
  | 'NVRAM_POWER_CUT' // traced device: power was cut, no further instruction runs
  | 'NVRAM_IO' // an operating-system call failed (message carries errno text)
  | 'NVRAM_ADDON_MISSING'; // no native addon was built or shipped for this platform

export class NvramError extends Error {
  readonly code: NvramErrorCode;
  constructor(code: NvramErrorCode, message: string) {
    super(message);
    this.name = 'NvramError';
    this.code = code;
  }
}

/** Thrown by a traced device at the instruction where power is cut, and by every later one. */
export class PowerCutError extends NvramError {
  /** Index of the instruction that did not run (SPEC 3: a cut at k runs 0..k-1). */
  readonly instruction: number;
  constructor(message: string, instruction: number) {
    super('NVRAM_POWER_CUT', message);
    this.name = 'PowerCutError';
    this.instruction = instruction;
  }
}
