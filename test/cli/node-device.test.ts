/**
 * cli/node-device.ts in process: tryReadNodeSnapshot's verdicts on device files, a bare device
 * (no node on it) as the typed failure `check` reports, and a node device booted on a private
 * copy that leaves the file as it was.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { hasNodeSections, pendingEvents, tryReadNodeSnapshot } from '../../cli/node-device.js';
import { Node } from '../../src/node/node.js';
import { openNodeDevice } from '../../src/node/device-file.js';
import { DirectNvram, inspectDeviceFile } from '../../src/nvram/index.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-node-device-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('tryReadNodeSnapshot', () => {
  test('a bare device is a typed failure, its code and message, and the file is unchanged', () => {
    const path = join(folder, 'bare.nvram');
    DirectNvram.format(path, {
      sizeBytes: 64 << 10,
      sections: [{ name: 'events', length: 8 << 10 }],
    });
    expect(hasNodeSections(inspectDeviceFile(path).sections)).toBe(false);
    const before = readFileSync(path);
    const result = tryReadNodeSnapshot(path);
    expect(result).toEqual({
      code: 'NVRAM_UNKNOWN_SECTION',
      message: expect.stringContaining('no section named "control"'),
    });
    expect('node' in result).toBe(false);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test('a node device boots on a copy: its pending events are read, the file is left as it was', () => {
    const path = join(folder, 'node.nvram');
    const { device } = openNodeDevice(path, { durability: 'process', sizeBytes: 1 << 20 });
    const node = Node.boot(device, { scheduling: 'manual' });
    node.registerRecipient('pager', {}, () => {});
    node.start();
    const seq = node.producer('raid').emit('disk.failed', 'err');
    node.close();
    device.close();
    const before = readFileSync(path);
    const result = tryReadNodeSnapshot(path);
    if (!('node' in result)) throw new Error(`no node: ${result.code}`);
    try {
      expect(
        pendingEvents(result.node).map((event) => [event.seq, event.type, event.owed]),
      ).toEqual([[seq, 'disk.failed', ['pager']]]);
    } finally {
      result.close();
    }
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
