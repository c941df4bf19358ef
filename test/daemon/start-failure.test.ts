/**
 * A daemon that cannot listen (its TCP port taken) fails to start with the system's error and
 * leaves the device closed and unlocked: the next start on it succeeds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { expect, test } from 'vitest';
import { defaultConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';

test('a port in use: EADDRINUSE, and the device is free again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-start-'));
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  const options = {
    device: join(dir, 'd.nvram'),
    durability: 'process' as const,
    config: defaultConfig(),
    log: pino({ level: 'silent' }),
    socket: join(dir, 'd.sock'),
  };
  try {
    await expect(
      Daemon.start({ ...options, listen: { host: '127.0.0.1', port } }),
    ).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    const daemon = await Daemon.start(options); // NVRAM_LOCKED if the first had kept the lock
    expect(daemon.node.phase).toBe('running');
    await daemon.stop();
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
