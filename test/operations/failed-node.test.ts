/**
 * What the operations view (src/operations/status.ts, sampler.ts, metrics.ts) reads of a daemon
 * whose node has failed (fail-stop): the node reported as not running, no dead letters read
 * from the node, and events recovered at boot but never examined counted as unexamined rather
 * than examined on a node that must not touch its device any more. Also: a recovery event's
 * bigint details in the status JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { parseConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { entryFlagUnexamined } from '../../src/engine/indication-queue.js';
import { createMetrics } from '../../src/operations/metrics.js';
import { Sampler } from '../../src/operations/sampler.js';
import { statusJson, statusSnapshot, type StatusSnapshot } from '../../src/operations/status.js';

const dirs: string[] = [];
const daemons: Daemon[] = [];
afterEach(async () => {
  for (const daemon of daemons.splice(0)) await daemon.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(dir: string, config: unknown): Promise<Daemon> {
  const daemon = await Daemon.start({
    device: join(dir, 'd.nvram'),
    durability: 'process',
    config: parseConfig(config),
    log: pino({ level: 'silent' }),
    socket: join(dir, 'd.sock'),
  });
  daemons.push(daemon);
  return daemon;
}

function unexamined(daemon: Daemon): number {
  const queue = daemon.node.queue;
  let count = 0;
  for (let counter = queue.head; counter < queue.tail; counter++)
    if (((queue.flags[counter % queue.capacity] as number) & entryFlagUnexamined) !== 0) count++;
  return count;
}

describe('the operations view of a failed node', () => {
  test('not running, no dead letters read, recovered events left unexamined and counted as such', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvrelay-failed-'));
    dirs.push(dir);
    const config = { recipients: { archive: {} }, retry: { timeoutMs: 50, attemptsMax: 1 } };
    const first = await start(dir, config);
    const producer = first.node.producer('disk');
    for (let k = 0; k < 6; k++) producer.emit('disk.ok', 'info', null);
    await first.stop();

    // nothing attaches this time: what was recovered stays unexamined
    const daemon = await start(dir, config);
    const recovered = unexamined(daemon);
    expect(recovered).toBeGreaterThanOrEqual(6);
    // the device reports an error through the engine: the node fails and the daemon stops
    daemon.node.engine.onFailure(new Error('injected device error'));
    expect(await daemon.stopped).toBe(1);
    expect(daemon.node.phase).toBe('failed');

    const sampler = new Sampler(daemon);
    const sample = sampler.sample();
    expect(sample.unexamined).toBe(recovered);
    expect(unexamined(daemon)).toBe(recovered); // nothing was examined for the sample
    const snapshot = statusSnapshot(daemon, sampler, Date.now());
    expect(snapshot.node.phase).toBe('failed');
    expect(snapshot.deadLetters.latest).toEqual([]);
    const metrics = createMetrics(daemon, sampler);
    try {
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/^nvrelay_node_running 0$/m);
    } finally {
      metrics.close();
    }
  });
});

describe('the status JSON', () => {
  test('a bigint anywhere in the snapshot is written as its decimal text', () => {
    const snapshot = {
      recovery: { events: [{ type: 'boot', details: { deviceId: 0xfedcba9876543210n } }] },
    } as unknown as StatusSnapshot;
    expect(statusJson(snapshot)).toBe(
      '{"recovery":{"events":[{"type":"boot","details":{"deviceId":"18364758544493064720"}}]}}',
    );
  });
});
