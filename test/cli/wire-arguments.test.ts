/**
 * cli/wire-arguments.ts and cli/arguments.ts: the values of serve, emit, tail, init, pump,
 * crashtest and simulate as commander checks them; a bad value is an InvalidArgumentError (usage, exit 2).
 */
import { InvalidArgumentError } from 'commander';
import { describe, expect, test } from 'vitest';
import { integerAtLeast, parseModel, parseSections, parseSize } from '../../cli/arguments.js';
import {
  collect,
  parseDurability,
  parseHostPort,
  parseSeverity,
} from '../../cli/wire-arguments.js';

function refusal(parse: () => unknown): string {
  try {
    parse();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error.message;
    throw error;
  }
  return 'accepted';
}

describe('daemon command values', () => {
  test('integers: digits only, at least the bound', () => {
    expect(integerAtLeast(1)(' 12 ')).toBe(12);
    expect(refusal(() => integerAtLeast(1)('0'))).toBe("expected an integer >= 1, got '0'");
    expect(refusal(() => integerAtLeast(0)('1e3'))).toBe("expected an integer >= 0, got '1e3'");
    expect(refusal(() => integerAtLeast(0)('9007199254740993'))).toMatch(/expected an integer/);
  });

  test('a persistency model is px86, relaxed or eadr', () => {
    expect(['px86', 'relaxed', 'eadr'].map(parseModel)).toEqual(['px86', 'relaxed', 'eadr']);
    expect(refusal(() => parseModel('tso'))).toBe("'tso' is not a model (px86, relaxed or eadr)");
  });

  test('durability is process or power', () => {
    expect(parseDurability('power')).toBe('power');
    expect(refusal(() => parseDurability('disk'))).toBe(
      "'disk' is not a durability (process or power)",
    );
  });

  test('a severity by name or by level digit; anything else names the problem', () => {
    expect(parseSeverity('err')).toBe('err');
    expect(parseSeverity('3')).toBe(3);
    expect(refusal(() => parseSeverity('loud'))).not.toMatch(/^nvrelay: /);
    expect(refusal(() => parseSeverity('loud'))).not.toBe('accepted');
    expect(refusal(() => parseSeverity('9'))).not.toBe('accepted');
  });

  test('HOST:PORT with a name, an IPv4 or a bracketed IPv6 host', () => {
    expect(parseHostPort('localhost:7411')).toEqual({ host: 'localhost', port: 7411 });
    expect(parseHostPort('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(refusal(() => parseHostPort('localhost:70000'))).toBe(
      "expected HOST:PORT, got 'localhost:70000'",
    );
    expect(refusal(() => parseHostPort('::1:80'))).toMatch(/expected HOST:PORT/);
  });

  test('repeated options collect in order', () => {
    expect(collect('disk.')).toEqual(['disk.']);
    expect(collect('net.', collect('disk.'))).toEqual(['disk.', 'net.']);
  });
});

describe('sizes and sections', () => {
  test('sizes with binary units; too large is refused', () => {
    expect(parseSize('64M')).toBe(64 * 2 ** 20);
    expect(parseSize('4kib')).toBe(4096);
    expect(parseSize('512')).toBe(512);
    expect(refusal(() => parseSize('99999999999G'))).toBe("size '99999999999G' is too large");
  });

  test('an empty section list is no sections', () => {
    expect(parseSections('  ')).toEqual([]);
    expect(parseSections('events:1M,boot:64K')).toEqual([
      { name: 'events', length: 2 ** 20 },
      { name: 'boot', length: 64 * 2 ** 10 },
    ]);
  });
});
