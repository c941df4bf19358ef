/**
 * `nvrelay pump` (cli/pump.ts in process) when events owed to a recipient it does not register
 * get past the check before the boot (as when the device changed between that check and the
 * boot; here the check is made to see no pending event): the pump does not wait for ever. Once
 * nothing has moved for its poll limit it fails with NODE_STATE, counting the events queued
 * (those behind the owed ones too) and naming the recipients that are not registered; the
 * owed events stay pending on the device for their recipient.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { openNodeDevice } from '../../src/node/device-file.js';
import { Node } from '../../src/node/node.js';

/** The lines the pump writes on stdout (cli/facts.ts), kept here instead. */
const lines = vi.hoisted((): string[] => []);
vi.mock('../../cli/facts.js', () => ({ fact: (line: string) => void lines.push(line) }));
// the check before the boot sees no pending event (the boot does); dump afterwards sees them
const blind = vi.hoisted(() => ({ on: true }));
vi.mock('../../cli/node-device.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../cli/node-device.js')>();
  return {
    ...original,
    pendingEvents: (node: Parameters<typeof original.pendingEvents>[0]) =>
      blind.on ? [] : original.pendingEvents(node),
  };
});

const { pump } = await import('../../cli/pump.js');
const { dumpDevice } = await import('../../cli/dump.js');

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-pump-stall-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('nvrelay pump with events it can never complete', () => {
  test('fails with NODE_STATE naming the recipient it lacks; the events stay pending', async () => {
    const path = join(folder, 'owed.nvram');
    const { device } = openNodeDevice(path, { durability: 'process' });
    const node = Node.boot(device, { scheduling: 'manual' });
    node.registerRecipient('pager', {}, () => {}); // never confirms
    node.start();
    const raid = node.producer('raid');
    const seqs = [raid.emit('disk.failed', 'err'), raid.emit('disk.failed', 'err')];
    node.drain();
    node.close();
    device.close();

    const failure = await pump(path, {
      count: 3,
      payloadBytes: 16,
      recipients: 1,
      durability: 'process',
    }).catch((error: unknown) => error);
    blind.on = false;
    expect(failure).toBeInstanceOf(NodeError);
    expect((failure as NodeError).code).toBe('NODE_STATE');
    // the three new events went to r0 and were confirmed, but stay behind the two it lacks
    expect(lines.filter((line) => line.startsWith('A '))).toHaveLength(3);
    expect(lines.filter((line) => line.startsWith('D r0 '))).toHaveLength(3);
    expect(lines.some((line) => line.startsWith('Q '))).toBe(false);
    const { pending } = dumpDevice(path);
    expect(pending.map(({ seq, owed }) => ({ seq, owed })).slice(0, 2)).toEqual(
      seqs.map((seq) => ({ seq, owed: ['pager'] })),
    );
    expect(pending.slice(2).map(({ owed }) => owed)).toEqual([[], [], []]);
    expect((failure as NodeError).message).toBe(
      `nvrelay: pump: ${pending.length} events cannot complete; ` +
        'recipients not registered by this pump: pager',
    );
  });
});
