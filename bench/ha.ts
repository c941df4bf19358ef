/**
 * The HA pair's cost [193]: 'power' throughput (64 producers awaiting emitAsync, group commit)
 * and single-producer emit latency, on a node that mirrors every group into its partner's
 * NVRAM before acknowledging it, beside the same node unmirrored, measured in the same run.
 * The partner's mirror is a second device file ('power': its own msync per update) behind the
 * real interconnect on loopback TCP, in this same process: its apply shares the event loop with
 * the node, so the mirrored figures are a floor of what two machines would give.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { InterconnectLink, InterconnectServer, pairFrame } from '../src/ha/interconnect.js';
import { pairLayout } from '../src/ha/layout.js';
import { MirrorSource } from '../src/ha/mirror-source.js';
import { PartnerMirror } from '../src/ha/partner-mirror.js';
import { formatNode } from '../src/node/layout.js';
import { Node } from '../src/node/node.js';
import { DirectNvram } from '../src/nvram/index.js';
import { percentiles, type Latency } from './events.js';
import type { BenchContext, BenchResult, BenchSuite } from './run.js';

const producers = 64;
const detailsBytes = 128;
const eventType = 'bench.event';
const limits = { detailsBytesMax: 256, runtimeSlots: 4096 };
const log = pino({ level: 'silent' });

const idOf = (nvram: DirectNvram): string => nvram.header.deviceId.toString(16).padStart(16, '0');

interface Pair {
  node: Node;
  close(): Promise<void>;
}

function device(dir: string, name: string): DirectNvram {
  const path = join(dir, `${name}.nvram`);
  const layout = pairLayout(limits);
  DirectNvram.format(path, {
    sizeBytes: layout.sizeBytes,
    sections: layout.sections,
    force: true,
  });
  const opened = DirectNvram.open(path, { durability: 'power' });
  formatNode(opened, limits);
  return opened;
}

/** A started node on 'power', mirrored into a partner device over loopback, or not. */
async function startPair(
  dir: string,
  mirrored: boolean,
  scheduling: 'auto' | 'manual',
): Promise<Pair> {
  const a = device(dir, `ha-a-${String(mirrored)}`);
  const node = Node.boot(a, { scheduling });
  node.registerRecipient('r0', {}, (event, recipient) => recipient.confirm(event.seq));
  if (!mirrored) {
    node.start();
    return { node, close: async () => (node.close(), a.close()) };
  }
  const b = device(dir, 'ha-b');
  const mirror = new PartnerMirror(b, node.geometry);
  const source = new MirrorSource(node);
  node.start();
  const server = await InterconnectServer.listen(
    { host: '127.0.0.1', port: 0 },
    {
      mirror,
      self: pairFrame(idOf(b), node.geometry),
      log,
      onGivebackAsk: () => Promise.reject(new Error('not in a benchmark')),
    },
  );
  const link = new InterconnectLink({
    partner: { host: '127.0.0.1', port: server.port },
    self: pairFrame(idOf(a), node.geometry),
    source,
    log,
  });
  for (let k = 0; k < 200 && !source.up; k++) await new Promise((r) => setTimeout(r, 10));
  if (!source.up) throw new Error('the mirror link did not come up');
  return {
    node,
    close: async () => {
      link.close();
      source.close();
      await server.close();
      node.close();
      a.close();
      b.close();
    },
  };
}

/** Events retired per second by 64 producers over `seconds` (after a warm-up of a fifth). */
async function throughput(dir: string, seconds: number, mirrored: boolean): Promise<number> {
  const pair = await startPair(dir, mirrored, 'auto');
  try {
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    let running = true;
    const loops = Array.from({ length: producers }, async (_, p) => {
      const producer = pair.node.producer(`p${p}`);
      while (running) await producer.emitAsync(eventType, 'info', details);
    });
    await new Promise((r) => setTimeout(r, (seconds * 1000) / 5));
    const before = pair.node.counters.retired;
    const start = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const rate = ((pair.node.counters.retired - before) * 1000) / (performance.now() - start);
    running = false;
    await Promise.all(loops);
    return rate;
  } finally {
    await pair.close();
  }
}

/** One producer: emitAsync then commit, awaited, each timed; the drain pass not timed. */
async function emitLatency(dir: string, seconds: number, mirrored: boolean): Promise<Latency> {
  const pair = await startPair(dir, mirrored, 'manual');
  try {
    const producer = pair.node.producer('one');
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    const samples: number[] = [];
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until && samples.length < 20_000) {
      const start = performance.now();
      const acked = producer.emitAsync(eventType, 'info', details);
      pair.node.commit();
      await acked;
      samples.push((performance.now() - start) * 1000);
      pair.node.drain();
    }
    return percentiles(samples.slice(Math.floor(samples.length / 10)));
  } finally {
    await pair.close();
  }
}

async function run(context: BenchContext): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(context.dir, 'nvrelay-ha-'));
  try {
    const seconds = context.seconds;
    const plain = await throughput(dir, seconds, false);
    const mirrored = await throughput(dir, seconds, true);
    const plainEmit = await emitLatency(dir, seconds, false);
    const mirroredEmit = await emitLatency(dir, seconds, true);
    const k = (rate: number): string => `${(rate / 1e3).toFixed(1)} k events/s`;
    return [
      {
        measure: 'power: emit-deliver-confirm-retire, unmirrored',
        value: plain,
        display: k(plain),
        note: `${producers} producers awaiting emitAsync, a pair device ('power'), no partner`,
      },
      {
        measure: 'power: emit-deliver-confirm-retire, mirrored',
        value: mirrored,
        display: `${k(mirrored)}; ${(mirrored / plain).toFixed(2)}x unmirrored`,
        note:
          "each group acknowledged once the partner's mirror holds it: loopback TCP to a " +
          "second device file ('power') in this process",
      },
      {
        measure: 'power: emit p50 / p99, unmirrored',
        value: plainEmit.p50,
        display: `${plainEmit.p50.toFixed(0)} / ${plainEmit.p99.toFixed(0)} us`,
      },
      {
        measure: 'power: emit p50 / p99, mirrored',
        value: mirroredEmit.p50,
        display:
          `${mirroredEmit.p50.toFixed(0)} / ${mirroredEmit.p99.toFixed(0)} us; ` +
          `${(mirroredEmit.p50 / plainEmit.p50).toFixed(2)}x unmirrored`,
        note: "one producer: this node's msync, then the update's round trip and the mirror's msync",
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: 'ha',
  description: 'the HA pair: throughput and emit latency with NVRAM mirroring, beside without',
  run,
};
