/**
 * The node on a real device file (DirectNvram): the README's usage, reboot with replay, group
 * commit in 'power' durability, and the zero-allocation emit-deliver-confirm path (issue 3,
 * item 4: a million cycles after warm-up trigger no garbage collection).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { afterAll, describe, expect, test } from 'vitest';
import { DirectNvram, Node, formatNode, nodeLayout, type Durability } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-node-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A new device file holding a formatted node. */
function deviceFile(limits = { runtimeSlots: 4096, detailsBytesMax: 128 }): string {
  const path = join(dir, `node-${files++}.nvram`);
  const layout = nodeLayout(limits);
  DirectNvram.format(path, { sizeBytes: layout.sizeBytes, sections: layout.sections });
  const device = DirectNvram.open(path);
  formatNode(device, limits);
  device.close();
  return path;
}

function open(path: string, durability: Durability = 'process'): DirectNvram {
  return DirectNvram.open(path, { durability });
}

describe('Node on a DirectNvram device', () => {
  test('the README usage: boot, register, start, emit, confirm', async () => {
    const path = deviceFile();
    const device = open(path);
    const node = Node.boot(device);
    const received = new Promise<string>((resolve) => {
      node.registerRecipient(
        'audit',
        { prefixes: ['disk.'], severityMax: 'warning' },
        (event, recipient) => {
          resolve(`${event.source} ${event.type} ${event.severity} ${event.detailsText()}`);
          recipient.confirm(event.seq);
        },
      );
    });
    const raid = node.producer('raid');
    node.start();
    const seq = raid.emit('disk.failed', 'err', new TextEncoder().encode('sda'));
    expect(seq).toBeGreaterThan(0);
    expect(await received).toBe('raid disk.failed err sda');
    await new Promise((resolve) => setImmediate(resolve));
    expect(node.idle()).toBe(true);
    node.close();
    device.close();
  });

  test('events not confirmed before a restart are replayed to the recipients that owe them', () => {
    const path = deviceFile();
    const first = open(path);
    const node = Node.boot(first, { scheduling: 'manual' });
    node.registerRecipient('slow', {}, () => {}); // never confirms
    node.registerRecipient('fast', {}, (event, recipient) => void recipient.confirm(event.seq));
    node.start();
    const seqs = [1, 2, 3].map((n) =>
      node.producer('p').emit('app.step', 'info', new Uint8Array([n])),
    );
    node.drainUntilIdle();
    node.close();
    first.close(); // as after kill -9: the mapping's stores are in the file

    const second = open(path);
    const again = Node.boot(second, { scheduling: 'manual' });
    expect(again.recovery.replayed).toBe(3);
    const slow: number[] = [];
    const fast: number[] = [];
    again.registerRecipient('slow', {}, (event, recipient) => {
      slow.push(event.seq);
      recipient.confirm(event.seq);
    });
    again.registerRecipient('fast', {}, (event) => void fast.push(event.seq));
    again.start();
    again.drainUntilIdle();
    expect(slow).toEqual(seqs);
    expect(fast).toEqual([]);
    expect(again.idle()).toBe(true);
    const next = again.producer('p').emit('app.step', 'info');
    expect(next).toBeGreaterThan(Math.max(...seqs)); // SPEC 4.5 across reboots
    again.close();
    second.close();
  });

  test("'power' durability: concurrent emitAsync calls share group commits", async () => {
    const path = deviceFile();
    const device = open(path, 'power');
    const node = Node.boot(device);
    let delivered = 0;
    node.registerRecipient('r', {}, (event, recipient) => {
      delivered++;
      recipient.confirm(event.seq);
    });
    node.start();
    const producers = Array.from({ length: 16 }, (_, i) => node.producer(`p${i}`));
    const msyncsBefore = device.msyncCount;
    const seqs = (
      await Promise.all(
        producers.map(async (producer) => {
          const mine: number[] = [];
          for (let k = 0; k < 8; k++) mine.push(await producer.emitAsync('load.step', 'info'));
          return mine;
        }),
      )
    ).flat();
    expect(new Set(seqs).size).toBe(128);
    // 8 rounds of 16 emits: one msync per round's group (it also carries the confirmations
    // flushed since the last one), plus at most a seq lease renewal and a pointer flush
    const msyncs = device.msyncCount - msyncsBefore;
    expect(msyncs).toBeGreaterThanOrEqual(8);
    expect(msyncs).toBeLessThanOrEqual(8 + 2);
    for (let i = 0; i < 10 && delivered < 128; i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    expect(delivered).toBe(128);
    node.close();
    device.close();
  });

  // Under mutation testing the mutant switches and coverage counters allocate: measured in
  // `npm test` only (docs/TESTING.md, "Mutation testing")
  const mutating = process.env['STRYKER_MUTATOR_WORKER'] !== undefined;
  test.skipIf(mutating)(
    'a million emit-deliver-confirm cycles after warm-up trigger no garbage collection',
    async () => {
      const path = deviceFile();
      const device = open(path);
      const node = Node.boot(device, { scheduling: 'manual' });
      let confirmed = 0;
      node.registerRecipient('r0', {}, (event, recipient) => {
        if (recipient.confirm(event.seq)) confirmed++;
      });
      const producer = node.producer('bench');
      node.start();
      const details = new Uint8Array(128).fill(7);
      const cycles = (count: number): void => {
        for (let done = 0; done < count; done += 1024) {
          for (let k = 0; k < 1024; k++) producer.emit('bench.event', 'info', details);
          node.drain();
        }
      };
      cycles(200_704); // warm-up: let the JIT optimise the path
      const collections: number[] = [];
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) collections.push(entry.startTime);
      });
      observer.observe({ entryTypes: ['gc'] });
      const before = confirmed;
      const start = performance.now();
      cycles(1_000_448);
      const end = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 20)); // gc entries arrive asynchronously
      observer.disconnect();
      expect(confirmed - before).toBe(1_000_448);
      // only collections that began during the loop: the test runner's own work in this thread
      // while the entries arrive may allocate, and is no part of the path
      expect(collections.filter((at) => at >= start && at <= end)).toEqual([]);
      node.close();
      device.close();
    },
  );
});
