/**
 * Argument validation done in TypeScript before anything crosses into native code (the
 * better-sqlite3 pattern): every public entry point of DirectNvram and TracedNvram checks its
 * arguments here and throws an NvramError with an exact message, so the addon only ever sees
 * well-formed input (it re-checks anyway; see addon-api.ts).
 *
 * Messages have the form `nvram: <device label>: <method>: <problem>`, like the addon's.
 */
import type { PersistencyModel, SectionSpec } from './addon-api.js';
import { NvramError } from './errors.js';

/** The header page: page 0 of every device (docs/ARCHITECTURE.md). */
export const headerBytes = 4096;
/** Device sizes and section lengths are multiples of a page. */
export const pageBytes = 4096;
/** SPEC 3: the unit of atomicity. */
export const wordBytes = 8;
/** SPEC 3: the unit of flushing. */
export const lineBytes = 64;
/** docs/ARCHITECTURE.md: the section table has 32 entries. */
export const sectionsMax = 32;
/** Largest device (native/nvram.h): 1 TiB; sparse files make large devices cheap. */
export const deviceBytesMax = 2 ** 40;

const sectionNamePattern = /^[a-z0-9._-]{1,31}$/;

export const persistencyModels: readonly PersistencyModel[] = ['px86', 'relaxed', 'eadr'];

/** A printable rendering of any value for messages (never throws). */
export function describe(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string')
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.length} bytes`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** Where an error happened: the device label and the method name. */
export interface Site {
  readonly label: string;
  readonly method: string;
}

export function fail(site: Site, code: NvramError['code'], problem: string): never {
  throw new NvramError(code, `nvram: ${site.label}: ${site.method}: ${problem}`);
}

/** A function (NVRAM_BAD_ARGUMENT otherwise): an asynchronous operation's callback. */
export function requireFunction(site: Site, name: string, value: unknown): void {
  if (typeof value !== 'function')
    fail(site, 'NVRAM_BAD_ARGUMENT', `${name} must be a function, got ${describe(value)}`);
}

/** A non-negative integer that is exact in a double (NVRAM_BAD_ARGUMENT otherwise). */
export function requireCount(site: Site, name: string, value: unknown): number {
  if (typeof value !== 'number') {
    fail(site, 'NVRAM_BAD_ARGUMENT', `${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value)) {
    fail(site, 'NVRAM_BAD_ARGUMENT', `${name} must be an integer, got ${describe(value)}`);
  }
  if (value < 0) {
    fail(site, 'NVRAM_BAD_ARGUMENT', `${name} must not be negative, got ${describe(value)}`);
  }
  return value === 0 ? 0 : value; // -0 becomes 0
}

/**
 * The slow path behind every fast bounds check: works out exactly what is wrong with an access
 * of `length` bytes at `offset` in [lowest, sizeBytes) with `alignment`, and throws it. Called
 * only when the fast check already failed, so it must throw.
 */
export function failAccess(
  site: Site,
  offset: unknown,
  length: number,
  alignment: number,
  lowest: number,
  sizeBytes: number,
): never {
  const at = requireCount(site, 'offset', offset);
  if (at % alignment !== 0) {
    fail(site, 'NVRAM_UNALIGNED', `offset ${at} is not a multiple of ${alignment}`);
  }
  if (at < lowest) {
    fail(site, 'NVRAM_OUT_OF_RANGE', `offset ${at} is inside the header page [0, ${lowest})`);
  }
  if (at + length > sizeBytes) {
    fail(
      site,
      'NVRAM_OUT_OF_RANGE',
      `${length} bytes at offset ${at} run past the end of the ${sizeBytes}-byte device`,
    );
  }
  throw new Error(`${site.label}: ${site.method}: access check failed for no reason (bug)`);
}

/** An (offset, length) range inside [lowest, sizeBytes); returns nothing, throws if bad. */
export function requireRange(
  site: Site,
  offset: unknown,
  length: unknown,
  lowest: number,
  sizeBytes: number,
): void {
  const at = requireCount(site, 'offset', offset);
  const count = requireCount(site, 'length', length);
  if (count === 0 && at <= sizeBytes) return; // an empty range anywhere on the device is a no-op
  if (at < lowest) {
    fail(site, 'NVRAM_OUT_OF_RANGE', `offset ${at} is inside the header page [0, ${lowest})`);
  }
  if (at + count > sizeBytes) {
    fail(
      site,
      'NVRAM_OUT_OF_RANGE',
      `range [${at}, ${at + count}) runs past the end of the ${sizeBytes}-byte device`,
    );
  }
}

export function requireBytes(site: Site, name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    fail(site, 'NVRAM_BAD_ARGUMENT', `${name} must be a Uint8Array, got ${describe(value)}`);
  }
  return value;
}

/** A u64 word value held in a JS number: an integer in [0, 2^53). */
export function requireWordValue(site: Site, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(
      site,
      'NVRAM_BAD_ARGUMENT',
      `value must be an integer in [0, 2^53), got ${describe(value)}`,
    );
  }
  return value === 0 ? 0 : value;
}

export function requireU32Value(site: Site, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    fail(
      site,
      'NVRAM_BAD_ARGUMENT',
      `value must be an integer in [0, 2^32), got ${describe(value)}`,
    );
  }
  return value === 0 ? 0 : value;
}

export function requireString(site: Site, name: string, value: unknown): string {
  if (typeof value !== 'string') {
    fail(site, 'NVRAM_BAD_ARGUMENT', `${name} must be a string, got ${describe(value)}`);
  }
  return value;
}

export function requirePath(site: Site, value: unknown): string {
  const path = requireString(site, 'path', value);
  if (path.length === 0 || path.includes('\0')) {
    fail(
      site,
      'NVRAM_BAD_ARGUMENT',
      `path must be a non-empty string without NUL, got ${describe(value)}`,
    );
  }
  return path;
}

export function requireModel(site: Site, value: unknown): PersistencyModel {
  if (typeof value !== 'string' || !(persistencyModels as readonly string[]).includes(value)) {
    fail(
      site,
      'NVRAM_BAD_ARGUMENT',
      `model must be one of 'px86', 'relaxed', 'eadr', got ${describe(value)}`,
    );
  }
  return value as PersistencyModel;
}

export function requireBoolean(site: Site, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    fail(site, 'NVRAM_BAD_ARGUMENT', `${name} must be true or false, got ${describe(value)}`);
  }
  return value;
}

/** Levenshtein distance, for "did you mean" on misspelt option names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * An options object: undefined (all defaults) or a plain object whose keys are all known.
 * A misspelt key is an error naming the closest known key, never silently ignored.
 */
export function requireOptions(
  site: Site,
  value: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(site, 'NVRAM_BAD_ARGUMENT', `options must be an object, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const closest = [...known].sort((a, b) => editDistance(key, a) - editDistance(key, b))[0];
    const hint =
      closest !== undefined && editDistance(key.toLowerCase(), closest.toLowerCase()) <= 3
        ? ` (did you mean '${closest}'?)`
        : ` (known options: ${known.map((k) => `'${k}'`).join(', ')})`;
    fail(site, 'NVRAM_BAD_ARGUMENT', `unknown option '${key}'${hint}`);
  }
  return value as Record<string, unknown>;
}

/** Validates a format request; the same rules as native format (docs/ARCHITECTURE.md). */
export function requireLayout(
  site: Site,
  sizeValue: unknown,
  sectionsValue: unknown,
): SectionSpec[] {
  const sizeBytes = requireCount(site, 'sizeBytes', sizeValue);
  if (sizeBytes === 0 || sizeBytes % pageBytes !== 0 || sizeBytes > deviceBytesMax) {
    fail(
      site,
      'NVRAM_BAD_SIZE',
      `sizeBytes must be a positive multiple of ${pageBytes} up to 2^40, got ${sizeBytes}`,
    );
  }
  if (!Array.isArray(sectionsValue)) {
    fail(site, 'NVRAM_BAD_ARGUMENT', `sections must be an array, got ${describe(sectionsValue)}`);
  }
  if (sectionsValue.length > sectionsMax) {
    fail(site, 'NVRAM_BAD_LAYOUT', `at most ${sectionsMax} sections, got ${sectionsValue.length}`);
  }
  const sections = sectionsValue.map((entry: unknown, index) => requireSection(site, entry, index));
  let end = headerBytes;
  const names = new Set<string>();
  for (const section of sections) {
    if (names.has(section.name)) {
      fail(site, 'NVRAM_BAD_LAYOUT', `section name '${section.name}' is used twice`);
    }
    names.add(section.name);
    end += Math.ceil(section.length / pageBytes) * pageBytes;
  }
  if (end > sizeBytes) {
    fail(
      site,
      'NVRAM_BAD_LAYOUT',
      `the header page and sections need ${end} bytes but the device has ${sizeBytes}`,
    );
  }
  return sections;
}

function requireSection(site: Site, entry: unknown, index: number): SectionSpec {
  const where = `sections[${index}]`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    fail(site, 'NVRAM_BAD_ARGUMENT', `${where} must be {name, length}, got ${describe(entry)}`);
  }
  const fields = requireOptions({ label: site.label, method: `${site.method}: ${where}` }, entry, [
    'name',
    'length',
  ]);
  const name = fields['name'];
  if (typeof name !== 'string' || !sectionNamePattern.test(name)) {
    fail(
      site,
      'NVRAM_BAD_LAYOUT',
      `${where}.name must be 1..31 characters of [a-z0-9._-], got ${describe(name)}`,
    );
  }
  const length = requireCount(site, `${where}.length`, fields['length']);
  if (length === 0) fail(site, 'NVRAM_BAD_LAYOUT', `${where}.length must be positive`);
  return { name, length };
}
