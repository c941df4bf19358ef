/**
 * Issue 3, "what it must show" 4: after warm-up, 1,000,000 emit-deliver-confirm cycles in
 * 'process' durability trigger no garbage collection, which shows that the path allocates
 * nothing (no per-event objects, strings, closures or promises; SPEC 1).
 *
 * The cycles run in a child process of their own (`node --expose-gc`, on the built package:
 * run `npm run build` first), so that nothing of the test runner allocates beside them. Each
 * cycle is one emit, then one drain pass that delivers the event, receives its confirmation
 * and retires it [211-220]. `gc` performance entries are observed during the measured loop.
 * If any appear, a second child samples allocations over the same loop (V8's sampling heap
 * profiler, counting objects a minor GC collected too) and the failure names the sites.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';

const built = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-noalloc-'));
const cycles = 1_000_000;
const warmUpCycles = 200_000;

beforeAll(() => {
  if (!existsSync(built)) throw new Error(`${built} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The child: a node on a fresh 'process'-durability device, one recipient that confirms. */
const child = `
import { DirectNvram, Node, formatNode, nodeLayout } from ${JSON.stringify(built)};
import { PerformanceObserver } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
const [path, mode, cycles, warmUp] = process.argv.slice(1);
const limits = { detailsBytesMax: 256, runtimeSlots: 4096 };
const layout = nodeLayout(limits);
DirectNvram.format(path, { sizeBytes: layout.sizeBytes, sections: layout.sections, force: true });
const device = DirectNvram.open(path, { durability: 'process' });
formatNode(device, limits);
const node = Node.boot(device, { scheduling: 'manual' });
node.registerRecipient('r0', {}, (event, recipient) => { recipient.confirm(event.seq); });
node.start();
const producer = node.producer('bench');
const details = new Uint8Array(128).fill(7);
function run(count) {
  for (let i = 0; i < count; i++) {
    producer.emit('bench.event', 'info', details);
    node.drain();
  }
}
run(Number(warmUp));
globalThis.gc();
const before = node.stats().counters;
if (mode === 'measure') {
  const collections = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) collections.push(entry.detail?.kind ?? entry.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  const started = performance.now();
  run(Number(cycles));
  const elapsedMs = performance.now() - started;
  await sleep(100); // gc entries are reported asynchronously
  observer.disconnect();
  const after = node.stats().counters;
  console.log(JSON.stringify({
    collections, elapsedMs,
    delivered: after.delivered - before.delivered,
    confirmed: after.confirmed - before.confirmed,
    retired: after.retired - before.retired,
  }));
} else {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 64,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  run(Number(cycles));
  const { profile } = await session.post('HeapProfiler.stopSampling');
  const sites = [];
  const walk = (node, stack) => {
    const frame = node.callFrame;
    const here = (frame.functionName || '(anonymous)') + ' ' +
      frame.url.replace(/^.*\\/dist\\//, 'dist/') + ':' + (frame.lineNumber + 1);
    const path = [...stack, here];
    if (node.selfSize > 0) sites.push({ bytes: node.selfSize, stack: path.slice(-4).reverse() });
    for (const next of node.children) walk(next, path);
  };
  walk(profile.head, []);
  sites.sort((a, b) => b.bytes - a.bytes);
  console.log(JSON.stringify({ sites: sites.slice(0, 8) }));
}
node.close();
device.close();
`;

function runChild(mode: 'measure' | 'profile', count: number): unknown {
  const result = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '--input-type=module',
      '-e',
      child,
      join(dir, 'cycles.nvram'),
      mode,
      String(count),
      String(warmUpCycles),
    ],
    { encoding: 'utf8', timeout: 50_000 },
  );
  expect(result.stderr, `child (${mode}) failed`).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as unknown;
}

test('1,000,000 emit-deliver-confirm cycles after warm-up trigger no garbage collection', () => {
  const measured = runChild('measure', cycles) as {
    collections: number[];
    elapsedMs: number;
    delivered: number;
    confirmed: number;
    retired: number;
  };
  // The loop did what it claims: every event delivered, confirmed and retired.
  expect(measured).toMatchObject({ delivered: cycles, confirmed: cycles, retired: cycles });
  let sites = '';
  if (measured.collections.length > 0) {
    const { sites: found } = runChild('profile', 200_000) as {
      sites: { bytes: number; stack: string[] }[];
    };
    sites = found
      .map((site) => `  ${site.bytes} bytes sampled at ${site.stack.join(' <- ')}`)
      .join('\n');
  }
  expect(
    measured.collections,
    `${measured.collections.length} collections (kinds ${[...new Set(measured.collections)].join(', ')}; ` +
      `1 = minor) in ${Math.round(measured.elapsedMs)} ms; allocation sites over 200,000 cycles:\n${sites}`,
  ).toEqual([]);
});
