/**
 * `nvrelay inspect` on a node of an HA pair [193]: the partner mirror (owner, head, tail, pending,
 * and how many events a takeover would deliver) and, with `--config`, who holds each stream.
 * Also what it shows at the edges: a device without partner sections (no partner part), a config
 * without `partner` (no lease holder), a mirror nothing was mirrored into (no owner: only this
 * node's stream is looked up), a stream never or no longer held, and a mirror whose descriptor is
 * damaged (said in the partner part, the rest of the report still printed, exit status 0).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { FileLeases } from '../../src/ha/file-lease.js';
import { partnerSectionNames } from '../../src/ha/layout.js';
import { MirrorSource } from '../../src/ha/mirror-source.js';
import { formatNode, nodeLayout } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import { TracedNvram } from '../../src/nvram/index.js';
import { ManualClock, smallLimits } from '../engine/harness.js';
import {
  LocalPort,
  idOf,
  mirroredEvents,
  nodeA,
  nodeB,
  openMirror,
  pairDevice,
  settle,
} from '../ha/pair.js';

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

/** A serve config file with a `partner` section whose leases are in `leaseFile`. */
function pairConfig(name: string, leaseFile: string): string {
  const config = join(dir, name);
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
  return config;
}

describe('nvrelay inspect at the edges of an HA pair', () => {
  test('a node without partner sections, and a config without `partner`', () => {
    const layout = nodeLayout(smallLimits);
    const plain = TracedNvram.format(layout.sizeBytes, layout.sections, { deviceId: nodeA });
    formatNode(plain, smallLimits);
    const device = join(dir, 'plain.nvram');
    writeFileSync(device, plain.buildDurableImage());
    const config = join(dir, 'no-partner.json');
    writeFileSync(config, JSON.stringify({ recipients: { pager: {} } }));

    const json = inspect(device, '--json', '--config', config);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(report).not.toHaveProperty('partner');
    expect(report['leases']).toEqual([]);
    const text = inspect(device, '--config', config);
    expect(text.status).toBe(0);
    expect(text.stdout).not.toContain('owner');
    expect(text.stdout.trimEnd().split('\n').at(-1)).toBe('leases'); // and no stream under it
  });

  test('a mirror nothing was mirrored into: no owner, and only this node stream', async () => {
    const device = join(dir, 'fresh-b.nvram');
    writeFileSync(device, pairDevice(nodeB).buildDurableImage());
    const leaseFile = join(dir, 'fresh-leases.json');
    const config = pairConfig('fresh-b.json', leaseFile);

    const text = inspect(device, '--config', config);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('owner       - (nothing mirrored yet)');
    expect(text.stdout).toContain('unfinished  0 partner events a takeover would deliver');
    expect(text.stdout).toContain(`${idOf(nodeB)}  held by - (free), last granted to -`);
    expect(text.stdout).not.toContain(idOf(nodeA));

    const leases = new FileLeases(leaseFile, { ttlMs: 60_000 });
    const grant = await leases.acquire(idOf(nodeB), idOf(nodeB));
    await leases.release(grant!);
    await leases.close();
    const json = inspect(device, '--json', '--config', config);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(report['partner']).toMatchObject({ partner: null, unfinished: 0 });
    expect(report['leases']).toEqual([
      { stream: idOf(nodeB), holder: null, token: null, lastHolder: idOf(nodeB) },
    ]);
  });

  test('a damaged mirror descriptor is said in the partner part; the rest is printed', async () => {
    const { bDevice } = await mirroredEvents(['disk.failed']);
    const image = bDevice.buildDurableImage();
    const section = bDevice.section(partnerSectionNames.runtimeFifo);
    image[section.offset + 16] = (image[section.offset + 16] as number) ^ 0xff; // slotCount
    const device = join(dir, 'damaged-b.nvram');
    writeFileSync(device, image);

    const json = inspect(device, '--json');
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    const part = report['partner'] as { error?: string };
    expect(part.error).toMatch(new RegExp(`'${partnerSectionNames.runtimeFifo}'.*descriptor`));
    expect(report['deviceId']).toBe(`0x${idOf(nodeB)}`);
    expect(report['sections']).toContainEqual(
      expect.objectContaining({ name: partnerSectionNames.runtimeFifo }),
    );

    const config = pairConfig('damaged-b.json', join(dir, 'damaged-leases.json'));
    const text = inspect(device, '--config', config);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`  cannot read the partner mirror: ${part.error}`);
    expect(text.stdout).not.toContain('owner ');
    // the owner unknown: only this node stream is looked up
    expect(text.stdout).toContain(`${idOf(nodeB)}  held by - (free), last granted to -`);
    expect(text.stdout).not.toContain(`${idOf(nodeA)}  held by`);
  });
});
