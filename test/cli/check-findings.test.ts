/**
 * cli/check.ts in process: a header whose two boot slots both fail their checksums, and a node
 * device whose node cannot boot, are findings; a bare device with only its header is sound.
 */
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { checkDevice } from '../../cli/check.js';
import { openNodeDevice } from '../../src/node/device-file.js';
import { DirectNvram } from '../../src/nvram/index.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-check-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Overwrites `bytes` at `offset` of the file, as damage would. */
function damage(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

describe('checkDevice', () => {
  test('a bare device is sound; with both boot slots damaged it is not', () => {
    const path = join(folder, 'bare.nvram');
    DirectNvram.format(path, { sizeBytes: 64 << 10 });
    expect(checkDevice(path)).toEqual([]);
    // the slots' checksums (header offsets 2048 + 8 and 2112 + 8) no longer match
    damage(path, 2048 + 8, new Uint8Array([1, 2, 3, 4]));
    damage(path, 2112 + 8, new Uint8Array([1, 2, 3, 4]));
    expect(checkDevice(path)).toEqual([
      {
        code: 'NVRAM_HEADER_CHECKSUM',
        message: `nvram: ${path}: neither boot slot is valid (boot count reads as 0)`,
      },
    ]);
  });

  test('a node device whose control block is gone: the node cannot boot, and says why', () => {
    const path = join(folder, 'node.nvram');
    const { device } = openNodeDevice(path, { durability: 'process', sizeBytes: 4 << 20 });
    const control = device.section('control');
    device.close();
    damage(path, control.offset, new Uint8Array(64).fill(0xa5));
    const findings = checkDevice(path);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ code: 'NODE_CORRUPT' });
    expect(findings[0]?.message).toContain('control');
  });
});
