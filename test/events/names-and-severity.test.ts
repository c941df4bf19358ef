import { describe, expect, test } from 'vitest';
import { recipientNameBytesMax, sourceBytesMax, typeBytesMax } from '../../src/constants.js';
import { NodeError } from '../../src/events/errors.js';
import {
  decodeName,
  encodeName,
  isValidName,
  typeMatches,
  type NameKind,
} from '../../src/events/names.js';
import { severityLevel, severityName, severityNames } from '../../src/events/severity.js';

function badArgument(call: () => unknown): void {
  expect(call).toThrow(NodeError);
  try {
    call();
  } catch (error) {
    expect((error as NodeError).code).toBe('BAD_ARGUMENT');
  }
}

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

describe('severity levels', () => {
  test('each name is its level, each level 0..7 is itself', () => {
    severityNames.forEach((name, level) => {
      expect(severityLevel(name)).toBe(level);
      expect(severityLevel(level)).toBe(level);
      expect(severityName(level)).toBe(name);
    });
    expect(severityNames).toEqual([
      'emerg',
      'alert',
      'crit',
      'err',
      'warning',
      'notice',
      'info',
      'debug',
    ]);
  });

  test('anything else is BAD_ARGUMENT', () => {
    for (const bad of [-1, 8, 2.5, Number.NaN, 'error', 'ERR', '', '3'])
      badArgument(() => severityLevel(bad as never));
    badArgument(() => severityLevel(null as never));
    for (const bad of [-1, 8, 1.5]) badArgument(() => severityName(bad));
  });
});

describe('names', () => {
  const limits: [NameKind, number][] = [
    ['type', typeBytesMax],
    ['source', sourceBytesMax],
    ['recipient', recipientNameBytesMax],
  ];

  test.each(limits)('a %s name is 1..%i bytes', (kind, max) => {
    expect(isValidName(kind, '')).toBe(false);
    expect(isValidName(kind, 'a')).toBe(true);
    expect(isValidName(kind, 'a'.repeat(max))).toBe(true);
    expect(isValidName(kind, 'a'.repeat(max + 1))).toBe(false);
    expect(decodeName(kind, ascii('a'.repeat(max)), 0, max)).toBe('a'.repeat(max));
    expect(decodeName(kind, ascii('a'.repeat(max + 1)), 0, max + 1)).toBeNull();
    badArgument(() => encodeName(kind, 'a'.repeat(max + 1)));
  });

  test('a type is dot-separated words; sources and recipients may use . _ : -', () => {
    for (const good of ['disk', 'disk.failed', 'a-b_c.D9', 'x.y.z'])
      expect(isValidName('type', good)).toBe(true);
    for (const bad of ['.disk', 'disk.', 'disk..failed', 'disk failed', 'disk:failed', 'dïsk'])
      expect(isValidName('type', bad)).toBe(false);
    for (const good of ['raid', 'host:raid.1', '-._:', 'A9'])
      expect(isValidName('source', good)).toBe(true);
    for (const bad of ['a b', 'a/b', 'a\u00e9', 'a\n']) {
      expect(isValidName('source', bad)).toBe(false);
      expect(isValidName('recipient', bad)).toBe(false);
    }
  });

  test('encodeName gives the ASCII bytes, or BAD_ARGUMENT', () => {
    expect(encodeName('type', 'disk.failed')).toEqual(ascii('disk.failed'));
    expect(encodeName('source', 'raid:1')).toEqual(ascii('raid:1'));
    badArgument(() => encodeName('type', 7));
    badArgument(() => encodeName('type', 'disk..failed'));
    badArgument(() => encodeName('recipient', ''));
  });

  test('decodeName reads exactly its bytes, and refuses what is not a name', () => {
    const bytes = ascii('xxdisk.failedyy');
    expect(decodeName('type', bytes, 2, 11)).toBe('disk.failed');
    expect(decodeName('type', bytes, 2, 4)).toBe('disk');
    expect(decodeName('type', bytes, 2, 0)).toBeNull();
    // the range must lie inside the buffer: the last byte is the buffer's last
    expect(decodeName('source', bytes, 13, 2)).toBe('yy');
    expect(decodeName('source', bytes, 13, 3)).toBeNull();
    // name characters only, whatever the byte
    for (const [code, accepted] of [
      [0x20, false],
      [0x21, false], // '!': printable, but not a name character
      [0x2d, true], // '-'
      [0x7e, false], // '~': likewise
      [0x7f, false],
      [0x00, false],
      [0xe9, false],
    ] as const) {
      const name = Uint8Array.of(0x61, code, 0x62);
      expect(decodeName('source', name, 0, 3), code.toString(16)).toBe(
        accepted ? `a${String.fromCharCode(code)}b` : null,
      );
    }
  });

  test('typeMatches: the prefix itself, or a whole dot-separated subclass', () => {
    expect(typeMatches('', 'disk.failed')).toBe(true);
    expect(typeMatches('disk', 'disk')).toBe(true);
    expect(typeMatches('disk', 'disk.failed')).toBe(true);
    expect(typeMatches('disk.', 'disk.failed')).toBe(true);
    expect(typeMatches('disk.failed', 'disk.failed')).toBe(true);
    expect(typeMatches('disk', 'diskette.failed')).toBe(false);
    expect(typeMatches('disk', 'disk-array')).toBe(false);
    expect(typeMatches('disk.', 'disk')).toBe(false);
    expect(typeMatches('disk.failed', 'disk')).toBe(false);
    expect(typeMatches('net', 'disk.failed')).toBe(false);
  });
});
