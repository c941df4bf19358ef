/**
 * Files that are not nvrelay devices, described by what they start with (src/nvram/direct.ts,
 * header.ts): text, bytes of no known kind, and a header page of zeros (a device whose memory
 * was lost); and the kind of a regular file in words.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DirectNvram, fileKind } from '../../src/nvram/direct.js';
import { examineDeviceFile, inspectDeviceFile } from '../../src/nvram/header.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-foreign-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('a file that is not a device', () => {
  test('text is said to look like text; other bytes are shown without a guess', () => {
    const text = file('notes.txt', 'hello, this is not a device\n'.repeat(400));
    expect(() => DirectNvram.open(text)).toThrow(
      expect.objectContaining({
        code: 'NVRAM_BAD_MAGIC',
        message: expect.stringMatching(
          /starts with 68 65 6c 6c 6f 2c 20 74, not the magic NVRLDEV1; it looks like text$/,
        ),
      }),
    );
    const bytes = new Uint8Array(8192).fill(0x01);
    bytes[0] = 0xfe;
    const other = file('other.bin', bytes);
    expect(() => DirectNvram.open(other)).toThrow(
      expect.objectContaining({
        code: 'NVRAM_BAD_MAGIC',
        message: expect.stringMatching(
          /starts with fe 01 01 01 01 01 01 01, not the magic NVRLDEV1$/,
        ),
      }),
    );
  });

  test('a header page of zeros: the device was lost, said so by the examination', () => {
    const zeros = file('zeros.nvram', new Uint8Array(16384));
    const { header, findings } = examineDeviceFile(zeros);
    expect(header).toBeNull();
    expect(findings).toEqual([
      {
        code: 'NVRAM_BAD_MAGIC',
        message: `nvram: ${zeros}: header is all zeros (device lost?)`,
      },
    ]);
    expect(() => inspectDeviceFile(zeros)).toThrow(
      expect.objectContaining({ code: 'NVRAM_BAD_MAGIC' }),
    );
  });

  test('a regular file is named as one', () => {
    expect(fileKind(statSync(file('plain', 'x')))).toBe('a regular file');
    expect(fileKind(statSync(dir))).toBe('a directory');
  });
});
