/**
 * The NVRAM device (SPEC 3, [140]): the public surface of src/nvram/.
 * The runtime is written against `NvramDevice`; production opens a `DirectNvram`, the crash
 * lab a `TracedNvram`.
 */
import { addon } from './addon.js';
import { fail, requireBytes, requireCount } from './arguments.js';

export { NvramError, PowerCutError, type NvramErrorCode } from './errors.js';
export type {
  NvramDevice,
  HeaderInfo,
  SectionInfo,
  PersistencyModel,
  Durability,
} from './device.js';
export type { SectionSpec, WordStoreList, TraceLog, NativeTracedDevice } from './addon-api.js';
export { DirectNvram, type DirectFormatOptions, type DirectOpenOptions } from './direct.js';
export { TracedNvram, type TracedFormatOptions, type TracedImageOptions } from './traced.js';
export {
  examineDeviceFile,
  examineHeader,
  inspectDeviceFile,
  type Finding,
  type HeaderExamination,
} from './header.js';
export {
  headerBytes,
  pageBytes,
  wordBytes,
  lineBytes,
  sectionsMax,
  persistencyModels,
} from './arguments.js';

/**
 * CRC32C (Castagnoli) of bytes [offset, offset + length) of `bytes` (default: all of it),
 * continuing from `seed` (default 0), computed natively.
 */
export function crc32c(bytes: Uint8Array, offset = 0, length?: number, seed = 0): number {
  const site = { label: 'crc32c', method: 'crc32c' };
  requireBytes(site, 'bytes', bytes);
  const from = requireCount(site, 'offset', offset);
  const count =
    length === undefined
      ? bytes.length - Math.min(from, bytes.length)
      : requireCount(site, 'length', length);
  if (from + count > bytes.length) {
    fail(
      site,
      'NVRAM_OUT_OF_RANGE',
      `[${from}, ${from + count}) is not inside the ${bytes.length}-byte array`,
    );
  }
  if (typeof seed !== 'number' || !(seed >>> 0 === seed)) {
    fail(site, 'NVRAM_BAD_ARGUMENT', `seed must be an integer in [0, 2^32), got ${String(seed)}`);
  }
  return addon.crc32c(bytes, from, count, seed);
}
