/**
 * Settings of the config and of the daemon's options reaching what they govern
 * (src/daemon/daemon.ts): a declared recipient's own retry and window, a sink's subscription
 * and window, absentRecipientGraceMs retiring a recipient that never came, --log-details in a
 * refused event's log line, a daemon with no Unix socket (TCP only), a sink that does not close
 * within 2 s at stop, and an upstream whose events could not carry a hop of trail here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { connect } from '../../src/client/client.js';
import { parseConfig } from '../../src/daemon/config.js';
import { Daemon, type DaemonOptions } from '../../src/daemon/daemon.js';
import { openNodeDevice } from '../../src/node/device-file.js';
import { inspectDeviceFile } from './harness.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-settings-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Started {
  daemon: Daemon;
  logs: Record<string, unknown>[];
}

async function start(
  dir: string,
  config: unknown,
  options: Partial<DaemonOptions> = {},
): Promise<Started> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const daemon = await Daemon.start({
    device: join(dir, 'd.nvram'),
    durability: 'process',
    config: parseConfig(config),
    log: pino({ level: 'info' }, sink),
    socket: join(dir, 'd.sock'),
    ...options,
  });
  cleanup.push(() => daemon.stop());
  return { daemon, logs };
}

async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An HTTP server on loopback that answers each POST as `answer` says ('hang': never). */
async function webhookServer(answer: () => number | 'hang'): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const status = answer();
      if (status !== 'hang') response.writeHead(status).end('no');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}/events`;
}

describe('the daemon applies its settings', () => {
  test("a declared recipient's retry and window, and a sink's subscription and window, reach the node", async () => {
    const dir = tempDir();
    const { daemon } = await start(dir, {
      recipients: {
        audit: { retry: { timeoutMs: 1_234, attemptsMax: 7 }, inFlightMax: 3 },
        plain: {},
      },
      sinks: {
        file: {
          kind: 'jsonl',
          path: join(dir, 'events.jsonl'),
          prefixes: ['disk.'],
          severityMax: 'warning',
          inFlightMax: 5,
        },
      },
      inFlightMax: 9,
    });
    const recipient = (name: string) =>
      daemon.node.engine.recipients.find((row) => row?.name === name)!;
    expect(recipient('audit').retry).toMatchObject({ timeoutMs: 1_234, attemptsMax: 7 });
    expect(recipient('audit').inFlightMax).toBe(3);
    expect(recipient('plain').inFlightMax).toBe(9);
    const file = recipient('file');
    expect(file.inFlightMax).toBe(5);
    expect(file.prefixes).toEqual(['disk.']);
    expect(file.severityMax).toBe(4); // warning
    const producer = daemon.node.producer('raid');
    producer.emit('disk.failed', 'err', null);
    producer.emit('disk.slow', 'info', null); // above warning: not for the sink
    producer.emit('net.down', 'err', null); // not its prefix
    await until('the sink to hold its event', () => daemon.sinks[0]!.recipient.confirmed === 1);
    expect(daemon.sinks[0]!.counters.sent).toBe(1);
  });

  test('absentRecipientGraceMs: a recipient of an earlier run, in the config no more, is retired and its events dead-lettered', async () => {
    const dir = tempDir();
    const first = await start(dir, { recipients: { gone: {} } });
    const seq = first.daemon.node.producer('raid').emit('disk.failed', 'err', null);
    await first.daemon.stop();
    // the next run does not declare it, and nothing subscribes by its name
    const { daemon } = await start(dir, { absentRecipientGraceMs: 100 });
    await until('the absent recipient retired', () => daemon.node.deadLetterList().length === 1);
    // retirement frees the name: the letter names the id it was owed to
    expect(daemon.node.deadLetterList()).toMatchObject([{ seq, recipient: '#0' }]);
    expect(daemon.node.engine.recipients.some((row) => row?.name === 'gone')).toBe(false);
  });

  test("--log-details: a refused event's details are in the log line", async () => {
    const dir = tempDir();
    const url = await webhookServer(() => 400);
    const { daemon, logs } = await start(
      dir,
      { sinks: { hook: { kind: 'webhook', url } } },
      { logDetails: true },
    );
    daemon.node.producer('raid').emitJson('disk.failed', 'err', { disk: 3 });
    await until('the refusal', () => daemon.sinks[0]!.counters.refused === 1);
    expect(logs).toContainEqual(
      expect.objectContaining({
        msg: 'sink refused the event: dead-lettered',
        code: 400,
        details: '{"disk":3}',
      }),
    );
  });

  test('no Unix socket: clients come over TCP, and stop has no socket file to remove', async () => {
    const dir = tempDir();
    const { daemon } = await start(
      dir,
      {},
      { socket: null, listen: { host: '127.0.0.1', port: 0 } },
    );
    expect(daemon.port).toBeGreaterThan(0);
    const client = await connect(`tcp://127.0.0.1:${daemon.port}`);
    const producer = await client.producer('raid');
    await producer.emit('disk.failed', 'err', null);
    expect(daemon.node.stats().counters.emitted).toBe(1);
    await client.close();
    await daemon.stop();
    expect(await daemon.stopped).toBe(0);
  });

  test('a sink whose send outlasts 2 s at stop is left, warned of, and its event stays owed', async () => {
    const dir = tempDir();
    const url = await webhookServer(() => 'hang');
    const { daemon, logs } = await start(dir, {
      sinks: { hook: { kind: 'webhook', url, timeoutMs: 60_000 } },
    });
    daemon.node.producer('raid').emit('disk.failed', 'err', null);
    await until('the send to be out', () => daemon.sinks[0]!.status().sending === 1);
    await daemon.stop();
    expect(logs).toContainEqual(
      expect.objectContaining({ level: 40, msg: 'sink did not close within 2 s', sink: 'hook' }),
    );
    const hook = inspectDeviceFile(join(dir, 'd.nvram')).recipients.find((r) => r.name === 'hook');
    expect(hook?.owed).toBe(1);
  });

  test('an upstream whose events could not carry a hop of trail here is warned of', async () => {
    const upstreamDir = tempDir();
    // the upstream's device takes details larger than a mux's device keeps room for
    const { device } = openNodeDevice(join(upstreamDir, 'd.nvram'), {
      durability: 'process',
      detailsBytesMax: 8192,
    });
    device.close();
    const upstream = await start(upstreamDir, { recipients: { mux: {} } });
    const dir = tempDir();
    const { daemon, logs } = await start(dir, {
      upstreams: { u: { address: `unix:${join(upstreamDir, 'd.sock')}`, recipient: 'mux' } },
    });
    await until('the upstream connected', () =>
      logs.some((line) => line['msg'] === 'upstream connected'),
    );
    const warning = logs.find((line) => line['level'] === 40 && line['upstream'] === 'u');
    expect(warning).toMatchObject({
      msg: 'this device is too small for some upstream events: they will be refused (EVENT_TOO_LARGE)',
      detailsBytesMax: daemon.node.geometry.detailsBytesMax,
    });
    expect(warning?.['needed']).toBeGreaterThan(daemon.node.geometry.detailsBytesMax);
    expect(upstream.daemon.node.geometry.detailsBytesMax).toBeGreaterThanOrEqual(8192);
  });
});
