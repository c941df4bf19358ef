/**
 * DirectNvram.fenceAsync: in 'power' durability the msync of the flush hull runs on a pool thread
 * while JavaScript goes on storing; completions come later, in issue order; close waits for an
 * msync still running. (Reading the file back in the same process shares the page cache with
 * the mapping, so it shows the data, not that msync ran: msyncCount and the ordering do.)
 */
import { pbkdf2 } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DirectNvram, NvramError, type Durability } from '../../src/nvram/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-fence-async-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pageBytes = 4096;
const sizeBytes = 4 << 20;
let fileCount = 0;

function openDevice(durability: Durability): { device: DirectNvram; path: string } {
  const path = join(dir, `fence-async-${fileCount++}.nvram`);
  DirectNvram.format(path, { sizeBytes, sections: [{ name: 'events', length: sizeBytes - 8192 }] });
  return { device: DirectNvram.open(path, { durability }), path };
}

interface Completion {
  error: Error | null;
  /** Whether fenceAsync had returned when onComplete ran. */
  afterReturn: boolean;
}

/** Issues a fenceAsync now; the promise settles with what onComplete was given. */
function issueFence(device: DirectNvram, order?: string[], name?: string): Promise<Completion> {
  return new Promise((resolve) => {
    let returned = false;
    device.fenceAsync((error) => {
      if (order !== undefined && name !== undefined) order.push(name);
      resolve({ error, afterReturn: returned });
    });
    returned = true;
  });
}

/** Stores `value` in every word of page `page` and flushes it. */
function fillPage(device: DirectNvram, page: number, value: number): void {
  for (let offset = page * pageBytes; offset < (page + 1) * pageBytes; offset += 8) {
    device.storeU64(offset, value);
  }
  device.flush(page * pageBytes, pageBytes);
}

/** Keeps every libuv pool thread busy for a few hundred milliseconds. */
function occupyPool(): Promise<void[]> {
  const threads = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4);
  const jobs = Array.from(
    { length: threads },
    () =>
      new Promise<void>((resolve, reject) =>
        pbkdf2('key', 'salt', 200_000, 32, 'sha256', (error) =>
          error === null ? resolve() : reject(error),
        ),
      ),
  );
  return Promise.all(jobs);
}

function fileWord(path: string, offset: number): number {
  const bytes = readFileSync(path);
  return Number(bytes.readBigUInt64LE(offset));
}

describe('fenceAsync in power durability', () => {
  test('completes after it returns, with the flushed bytes in the file and one msync counted', async () => {
    const { device, path } = openDevice('power');
    try {
      const timings: number[] = [];
      device.onSync = (ms) => timings.push(ms);
      fillPage(device, 2, 0x1234_5678_9abc);
      const before = device.msyncCount;
      const completion = issueFence(device);
      expect(device.msyncCount - before).toBe(1); // counted at its issue
      await expect(completion).resolves.toEqual({ error: null, afterReturn: true });
      expect(device.msyncCount - before).toBe(1);
      expect(timings).toHaveLength(1);
      expect(timings[0]).toBeGreaterThanOrEqual(0);
      expect(fileWord(path, 2 * pageBytes + 8)).toBe(0x1234_5678_9abc);
    } finally {
      device.close();
    }
  });

  test('with nothing flushed, completes on a later turn without an msync', async () => {
    const { device } = openDevice('power');
    try {
      const before = device.msyncCount;
      await expect(issueFence(device)).resolves.toEqual({ error: null, afterReturn: true });
      expect(device.msyncCount).toBe(before);
    } finally {
      device.close();
    }
  });

  test('stores and flushes made while it runs break nothing and wait for the next fence', async () => {
    const { device, path } = openDevice('power');
    try {
      for (let page = 2; page < 66; page++) fillPage(device, page, page);
      const first = issueFence(device);
      // The next group, into the same pages and new ones, while the msync runs.
      for (let page = 2; page < 130; page++) fillPage(device, page, 1000 + page);
      const second = issueFence(device);
      const [a, b] = await Promise.all([first, second]);
      expect(a.error).toBeNull();
      expect(b.error).toBeNull();
      for (const page of [2, 65, 66, 129]) {
        expect(device.loadU64(page * pageBytes + 16)).toBe(1000 + page);
        expect(fileWord(path, page * pageBytes + 16)).toBe(1000 + page);
      }
    } finally {
      device.close();
    }
  });

  test('several in flight complete in issue order, a later one only after the earlier ones', async () => {
    const { device } = openDevice('power');
    try {
      const order: string[] = [];
      const before = device.msyncCount;
      // A large first hull and a one-page last one: the last msync tends to return first.
      for (let page = 2; page < 1002; page++) fillPage(device, page, page);
      const big = issueFence(device, order, 'big');
      const empty = issueFence(device, order, 'empty'); // nothing of its own: waits for 'big'
      fillPage(device, 1010, 7);
      const small = issueFence(device, order, 'small');
      expect(device.msyncCount - before).toBe(2);
      const results = await Promise.all([big, empty, small]);
      expect(results.map((result) => result.error)).toEqual([null, null, null]);
      expect(results.every((result) => result.afterReturn)).toBe(true);
      expect(order).toEqual(['big', 'empty', 'small']);
    } finally {
      device.close();
    }
  });

  test('a synchronous fence also covers the pages of a fenceAsync still running', async () => {
    const { device } = openDevice('power');
    try {
      fillPage(device, 3, 3);
      const before = device.msyncCount;
      const completion = issueFence(device);
      device.fence(); // nothing flushed since, but page 3 is not durable yet
      expect(device.msyncCount - before).toBe(2);
      device.persist(5 * pageBytes, 8); // the same: one msync of page 3 and page 5
      expect(device.msyncCount - before).toBe(3);
      expect((await completion).error).toBeNull();
      device.fence(); // nothing flushed and nothing running: no msync
      expect(device.msyncCount - before).toBe(3);
    } finally {
      device.close();
    }
  });

  test('close while an msync is in flight waits for it, then closes cleanly', async () => {
    const { device, path } = openDevice('power');
    for (let page = 1; page < sizeBytes / pageBytes; page++) fillPage(device, page, page);
    // Every pool thread busy for a while: the msync is still queued when close runs, so a close
    // that did not wait would unmap first and the msync would then fail (ENOMEM: NVRAM_IO).
    const busy = occupyPool();
    const completion = issueFence(device);
    device.close();
    expect(device.closed).toBe(true);
    await busy;
    await expect(completion).resolves.toEqual({ error: null, afterReturn: true });
    expect(fileWord(path, 700 * pageBytes)).toBe(700);
    expect(() => device.loadU64(4096)).toThrow(
      expect.objectContaining({ code: 'NVRAM_CLOSED' }) as Error,
    );
    const after = await issueFence(device);
    expect(after.error).toBeInstanceOf(NvramError);
    expect((after.error as NvramError).code).toBe('NVRAM_CLOSED');
    expect(after.afterReturn).toBe(true);
    device.close(); // idempotent
  });
});

describe('fenceAsync elsewhere', () => {
  test('in process durability completes on a later turn without an msync', async () => {
    const { device } = openDevice('process');
    try {
      fillPage(device, 2, 2);
      await expect(issueFence(device)).resolves.toEqual({ error: null, afterReturn: true });
      expect(device.msyncCount).toBe(0);
    } finally {
      device.close();
    }
  });

  test('a closed device completes with NVRAM_CLOSED, not synchronously', async () => {
    for (const durability of ['process', 'power'] as const) {
      const { device } = openDevice(durability);
      device.close();
      const completion = await issueFence(device);
      expect(completion.afterReturn).toBe(true);
      expect(completion.error).toBeInstanceOf(NvramError);
      expect((completion.error as NvramError).code).toBe('NVRAM_CLOSED');
      expect(completion.error?.message).toContain('fenceAsync');
    }
  });

  test('onComplete must be a function (NVRAM_BAD_ARGUMENT, thrown)', () => {
    const { device } = openDevice('power');
    try {
      expect(() => device.fenceAsync(undefined as unknown as () => void)).toThrow(
        expect.objectContaining({ code: 'NVRAM_BAD_ARGUMENT' }) as Error,
      );
    } finally {
      device.close();
    }
  });
});
