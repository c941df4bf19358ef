/**
 * src/nvram/arguments.ts on its own: the argument checks behind every device method's slow
 * path, each with the error code and message a caller sees.
 */
import { describe as group, expect, test } from 'vitest';
import {
  describe,
  failAccess,
  requireLayout,
  requireOptions,
  requireU32Value,
  requireWordValue,
  sectionsMax,
} from '../../src/nvram/arguments.js';
import { NvramError } from '../../src/nvram/errors.js';

const site = { label: 'dev', method: 'test' };

/** The NvramError `run` throws, as `code: message`. */
function failure(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof NvramError) return `${error.code}: ${error.message}`;
    throw error;
  }
  throw new Error('did not throw');
}

group('describe', () => {
  test('shortens a long string to 40 characters', () => {
    expect(describe('x'.repeat(50))).toBe(JSON.stringify(`${'x'.repeat(40)}...`));
    expect(describe('short')).toBe('"short"');
  });
});

group('word and u32 values', () => {
  test('-0 is stored as 0', () => {
    expect(Object.is(requireWordValue(site, -0), 0)).toBe(true);
    expect(Object.is(requireU32Value(site, -0), 0)).toBe(true);
    expect(requireWordValue(site, 2 ** 53 - 1)).toBe(2 ** 53 - 1);
    expect(requireU32Value(site, 0xffffffff)).toBe(0xffffffff);
  });

  test('out-of-range values are NVRAM_BAD_ARGUMENT', () => {
    expect(failure(() => requireWordValue(site, -1))).toMatch(
      /^NVRAM_BAD_ARGUMENT: .*2\^53\), got -1$/,
    );
    expect(failure(() => requireU32Value(site, 2 ** 32))).toMatch(/2\^32\), got 4294967296$/);
    expect(failure(() => requireU32Value(site, 1.5))).toMatch(/got 1\.5$/);
  });
});

group('failAccess', () => {
  test('names an access that runs past the end of the device', () => {
    expect(failure(() => failAccess(site, 8192, 16, 8, 4096, 8200))).toBe(
      'NVRAM_OUT_OF_RANGE: nvram: dev: test: 16 bytes at offset 8192 run past the end of the 8200-byte device',
    );
  });

  test('an access that is fine is a bug in the fast check, not the caller', () => {
    expect(() => failAccess(site, 8192, 8, 8, 4096, 16384)).toThrow(/for no reason \(bug\)/);
  });
});

group('requireOptions', () => {
  test('a misspelt key names the closest known key; a strange one lists them all', () => {
    expect(failure(() => requireOptions(site, { sizebytes: 1 }, ['sizeBytes', 'force']))).toMatch(
      /unknown option 'sizebytes' \(did you mean 'sizeBytes'\?\)$/,
    );
    expect(failure(() => requireOptions(site, { durability: 1 }, ['sizeBytes', 'force']))).toMatch(
      /unknown option 'durability' \(known options: 'sizeBytes', 'force'\)$/,
    );
  });
});

group('requireLayout', () => {
  const page = 4096;
  const section = (name: string, length = page) => ({ name, length });

  test('at most 32 sections', () => {
    const many = Array.from({ length: sectionsMax + 1 }, (_, i) => section(`s${i}`));
    expect(failure(() => requireLayout(site, 64 * page, many))).toBe(
      `NVRAM_BAD_LAYOUT: nvram: dev: test: at most ${sectionsMax} sections, got ${sectionsMax + 1}`,
    );
  });

  test('a section name used twice, a section that is not an object, an empty section', () => {
    expect(failure(() => requireLayout(site, 8 * page, [section('a'), section('a')]))).toMatch(
      /section name 'a' is used twice$/,
    );
    expect(failure(() => requireLayout(site, 8 * page, [section('a'), 'b']))).toMatch(
      /^NVRAM_BAD_ARGUMENT: .*sections\[1\] must be \{name, length\}, got "b"$/,
    );
    expect(failure(() => requireLayout(site, 8 * page, [section('a', 0)]))).toMatch(
      /sections\[0\]\.length must be positive$/,
    );
  });

  test('sections rounded up to pages must fit after the header page', () => {
    expect(requireLayout(site, 3 * page, [section('a', 1), section('b', page)])).toEqual([
      section('a', 1),
      section('b', page),
    ]);
    expect(failure(() => requireLayout(site, 2 * page, [section('a', page + 1)]))).toMatch(
      /the header page and sections need 12288 bytes but the device has 8192$/,
    );
  });
});
