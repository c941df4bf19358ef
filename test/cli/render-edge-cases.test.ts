/**
 * What `nvrelay dump` and `nvrelay inspect` print (cli/dump.ts, cli/inspect.ts) for what the
 * devices of the other tests do not hold: a relayed event with its origin trail, a dead letter
 * with the refusing recipient's code and no details, a node with no recipient, and a node
 * device whose node cannot boot.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { renderDump, type DumpReport } from '../../cli/dump.js';
import { inspectDevice, renderInspect } from '../../cli/inspect.js';
import type { DeadLetterEntry, PendingEvent } from '../../cli/node-device.js';
import { openNodeDevice } from '../../src/node/device-file.js';
import { Node } from '../../src/node/node.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-render-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const relayed: PendingEvent = {
  fifo: 'runtime-fifo',
  position: 4,
  verdict: 'valid',
  seq: 12,
  time: '2024-01-02T03:04:05.000Z',
  timeMs: 1_704_164_645_000,
  severity: 'err',
  source: 'raid',
  type: 'disk.failed',
  detailsBytes: 6,
  details: 'slot 4',
  detailsHex: null,
  intended: ['pager'],
  owed: ['pager'],
  originalSeq: 0,
  origin: [
    { node: '00000000000000a1', seq: 7 },
    { node: '00000000000000b2', seq: 9 },
  ],
};

const refused: DeadLetterEntry = {
  index: 0,
  recipient: 'webhook',
  seq: 3,
  reason: 'refused',
  detail: 503,
  attempts: 4,
  deadLetteredAt: '2024-01-02T03:04:06.000Z',
  originalSeq: 0,
  type: 'net.down',
  source: 'raid',
  severity: 'warning',
  details: null,
  detailsHex: null,
};

describe('renderDump', () => {
  test('a relayed event ends with its origin trail, first hop first', () => {
    const report: DumpReport = { path: 'x', pending: [relayed], deadLetters: [] };
    expect(renderDump(report).split('\n')).toEqual([
      'pending events: 1',
      '  seq 12 runtime-fifo@4 2024-01-02T03:04:05.000Z err raid disk.failed owed by pager of pager "slot 4" via 00000000000000a1:7>00000000000000b2:9',
      'dead letters: 0',
    ]);
  });

  test("a refused dead letter shows the recipient's code; no details show as empty hex", () => {
    const report: DumpReport = { path: 'x', pending: [], deadLetters: [refused] };
    expect(renderDump(report).split('\n')).toEqual([
      'pending events: 0',
      'dead letters: 1',
      '  #0 seq 3 for webhook: refused (503) after 4 attempts at 2024-01-02T03:04:06.000Z',
      '    warning raid net.down 0x',
    ]);
  });
});

let devices = 0;
function nodeDevice(register: (node: Node) => void): string {
  const path = join(folder, `node-${devices++}.nvram`);
  const { device } = openNodeDevice(path, { durability: 'process', sizeBytes: 4 << 20 });
  const node = Node.boot(device, { scheduling: 'manual' });
  register(node);
  node.start();
  node.close();
  device.close();
  return path;
}

describe('renderInspect of a node', () => {
  test('with no recipient registered, the recipients line shows a dash', () => {
    const text = renderInspect(inspectDevice(nodeDevice(() => undefined)));
    expect(text).toMatch(/\n {2}recipients {2}-\n/);
    expect(text).not.toContain('holds back');
  });

  test('a node that cannot boot is reported in the node part, the header still shown', () => {
    const path = nodeDevice((node) => node.registerRecipient('audit', {}, () => {}));
    const { device } = openNodeDevice(path, { durability: 'process' });
    const control = device.section('control');
    device.close();
    const fd = openSync(path, 'r+');
    writeSync(fd, new Uint8Array(64).fill(0xa5), 0, 64, control.offset);
    closeSync(fd);
    const report = inspectDevice(path);
    const node = report.parts.find(({ part }) => part.name === 'node');
    expect(node?.value).toMatchObject({ code: 'NODE_CORRUPT' });
    const text = renderInspect(report);
    expect(text).toMatch(/ {2}cannot boot a node on it: .*control.* \(NODE_CORRUPT\)/);
    expect(text).toContain('sections    5');
  });
});
