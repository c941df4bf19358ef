/**
 * src/nvram/direct.ts: a path that is not a device file is refused before anything maps it,
 * and the error says what is there instead.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { fileKind, requireDeviceFile } from '../../src/nvram/direct.js';
import { NvramError } from '../../src/nvram/errors.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-file-kinds-'));
const servers: Server[] = [];
afterAll(() => {
  for (const server of servers) server.close();
  rmSync(folder, { recursive: true, force: true });
});

function refusal(path: string, options: { mayBeMissing?: boolean } = {}): string {
  try {
    requireDeviceFile(path, options);
  } catch (error) {
    if (error instanceof NvramError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'accepted';
}

describe('requireDeviceFile', () => {
  test('a regular file is accepted; a directory is not', () => {
    const file = join(folder, 'device.nvram');
    writeFileSync(file, '');
    expect(refusal(file)).toBe('accepted');
    const directory = join(folder, 'a-directory');
    mkdirSync(directory);
    expect(refusal(directory)).toBe(
      `NVRAM_NOT_A_FILE: nvram: ${directory}: is a directory, not a device file`,
    );
  });

  test('a character device, a named pipe and a socket are named as such', async () => {
    expect(refusal('/dev/null')).toMatch(/is a character device, not a device file$/);
    const pipe = join(folder, 'pipe');
    expect(spawnSync('mkfifo', [pipe]).status).toBe(0);
    expect(refusal(pipe)).toMatch(/is a named pipe, not a device file$/);
    const socket = join(folder, 'socket');
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    expect(refusal(socket)).toMatch(/is a socket, not a device file$/);
  });

  test.skipIf(!existsSync('/dev/loop0'))('a block device is named as such', () => {
    expect(refusal('/dev/loop0')).toMatch(/is a block device, not a device file$/);
  });

  test('nothing there: missing, unless the caller may create it; a file as a folder too', () => {
    const missing = join(folder, 'missing.nvram');
    expect(refusal(missing)).toBe(`NVRAM_FILE_MISSING: nvram: ${missing}: no such device file`);
    expect(refusal(missing, { mayBeMissing: true })).toBe('accepted');
    const file = join(folder, 'plain');
    writeFileSync(file, '');
    expect(refusal(join(file, 'device.nvram'))).toMatch(/^NVRAM_FILE_MISSING: /);
  });

  test('a path that cannot be looked up is NVRAM_IO with the reason', () => {
    const loop = join(folder, 'loop');
    symlinkSync(loop, loop);
    expect(refusal(loop)).toMatch(/^NVRAM_IO: nvram: .*loop: cannot stat: ELOOP/);
  });
});

describe('fileKind', () => {
  test('an entry of no known kind is "not a regular file"', () => {
    const stats = statSync(folder);
    const nothing = Object.assign(Object.create(stats) as typeof stats, {
      isFile: () => false,
      isDirectory: () => false,
      isCharacterDevice: () => false,
      isBlockDevice: () => false,
      isFIFO: () => false,
      isSocket: () => false,
    });
    expect(fileKind(nothing)).toBe('not a regular file');
    expect(fileKind(stats)).toBe('a directory');
  });
});
