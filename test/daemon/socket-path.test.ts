/**
 * src/daemon/daemon.ts at its socket path: a file there that is not a socket is refused, so is
 * a socket a live daemon listens on; one left by a daemon that died is taken over.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { startDaemon } from './harness.js';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const made = mkdtempSync(join(tmpdir(), 'nvrelay-socket-path-'));
  folders.push(made);
  return made;
}

describe('the daemon socket path', () => {
  test('a regular file there is BAD_ARGUMENT, and the file and device are left alone', async () => {
    const dir = folder();
    writeFileSync(join(dir, 'd.sock'), 'notes');
    await expect(startDaemon({ dir })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
      message: `nvrelay: ${join(dir, 'd.sock')} exists and is not a socket`,
    });
    expect(lstatSync(join(dir, 'd.sock')).isFile()).toBe(true);
    expect(existsSync(join(dir, 'd.nvram'))).toBe(false);
  });

  test('a socket a live daemon listens on is refused before its device is touched', async () => {
    const first = await startDaemon();
    try {
      await expect(startDaemon({ dir: first.dir })).rejects.toMatchObject({
        code: 'BAD_ARGUMENT',
        message: `nvrelay: a daemon is already listening on ${first.socket}`,
      });
      expect(first.daemon.node.phase).not.toBe('failed');
    } finally {
      await first.remove();
    }
  });

  test('a socket left by a process killed with SIGKILL is removed and listened on anew', async () => {
    const dir = folder();
    const socket = join(dir, 'd.sock');
    const killed = spawnSync(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(killed.signal).toBe('SIGKILL');
    expect(lstatSync(socket).isSocket()).toBe(true);
    const daemon = await startDaemon({ dir });
    try {
      expect(lstatSync(socket).isSocket()).toBe(true);
      expect(daemon.daemon.node.phase).not.toBe('failed');
    } finally {
      await daemon.stop();
    }
  });
});
