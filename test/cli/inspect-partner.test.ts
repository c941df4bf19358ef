/**
 * `nvrelay inspect` on a node of an HA pair [193]: the partner mirror (owner, head, tail, pending,
 * and how many events a takeover would deliver) and, with `--config`, who holds each stream.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { FileLeases } from '../../src/ha/file-lease.js';
import { MirrorSource } from '../../src/ha/mirror-source.js';
import { Node } from '../../src/node/node.js';
import { ManualClock } from '../engine/harness.js';
import { LocalPort, idOf, nodeA, nodeB, openMirror, pairDevice, settle } from '../ha/pair.js';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-inspect-pair-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function inspect(...args: string[]): { stdout: string; status: number | null } {
  const run = spawnSync(process.execPath, [main, 'inspect', ...args], { encoding: 'utf8' });
  return { stdout: run.stdout, status: run.status };
}

describe('nvrelay inspect on a node of an HA pair', () => {
  test('shows the partner mirror and who holds each stream', async () => {
    const a = Node.boot(pairDevice(nodeA), { scheduling: 'manual', clock: new ManualClock() });
    a.registerRecipient('pager', {}, () => {}); // never confirms: both events stay pending
    const bDevice = pairDevice(nodeB);
    const source = new MirrorSource(a);
    a.start();
    await source.connected(new LocalPort(openMirror(bDevice)));
    for (const type of ['disk.failed', 'fan.slow']) {
      const acked = a.producer('raid').emitAsync(type, 'err');
      a.commit();
      await settle();
      await acked;
    }
    source.close();
    const device = join(dir, 'b.nvram');
    writeFileSync(device, bDevice.buildDurableImage());

    const leaseFile = join(dir, 'leases.json');
    const leases = new FileLeases(leaseFile, { ttlMs: 60_000 });
    const own = await leases.acquire(idOf(nodeB), idOf(nodeB));
    const taken = await leases.acquire(idOf(nodeA), idOf(nodeB)); // B took A's stream over
    await leases.close();
    const config = join(dir, 'b.json');
    writeFileSync(
      config,
      JSON.stringify({
        partner: {
          listen: '127.0.0.1:7001',
          address: '127.0.0.1:7002',
          lease: { kind: 'file', path: leaseFile },
        },
      }),
    );

    const json = inspect(device, '--json', '--config', config);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(report['partner']).toEqual({
      partner: idOf(nodeA),
      fifos: [
        { fifo: 'partner-boot-fifo', head: 0, tail: 0, pending: 0 },
        { fifo: 'partner-runtime-fifo', head: 0, tail: 2, pending: 2 },
      ],
      unfinished: 2,
    });
    expect(report['leases']).toEqual([
      {
        stream: idOf(nodeB),
        holder: idOf(nodeB),
        token: String(own?.token),
        lastHolder: idOf(nodeB),
      },
      {
        stream: idOf(nodeA),
        holder: idOf(nodeB),
        token: String(taken?.token),
        lastHolder: idOf(nodeB),
      },
    ]);
    const text = inspect(device, '--config', config).stdout;
    expect(text).toContain(`owner       ${idOf(nodeA)}`);
    expect(text).toContain('partner-runtime-fifo   head 0, tail 2, pending 2');
    expect(text).toContain(`${idOf(nodeA)}  held by ${idOf(nodeB)}`);
    // without --config: the mirror, no leases
    expect(JSON.parse(inspect(device, '--json').stdout)).not.toHaveProperty('leases');
  });
});
