/**
 * cli/inspect.ts in process: a bare device without sections, a node device some of whose events
 * a recipient still owes, and the node part's rendering of what a real device rarely shows
 * (ages of minutes and hours, one event owed, a node that cannot boot).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { inspectDevice, renderInspect } from '../../cli/inspect.js';
import { Node } from '../../src/node/node.js';
import { openNodeDevice } from '../../src/node/device-file.js';
import { DirectNvram } from '../../src/nvram/index.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-inspect-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A node device on which `pager` owes one event and `audit` none. */
function deviceWithOneOwed(): string {
  const path = join(folder, 'node.nvram');
  const { device } = openNodeDevice(path, { durability: 'process', sizeBytes: 4 << 20 });
  const node = Node.boot(device, { scheduling: 'manual' });
  node.registerRecipient('audit', {}, (event, audit) => audit.confirm(event.seq));
  node.registerRecipient('pager', { prefixes: ['disk.'] }, () => {});
  node.start();
  node.producer('raid').emit('disk.failed', 'err', new Uint8Array(4));
  node.drain();
  node.close();
  device.close();
  return path;
}

describe('nvrelay inspect, rendered', () => {
  test('a bare device without sections lists none', () => {
    const path = join(folder, 'bare.nvram');
    DirectNvram.format(path, { sizeBytes: 64 << 10 });
    const report = inspectDevice(path);
    expect(report.parts).toEqual([]);
    const text = renderInspect(report);
    expect(text).toContain('sections    0');
    expect(text).not.toContain('offset');
  });

  test('a recipient that owes one event is named as holding the FIFO back', () => {
    const text = renderInspect(inspectDevice(deviceWithOneOwed()));
    expect(text).toMatch(/holds back {2}pager \(\d+\): 1 pending event owed, oldest seq \d+/);
    expect(text).not.toMatch(/holds back {2}audit/);
  });

  test('ages of minutes and hours, an unknown oldest seq, and a node that cannot boot', () => {
    const report = inspectDevice(deviceWithOneOwed());
    const node = report.parts.find(({ part }) => part.name === 'node');
    expect(node).toBeDefined();
    if (node === undefined) return;
    const { part, value } = node;
    const real = value as {
      fifos: { oldestPendingAgeMs: number | null }[];
      recipients: { owed: number; oldestOwedSeq: number | null }[];
    };
    const ages = [90_000, 600_000, 9_000_000];
    const aged = {
      ...real,
      fifos: ages.map((ms, i) => ({ ...real.fifos[0], name: `fifo-${i}`, oldestPendingAgeMs: ms })),
      recipients: real.recipients.map((r) => ({ ...r, owed: 2, oldestOwedSeq: null })),
    };
    const lines = part.render(aged).join('\n');
    expect(lines).toContain('90.0 s');
    expect(lines).toContain('10.0 min');
    expect(lines).toContain('2.5 h');
    expect(lines).toMatch(/2 pending events owed, oldest seq -/);
    expect(part.render({ error: 'control block damaged', code: 'NODE_CORRUPT' })).toEqual([
      '  cannot boot a node on it: control block damaged (NODE_CORRUPT)',
    ]);
  });
});
