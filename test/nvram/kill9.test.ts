/**
 * kill -9 survival in direct 'process' durability (SPEC 3: the mapping is shared with the page
 * cache, so a process crash loses nothing that was stored). A child writes records and reports
 * each after its persist; we SIGKILL it at a seeded random moment and check that every reported
 * record is in the file, intact.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { crc32c, DirectNvram } from '../../src/nvram/index.js';

const writer = fileURLToPath(new URL('./fixtures/record-writer.mjs', import.meta.url));
const built = fileURLToPath(new URL('../../dist/src/nvram/index.js', import.meta.url));
const recordBytes = 64;
const sectionBytes = 1 << 20; // 16384 slots: the ring wraps in most runs
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-kill9-'));

beforeAll(() => {
  if (!existsSync(built)) throw new Error(`${built} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** mulberry32: a tiny seeded PRNG (deterministic delays). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the writer, kills it `delayMs` after it is ready; the indices it reported. */
async function writeAndKill(path: string, delayMs: number): Promise<number[]> {
  const child = spawn(process.execPath, [writer, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const reported: number[] = [];
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready') timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
      else reported.push(Number(line));
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  clearTimeout(timer);
  expect(signal, `writer exited with code ${code} before the kill`).toBe('SIGKILL');
  return reported;
}

function checkRecords(path: string, reported: number[]): void {
  const image = readFileSync(path);
  const view = new DataView(image.buffer, image.byteOffset, image.length);
  const section = 4096;
  const slots = sectionBytes / recordBytes;
  const last = reported[reported.length - 1] ?? -1;
  // The record after the last reported one may have been in flight, overwriting the oldest
  // slot: check every reported record younger than that.
  for (const index of reported) {
    if (index <= last + 1 - slots) continue;
    const at = section + (index % slots) * recordBytes;
    const record = image.subarray(at, at + recordBytes);
    expect(view.getFloat64(at, true), `record ${index} in slot ${index % slots}`).toBe(index);
    expect(view.getUint32(at + recordBytes - 4, true), `record ${index} checksum`).toBe(
      crc32c(record, 0, recordBytes - 4),
    );
    expect(record[8]).toBe((index * 31 + 8) & 0xff);
  }
}

test('every record reported after persist survives kill -9, at several random moments', async () => {
  const random = prng(Number(process.env['KILL9_SEED'] ?? 9));
  let total = 0;
  for (let run = 0; run < 6; run++) {
    const delayMs = Math.floor(5 + random() * 250);
    const path = join(dir, `run-${run}.nvram`);
    DirectNvram.format(path, {
      sizeBytes: 4096 + sectionBytes,
      sections: [{ name: 'records', length: sectionBytes }],
    });
    const reported = await writeAndKill(path, delayMs);
    expect(reported.length, `run ${run} (delay ${delayMs} ms) reported records`).toBeGreaterThan(0);
    expect(reported).toEqual(reported.map((_, i) => i));
    checkRecords(path, reported);
    DirectNvram.open(path).close(); // the dead writer's lock is gone
    total += reported.length;
  }
  expect(total).toBeGreaterThan(100);
});
