/**
 * The metrics of src/operations/metrics.ts read straight from their registry: a sink that is
 * down shows 0 in nvrelay_sink_up, and two sets of metrics on one daemon chain their hooks
 * (confirm latency, fence time): closing the first while the second is installed leaves the
 * second in place, closing the second then restores what was there before either.
 */
import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { createMetrics } from '../../src/operations/metrics.js';
import { Sampler } from '../../src/operations/sampler.js';
import { startDaemon, type TestDaemon } from '../daemon/harness.js';

const running: TestDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.remove();
});

async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('the operations metrics', () => {
  test('a sink that is down reads 0 in nvrelay_sink_up, its events retried', async () => {
    const started = await startDaemon({
      config: {
        sinks: {
          hook: {
            kind: 'webhook',
            url: `http://127.0.0.1:${await closedPort()}/`,
            retry: { timeoutMs: 50, timeoutMaxMs: 100, attemptsMax: 1000 },
          },
        },
      },
    });
    running.push(started);
    const { daemon } = started;
    daemon.node.producer('app').emit('app.event', 'info', null);
    const sink = daemon.sinks[0]!;
    await until('the sink down', () => sink.state === 'down');
    const metrics = createMetrics(daemon, new Sampler(daemon));
    try {
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/^nvrelay_sink_up\{sink="hook"\} 0$/m);
      expect(text).toMatch(/^nvrelay_sink_retried_total\{sink="hook"\} [1-9]\d*$/m);
      expect(text).toMatch(/^nvrelay_sink_held_total\{sink="hook"\} 0$/m);
    } finally {
      metrics.close();
    }
  });

  test('two sets of metrics chain their hooks; each close leaves a later one in place', async () => {
    const started = await startDaemon({ config: { recipients: { audit: {} } } });
    running.push(started);
    const { daemon } = started;
    const engine = daemon.node.engine;
    const device = daemon.device;
    expect(engine.onConfirmLatency).toBeNull();
    expect(device.onSync).toBeNull();

    const first = createMetrics(daemon, new Sampler(daemon));
    const firstLatency = engine.onConfirmLatency;
    const firstSync = device.onSync;
    const second = createMetrics(daemon, new Sampler(daemon));
    const secondLatency = engine.onConfirmLatency;
    const secondSync = device.onSync;
    expect(secondLatency).not.toBe(firstLatency);

    // both observe: the second's hook calls the first's
    const audit = engine.recipients.find((recipient) => recipient?.name === 'audit')!;
    secondLatency!(audit, 250);
    secondSync!(4);
    for (const metrics of [first, second]) {
      const text = await metrics.registry.metrics();
      expect(text).toMatch(
        /^nvrelay_recipient_confirm_latency_seconds_count\{recipient="audit"\} 1$/m,
      );
      expect(text).toMatch(/^nvrelay_fence_duration_seconds_count 1$/m);
    }

    first.close(); // not the installed hooks: left alone
    expect(engine.onConfirmLatency).toBe(secondLatency);
    expect(device.onSync).toBe(secondSync);
    second.close(); // restores what it found: the first's, which are closed
    expect(engine.onConfirmLatency).toBe(firstLatency);
    expect(device.onSync).toBe(firstSync);
  });
});
