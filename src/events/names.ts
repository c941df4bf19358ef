/**
 * Names stored in NVRAM: event types (dotted, e.g. `disk.failed` [111]; their dot-prefixes are
 * the subclasses recipients subscribe to [254]), sources (producers [110]) and recipients [170].
 * All are short ASCII, so a stored name is validated byte by byte on recovery.
 */
import { recipientNameBytesMax, sourceBytesMax, typeBytesMax } from '../constants.js';
import { badArgument } from './errors.js';

const typePattern = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const namePattern = /^[A-Za-z0-9._:-]+$/;

export type NameKind = 'type' | 'source' | 'recipient';

function bytesMax(kind: NameKind): number {
  if (kind === 'type') return typeBytesMax;
  return kind === 'source' ? sourceBytesMax : recipientNameBytesMax;
}

/** True if `name` is a valid name of this kind. */
export function isValidName(kind: NameKind, name: string): boolean {
  if (name.length === 0 || name.length > bytesMax(kind)) return false;
  return kind === 'type' ? typePattern.test(name) : namePattern.test(name);
}

/** The name as ASCII bytes; BAD_ARGUMENT if it is not a valid name of this kind. */
export function encodeName(kind: NameKind, name: unknown): Uint8Array {
  if (typeof name !== 'string' || !isValidName(kind, name)) {
    const shape =
      kind === 'type' ? 'dot-separated words of [A-Za-z0-9_-]' : 'characters of [A-Za-z0-9._:-]';
    return badArgument(
      `${kind} name must be 1..${bytesMax(kind)} ${shape}, got ${JSON.stringify(name)}`,
    );
  }
  const bytes = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) bytes[i] = name.charCodeAt(i);
  return bytes;
}

/** Decodes `length` bytes at `offset`; null unless they form a valid name of this kind. */
export function decodeName(
  kind: NameKind,
  bytes: Uint8Array,
  offset: number,
  length: number,
): string | null {
  if (length === 0 || length > bytesMax(kind) || offset + length > bytes.length) return null;
  let name = '';
  for (let i = 0; i < length; i++) {
    const code = bytes[offset + i] as number;
    if (code < 0x21 || code > 0x7e) return null;
    name += String.fromCharCode(code);
  }
  return isValidName(kind, name) ? name : null;
}

/** True if `type` is `prefix` or lies under it: `disk.` and `disk` both match `disk.failed`. */
export function typeMatches(prefix: string, type: string): boolean {
  if (prefix === '' || prefix === type) return true;
  if (!type.startsWith(prefix)) return false;
  return prefix.endsWith('.') || type.charCodeAt(prefix.length) === 0x2e;
}
