/**
 * Device files across power cuts, races and full disks: a format is published with a link and
 * then a directory fsync; of processes racing to create one device exactly one formats it and
 * the others open that device; every block is preallocated, so a full file system is NvramError NVRAM_IO at format (not SIGBUS at
 * the first store); close msyncs the whole mapping in 'process' durability too. What a
 * format and an open do within one process (refusals, formats in place, temporary files of dead
 * formats) is pinned in ./device-file-open.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { formatLimits, formatNodeDevice, openNodeDevice } from '../../src/node/device-file.js';
import { DirectNvram, NvramError } from '../../src/nvram/index.js';

/** The file-system calls device-file.ts makes that decide durability, in order. */
const fsCalls = vi.hoisted(() => [] as { call: string; target: string }[]);
/** Run right after the next link of device-file.ts, once (null: none). */
const afterLink = vi.hoisted(() => ({ run: null as ((path: string) => void) | null }));

// ESM built-ins cannot be spied on in place, but vitest resolves the module for the code under
// test: the real calls run, and each is logged with its target (a path, or the dev:inode an
// fsynced descriptor refers to, so the directory's fsync is told apart from the file's).
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const identity = (stat: { dev: number; ino: number }): string => `${stat.dev}:${stat.ino}`;
  return {
    ...fs,
    linkSync: (from: string, to: string) => {
      fs.linkSync(from, to);
      fsCalls.push({ call: 'link', target: to });
      const run = afterLink.run;
      afterLink.run = null;
      run?.(to);
    },
    renameSync: (from: string, to: string) => {
      fs.renameSync(from, to);
      fsCalls.push({ call: 'rename', target: to });
    },
    fsyncSync: (fd: number) => {
      fs.fsyncSync(fd);
      fsCalls.push({ call: 'fsync', target: identity(fs.fstatSync(fd)) });
    },
  };
});

const built = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-device-file-'));
/** A 1 MiB file system, when this process may mount one (root). */
const small = join(dir, 'small');
mkdirSync(small);
const cannotMount = mountSmallFileSystem(small);
afterAll(() => {
  if (cannotMount === undefined) spawnSync('umount', [small]);
  rmSync(dir, { recursive: true, force: true });
});
beforeAll(() => {
  if (!existsSync(built)) throw new Error(`${built} is missing: run 'npm run build' first`);
});

const deviceBytes = 4 << 20;
const limits = formatLimits(deviceBytes, 256);
let fileCount = 0;

/** A fresh folder, so that listing it shows exactly what a format left behind. */
function folder(): string {
  const path = join(dir, `case-${fileCount++}`);
  mkdirSync(path);
  return path;
}

function identityOf(path: string): string {
  const stat = statSync(path);
  return `${stat.dev}:${stat.ino}`;
}

function deviceIdOf(path: string): bigint {
  const device = DirectNvram.open(path);
  try {
    return device.header.deviceId;
  } finally {
    device.close();
  }
}

/** Runs an ES module script in a new node; its stdout. */
async function runScript(script: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code, `child failed: ${stderr}`).toBe(0);
  return stdout;
}

describe('formatNodeDevice publishes durably', () => {
  test('the directory is fsynced after the device gets its name', () => {
    const where = folder();
    const path = join(where, 'node.nvram');
    fsCalls.length = 0;
    expect(formatNodeDevice(path, deviceBytes, limits)).toBe(true);
    const named = fsCalls.findIndex(
      ({ call, target }) => (call === 'link' || call === 'rename') && target === path,
    );
    expect(named, 'the device is given its name').toBeGreaterThanOrEqual(0);
    const directory = identityOf(where);
    const synced = fsCalls.findIndex(
      ({ call, target }, at) => at > named && call === 'fsync' && target === directory,
    );
    expect(synced, `directory fsync after the name in ${JSON.stringify(fsCalls)}`).toBeGreaterThan(
      named,
    );
  });
});

describe('openNodeDevice when another process holds the device it just published', () => {
  // A racer opens the device the moment it has its name and holds it briefly: the process
  // that formatted it waits that hold out instead of failing with NVRAM_LOCKED.
  const holder = `
    import { writeFileSync } from 'node:fs';
    import { DirectNvram } from ${JSON.stringify(pathToFileURL(built).href)};
    const [path, marker] = process.argv.slice(1);
    const device = DirectNvram.open(path);
    writeFileSync(marker, 'held');
    setTimeout(() => device.close(), 300);`;

  test('a brief hold is waited out: this process still opens it, as the one that formatted it', async () => {
    const where = folder();
    const path = join(where, 'node.nvram');
    const marker = join(dir, `held-${fileCount}`);
    let child: ReturnType<typeof spawn> | null = null;
    afterLink.run = (published) => {
      child = spawn(process.execPath, ['--input-type=module', '-e', holder, published, marker], {
        stdio: 'ignore',
      });
      // synchronously, as the format is: until the racer holds the device (bounded)
      const end = Date.now() + 10_000;
      while (!existsSync(marker) && Date.now() < end)
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    };
    const started = Date.now();
    const { device, formatted } = openNodeDevice(path, {
      durability: 'process',
      sizeBytes: deviceBytes,
    });
    device.close();
    expect(existsSync(marker)).toBe(true); // the racer did hold it
    expect(formatted).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    const exited = child as ReturnType<typeof spawn> | null;
    expect(exited).not.toBeNull();
    const code = await new Promise<number | null>((resolve) => {
      if (exited!.exitCode !== null) resolve(exited!.exitCode);
      else exited!.once('exit', resolve);
    });
    expect(code).toBe(0);
  });
});

describe('openNodeDevice when processes race to create the device', () => {
  // Each child waits for the same moment, then opens; the device lock is held by whoever has
  // the device open, so a child that finds it locked tries again.
  const racer = `
    import { openNodeDevice } from ${JSON.stringify(pathToFileURL(built).href)};
    const [path, startAt, sizeBytes] = process.argv.slice(1);
    while (Date.now() < Number(startAt));
    for (;;) {
      try {
        const { device, formatted } = openNodeDevice(path, {
          durability: 'process',
          sizeBytes: Number(sizeBytes),
        });
        const deviceId = device.header.deviceId.toString();
        device.close();
        console.log(JSON.stringify({ formatted, deviceId }));
        break;
      } catch (error) {
        if (error.code !== 'NVRAM_LOCKED') throw error;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }`;

  test('exactly one formats, and all open the same device', async () => {
    const where = folder();
    const path = join(where, 'node.nvram');
    const startAt = String(Date.now() + 1500); // after every child has loaded the addon
    const racers = 4;
    const outputs = await Promise.all(
      Array.from({ length: racers }, () => runScript(racer, [path, startAt, String(16 << 20)])),
    );
    const opened = outputs.map(
      (out) => JSON.parse(out) as { formatted: boolean; deviceId: string },
    );
    expect(opened.filter((one) => one.formatted)).toHaveLength(1);
    expect(new Set(opened.map((one) => one.deviceId)).size).toBe(1);
    expect(opened[0]?.deviceId).toBe(deviceIdOf(path).toString());
    expect(readdirSync(where)).toEqual(['node.nvram']);
  });
});

describe('preallocation', () => {
  test('every block of a formatted device is allocated: no hole for a store to fault in', () => {
    const path = join(folder(), 'plain.nvram');
    DirectNvram.format(path, { sizeBytes: deviceBytes });
    expect(statSync(path).blocks * 512).toBeGreaterThanOrEqual(deviceBytes);
  });
});

/** Mounts a 1 MiB tmpfs at `at` (root only); the reason it cannot, or undefined. */
function mountSmallFileSystem(at: string): string | undefined {
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'nvrelay-full', at], {
    encoding: 'utf8',
  });
  if (mounted.error !== undefined) return `mount: ${mounted.error.message}`;
  if (mounted.status !== 0) return `mount failed: ${mounted.stderr.trim()}`;
  return undefined;
}

describe.skipIf(cannotMount !== undefined)(
  `a file system too small for the device${cannotMount === undefined ? '' : ` (skipped: ${cannotMount})`}`,
  () => {
    function expectNoRoom(format: () => unknown): void {
      let thrown: unknown;
      try {
        format();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(NvramError);
      expect((thrown as NvramError).code).toBe('NVRAM_IO');
      expect((thrown as NvramError).message).toMatch(/No space left on device/);
    }

    test('format throws NVRAM_IO and leaves no file', () => {
      expectNoRoom(() => DirectNvram.format(join(small, 'big.nvram'), { sizeBytes: deviceBytes }));
      expect(readdirSync(small)).toEqual([]);
    });

    test('a forced format over a device that fits throws NVRAM_IO and leaves no file', () => {
      const path = join(small, 'grown.nvram');
      DirectNvram.format(path, { sizeBytes: 64 << 10 });
      expectNoRoom(() => DirectNvram.format(path, { sizeBytes: deviceBytes, force: true }));
      expect(readdirSync(small)).toEqual([]);
    });

    test('openNodeDevice throws NVRAM_IO and leaves no file', () => {
      const path = join(small, 'node.nvram');
      expectNoRoom(() => openNodeDevice(path, { durability: 'process', sizeBytes: deviceBytes }));
      expect(readdirSync(small)).toEqual([]);
    });
  },
);

describe('close of a device file', () => {
  test("msyncs once in 'process' durability", () => {
    const path = join(folder(), 'close.nvram');
    DirectNvram.format(path, { sizeBytes: 64 << 10 });
    const device = DirectNvram.open(path, { durability: 'process' });
    device.storeU64(4096, 7);
    expect(device.msyncCount).toBe(0);
    device.close();
    expect(device.msyncCount).toBe(1);
    device.close(); // idempotent: no second msync
    expect(device.msyncCount).toBe(1);
  });

  const strace = spawnSync('strace', ['-o', '/dev/null', 'true']);
  const cannotTrace =
    strace.error !== undefined ? strace.error.message : strace.status !== 0 ? 'strace fails' : '';

  test.skipIf(cannotTrace !== '')(
    `the system call: one msync of the whole mapping${cannotTrace === '' ? '' : ` (skipped: ${cannotTrace})`}`,
    () => {
      const where = folder();
      const path = join(where, 'traced.nvram');
      const log = join(where, 'strace.log');
      const sizeBytes = 64 << 10;
      DirectNvram.format(path, { sizeBytes });
      const script = `
        import { DirectNvram } from ${JSON.stringify(pathToFileURL(built).href)};
        const device = DirectNvram.open(process.argv[1], { durability: 'process' });
        device.storeU64(4096, 7);
        device.close();`;
      const traced = spawnSync(
        'strace',
        [
          '-f',
          '-e',
          'trace=msync',
          '-o',
          log,
          process.execPath,
          '--input-type=module',
          '-e',
          script,
          path,
        ],
        { encoding: 'utf8' },
      );
      expect(traced.status, traced.stderr).toBe(0);
      const calls = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line.includes('msync('));
      // The boot msyncs the header page (4096 bytes); close msyncs all of the mapping.
      expect(calls.filter((line) => line.includes(`, ${sizeBytes}, MS_SYNC) = 0`))).toHaveLength(1);
    },
  );
});
