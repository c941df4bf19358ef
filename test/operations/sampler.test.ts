/**
 * The operations sampler (src/operations/sampler.ts) on daemons in this process: each recipient's
 * kind (a multiplexer's custodian is `mux`), events owed per recipient when a fully handled
 * event waits behind one still owed, and recipients whose ids are above 31 (the queue's high
 * mask word).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Sampler, type Sample } from '../../src/operations/sampler.js';
import { startDaemon, type TestDaemon } from '../daemon/harness.js';

const running: TestDaemon[] = [];
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.remove();
});

/** A daemon on a new temp dir; `config` may name files in that dir. */
async function daemon(config: (dir: string) => unknown): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-sampler-'));
  const started = await startDaemon({ config: config(dir), dir });
  running.push(started);
  return started;
}

async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function row(sample: Sample, name: string) {
  const found = sample.recipients.find((recipient) => recipient.name === name);
  if (found === undefined) throw new Error(`no recipient ${name} in the sample`);
  return found;
}

describe('the operations sampler', () => {
  test("a multiplexer's custodian is a mux recipient, a declared one remote, a sink a sink", async () => {
    const { daemon: mux } = await daemon((dir) => ({
      // an upstream that is not there: the link keeps trying, its custodian exists meanwhile
      upstreams: { u: { address: `unix:${join(dir, 'no-upstream.sock')}`, recipient: 'mux' } },
      recipients: { archive: {} },
      sinks: { file: { kind: 'jsonl', path: join(dir, 'events.jsonl') } },
    }));
    const custodian = mux.mux?.custodian.name;
    expect(custodian).toBeDefined();
    const sample = new Sampler(mux).sample();
    expect(row(sample, custodian!).kind).toBe('mux');
    expect(row(sample, 'archive')).toMatchObject({ kind: 'remote', state: 'detached' });
    expect(row(sample, 'file').kind).toBe('sink');
  });

  test('a handled event behind one still owed counts for no one; ids above 31 are counted too', async () => {
    // 33 declared recipients (ids 0..32) taking disk.*, and a sink taking net.*
    const { daemon: node } = await daemon((dir) => ({
      recipients: Object.fromEntries(
        Array.from({ length: 33 }, (_, k) => [`r${k}`, { prefixes: ['disk.'] }]),
      ),
      sinks: { file: { kind: 'jsonl', path: join(dir, 'events.jsonl'), prefixes: ['net.'] } },
    }));
    const producer = node.node.producer('app');
    producer.emit('disk.failed', 'err', null); // owed to r0..r32, never confirmed
    producer.emit('net.up', 'info', null); // held by the sink: handled, still queued behind
    const sink = node.sinks[0]!;
    await until('the sink to confirm', () => sink.recipient.confirmed === 1);
    const sample = new Sampler(node).sample();
    expect(row(sample, 'file').pending).toBe(0);
    expect(row(sample, 'r0').pending).toBe(1);
    const high = row(sample, 'r32');
    expect(high.id).toBeGreaterThanOrEqual(32);
    expect(high.pending).toBe(1);
    expect(high.oldestPendingTime).toBe(row(sample, 'r0').oldestPendingTime);
  });
});
