/**
 * cli/dump.ts and cli/node-device.ts in process: pending events that no recipient was meant
 * for, binary and long details, and a dead letter re-delivered and dead-lettered again, as
 * `nvrelay dump` reads and prints them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { dumpDevice, renderDump } from '../../cli/dump.js';
import { maskNames } from '../../cli/node-device.js';
import { Node } from '../../src/node/node.js';
import { openNodeDevice } from '../../src/node/device-file.js';
import { ManualClock } from '../engine/harness.js';

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-dump-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const binary = Uint8Array.from({ length: 80 }, (_, i) => (i * 37) & 0xff);
const long = 'x'.repeat(70);

/** A device with two pending events (binary, long text) and a twice dead-lettered event. */
let devices = 0;
function device(): { path: string; first: number } {
  const path = join(folder, `dump-${devices++}.nvram`);
  const { device } = openNodeDevice(path, { durability: 'process', sizeBytes: 4 << 20 });
  const clock = new ManualClock();
  const node = Node.boot(device, {
    scheduling: 'manual',
    clock,
    retry: { timeoutMs: 5, attemptsMax: 1 },
  });
  node.registerRecipient('pager', { prefixes: ['disk.'] }, () => {});
  node.start();
  const producer = node.producer('raid');
  const first = producer.emit('disk.failed', 'err', new TextEncoder().encode('slot 4'));
  node.drain();
  clock.advance(10);
  node.drain(); // dead-lettered
  node.redeliverDeadLetters();
  node.drain();
  clock.advance(10);
  node.drain(); // dead-lettered again, as a re-delivery of `first`
  producer.emit('net.down', 'info', binary); // meant for no recipient
  producer.emit('net.flap', 'info', new TextEncoder().encode(long));
  node.close();
  device.close();
  return { path, first };
}

describe('nvrelay dump, rendered', () => {
  test('a re-delivered dead letter names the seq it was first emitted as', () => {
    const { path, first } = device();
    const text = renderDump(dumpDevice(path));
    expect(text).toMatch(new RegExp(`seq \\d+ \\(first emitted as ${first}\\) for pager: `));
  });

  test('an event meant for no recipient, binary details as hex, long text cut short', () => {
    const { path } = device();
    const text = renderDump(dumpDevice(path));
    const hex = Buffer.from(binary).toString('hex').slice(0, 60);
    expect(text).toMatch(new RegExp(`net\\.down owed by - of - 0x${hex}\\n`));
    expect(text).toContain(`net.flap owed by - of - ${JSON.stringify(long).slice(0, 60)}...`);
  });
});

describe('maskNames', () => {
  test('an id without a name shows as #id', () => {
    expect(maskNames(0b1011n, ['audit', 'pager', null])).toEqual(['audit', 'pager', '#3']);
  });
});
