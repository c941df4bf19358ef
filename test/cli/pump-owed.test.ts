/**
 * `nvrelay pump` (the built CLI in a child process) on a device whose pending events are owed
 * to a recipient the pump does not register: refused before it emits anything, naming the
 * recipient, since those events could never complete.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Node } from '../../src/node/node.js';
import { openNodeDevice } from '../../src/node/device-file.js';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-pump-owed-'));

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('nvrelay pump on a device that owes events to another recipient', () => {
  test('exits 1 with NODE_STATE naming that recipient; the events stay pending', () => {
    const path = join(dir, 'owed.nvram');
    const { device } = openNodeDevice(path, { durability: 'process' });
    const node = Node.boot(device, { scheduling: 'manual' });
    node.registerRecipient('pager', {}, () => {}); // never confirms
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    node.drain();
    node.close();
    device.close();
    const result = spawnSync(process.execPath, [main, 'pump', path, '--count', '5'], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `nvrelay: pump: pending events on ${path} are owed to recipients this pump does not ` +
        'register (pager): give --recipients to cover them, or retire them (NODE_STATE)\n',
    );
    expect(result.stdout).toBe('');
  });
});
