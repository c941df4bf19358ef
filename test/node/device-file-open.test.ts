/**
 * A node on a device file, in this process: the limits a format picks for a size (the largest
 * power-of-two runtime FIFO that fits, NODE_BAD_LAYOUT when not even 16 slots do), a format built
 * under a temporary name, written back with the node's control block and no boot counted,
 * published with a link and a directory fsync, no descriptor or temporary file left behind; a
 * device already at the path opened as it is (`formatted` false, its limits kept); the sections
 * of a node with no control block formatted in place; a damaged control block or a foreign device
 * refused with its code and left closed; temporary files of dead formats removed and those of
 * running ones kept; the device this process just published opened through a racer's hold of
 * its lock of under 2 s, and NVRAM_LOCKED once the hold reaches 2 s.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { detailsBytesMaxDefault, fifoSlotsMax } from '../../src/constants.js';
import { AssertionError } from '../../src/events/assert.js';
import { NodeError } from '../../src/events/errors.js';
import {
  formatLimits,
  formatNodeDevice,
  nodeDeviceBytesDefault,
  openNodeDevice,
} from '../../src/node/device-file.js';
import { nodeLayout, readNodeGeometry, type NodeLimits } from '../../src/node/layout.js';
import { DirectNvram, NvramError } from '../../src/nvram/index.js';

/** The link attempts and fsyncs device-file.ts makes, in order, with their targets. */
const fsCalls = vi.hoisted(() => [] as { call: string; target: string }[]);
/** An errno code the next link or unlink of device-file.ts fails with, once (null: none). */
const fsFaults = vi.hoisted(() => ({ link: null as string | null, unlink: null as string | null }));
/** When set, each write of device-file.ts writes at most this many bytes (a short write). */
const writeLimit = vi.hoisted(() => ({ bytes: null as number | null }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const fault = (call: 'link' | 'unlink', path: string): void => {
    const code = fsFaults[call];
    if (code === null) return;
    fsFaults[call] = null;
    throw Object.assign(new Error(`${code}: injected, ${call} '${path}'`), { code });
  };
  return {
    ...fs,
    unlinkSync: (path: string) => {
      fault('unlink', path);
      fs.unlinkSync(path);
    },
    linkSync: (from: string, to: string) => {
      fsCalls.push({ call: 'link', target: to });
      fault('link', to);
      fs.linkSync(from, to);
    },
    writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) =>
      fs.writeSync(fd, buffer, offset, Math.min(length, writeLimit.bytes ?? length), position),
    fsyncSync: (fd: number) => {
      fs.fsyncSync(fd);
      const stat = fs.fstatSync(fd);
      fsCalls.push({ call: 'fsync', target: `${stat.dev}:${stat.ino}` });
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-device-file-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
  fsFaults.link = null;
  fsFaults.unlink = null;
  writeLimit.bytes = null;
});

const deviceBytes = 1 << 20;
const limits = formatLimits(deviceBytes, detailsBytesMaxDefault);
let folders = 0;

/** A fresh folder, so that listing it shows exactly what a format left behind. */
function folder(): string {
  const path = join(dir, `case-${folders++}`);
  mkdirSync(path);
  return path;
}

function identityOf(path: string): string {
  const stat = statSync(path);
  return `${stat.dev}:${stat.ino}`;
}

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** What `fn` throws (undefined if it returns). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectCode(fn: () => unknown, type: new (...args: never[]) => Error, code: string): void {
  const thrown = thrownBy(fn);
  expect(thrown).toBeInstanceOf(type);
  expect((thrown as { code?: string }).code).toBe(code);
}

describe('formatLimits: the largest power-of-two runtime FIFO that fits', () => {
  const fitting = (runtimeSlots: number, detailsBytesMax = detailsBytesMaxDefault): number =>
    nodeLayout({ detailsBytesMax, runtimeSlots }).sizeBytes;

  test('the default device size gets the largest a format makes, 65536 slots', () => {
    expect(formatLimits(nodeDeviceBytesDefault, 256)).toEqual({
      detailsBytesMax: 256,
      runtimeSlots: 65536,
    });
  });

  test('a size exactly that of a layout gets it; one byte less gets half', () => {
    expect(formatLimits(fitting(1024), 256)).toEqual({ detailsBytesMax: 256, runtimeSlots: 1024 });
    expect(formatLimits(fitting(1024) - 1, 256)).toEqual({
      detailsBytesMax: 256,
      runtimeSlots: 512,
    });
    expect(formatLimits(fitting(64, 1024), 1024)).toEqual({
      detailsBytesMax: 1024,
      runtimeSlots: 64,
    });
  });

  test('16 slots is the smallest: exactly its size fits, a byte less is NODE_BAD_LAYOUT', () => {
    expect(formatLimits(fitting(16), 256)).toEqual({ detailsBytesMax: 256, runtimeSlots: 16 });
    expectCode(() => formatLimits(fitting(16) - 1, 256), NodeError, 'NODE_BAD_LAYOUT');
    expectCode(
      () =>
        openNodeDevice(join(folder(), 'tiny.nvram'), { durability: 'process', sizeBytes: 4096 }),
      NodeError,
      'NODE_BAD_LAYOUT',
    );
  });
});

describe('formatNodeDevice', () => {
  test('publishes a node device: its limits, no boot counted, no temporary file or descriptor left', () => {
    const where = folder();
    const path = join(where, 'node.nvram');
    fsCalls.length = 0;
    const descriptors = openDescriptors();
    expect(formatNodeDevice(path, deviceBytes, limits)).toBe(true);
    expect(openDescriptors()).toBe(descriptors);
    expect(readdirSync(where)).toEqual(['node.nvram']);
    expect(statSync(path).size).toBe(deviceBytes);
    // linked to its name, then the directory fsynced
    const named = fsCalls.findIndex(({ call, target }) => call === 'link' && target === path);
    expect(named).toBeGreaterThanOrEqual(0);
    expect(fsCalls.slice(named + 1)).toEqual([{ call: 'fsync', target: identityOf(where) }]);
    const device = DirectNvram.open(path);
    try {
      expect(device.header.bootCount).toBe(1); // this open's boot, the format's none
      expect(readNodeGeometry(device)).toEqual(nodeLayout(limits).geometry);
    } finally {
      device.close();
    }
  });

  test('short writes of the image are continued until all of it is written', () => {
    const path = join(folder(), 'node.nvram');
    const whole = join(folder(), 'whole.nvram');
    expect(formatNodeDevice(whole, deviceBytes, limits)).toBe(true);
    writeLimit.bytes = 100_000; // not a divisor of the size: the last write is shorter still
    expect(formatNodeDevice(path, deviceBytes, limits)).toBe(true);
    writeLimit.bytes = null;
    // past the header page (its device id is the format's own), byte for byte the same
    expect(readFileSync(path).subarray(4096).equals(readFileSync(whole).subarray(4096))).toBe(true);
    const device = DirectNvram.open(path);
    try {
      expect(readNodeGeometry(device)).toEqual(nodeLayout(limits).geometry);
    } finally {
      device.close();
    }
  });

  test('a device already at the path is left alone: false, no directory fsync, no temporary file', () => {
    const where = folder();
    const path = join(where, 'node.nvram');
    expect(formatNodeDevice(path, deviceBytes, limits)).toBe(true);
    const before = readFileSync(path);
    fsCalls.length = 0;
    expect(formatNodeDevice(path, deviceBytes, formatLimits(deviceBytes, 1024))).toBe(false);
    expect(fsCalls.filter(({ target }) => target === identityOf(where))).toEqual([]);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(where)).toEqual(['node.nvram']);
  });

  test('a link refused for another reason than an existing name is thrown; no temporary file stays', () => {
    const where = folder();
    fsFaults.link = 'EACCES';
    expect(
      thrownBy(() => formatNodeDevice(join(where, 'node.nvram'), deviceBytes, limits)),
    ).toEqual(expect.objectContaining({ code: 'EACCES' }));
    expect(readdirSync(where)).toEqual([]);
  });

  test('a temporary file that cannot be removed is thrown; its name is <path>.formatting.<pid>.<16 hex>', () => {
    const where = folder();
    fsFaults.unlink = 'EBUSY';
    expect(
      thrownBy(() => formatNodeDevice(join(where, 'node.nvram'), deviceBytes, limits)),
    ).toEqual(expect.objectContaining({ code: 'EBUSY' }));
    expect(readdirSync(where).sort()).toEqual([
      'node.nvram',
      expect.stringMatching(
        new RegExp(`^node\\.nvram\\.formatting\\.${process.pid}\\.[0-9a-f]{16}$`),
      ),
    ]);
  });

  test('a size the device format refuses is its NvramError (the temporary file never made)', () => {
    const where = folder();
    expectCode(
      () => formatNodeDevice(join(where, 'node.nvram'), deviceBytes + 1, limits),
      NvramError,
      'NVRAM_BAD_SIZE',
    );
    expect(readdirSync(where)).toEqual([]);
  });

  test('a runtime FIFO of fifoSlotsMax slots is formatted; one more slot is refused', () => {
    const claiming =
      (runtimeSlots: number) =>
      (of: NodeLimits): ReturnType<typeof nodeLayout> => {
        const layout = nodeLayout(of);
        return { ...layout, geometry: { ...layout.geometry, runtimeSlots } };
      };
    const where = folder();
    expect(
      formatNodeDevice(join(where, 'max.nvram'), deviceBytes, limits, claiming(fifoSlotsMax)),
    ).toBe(true);
    expect(
      thrownBy(() =>
        formatNodeDevice(
          join(where, 'over.nvram'),
          deviceBytes,
          limits,
          claiming(fifoSlotsMax + 1),
        ),
      ),
    ).toBeInstanceOf(AssertionError);
    expect(readdirSync(where)).toEqual(['max.nvram']);
  });
});

describe('openNodeDevice', () => {
  test('formats a missing file with the given size, details and durability, and counts one boot', () => {
    const path = join(folder(), 'node.nvram');
    const { device, formatted } = openNodeDevice(path, {
      durability: 'power',
      sizeBytes: deviceBytes,
      detailsBytesMax: 1024,
    });
    try {
      expect(formatted).toBe(true);
      expect(device.durability).toBe('power');
      expect(device.header.bootCount).toBe(1);
      expect(readNodeGeometry(device)).toEqual(
        nodeLayout(formatLimits(deviceBytes, 1024)).geometry,
      );
    } finally {
      device.close();
    }
    expect(statSync(path).size).toBe(deviceBytes);
  });

  test('details smaller than the default get the default', () => {
    const path = join(folder(), 'node.nvram');
    const { device } = openNodeDevice(path, {
      durability: 'process',
      sizeBytes: deviceBytes,
      detailsBytesMax: 16,
    });
    try {
      expect(readNodeGeometry(device).detailsBytesMax).toBe(detailsBytesMaxDefault);
    } finally {
      device.close();
    }
  });

  test('an existing device is opened as it is: formatted false, its limits kept, no format tried', () => {
    const where = folder();
    const path = join(where, 'node.nvram');
    openNodeDevice(path, { durability: 'process', sizeBytes: deviceBytes }).device.close();
    fsCalls.length = 0;
    const again = openNodeDevice(path, {
      durability: 'power',
      sizeBytes: 4 << 20, // used only when the file is formatted here
      detailsBytesMax: 1024,
    });
    try {
      expect(again.formatted).toBe(false);
      expect(again.device.durability).toBe('power');
      expect(again.device.header.bootCount).toBe(2);
      expect(readNodeGeometry(again.device)).toEqual(nodeLayout(limits).geometry);
    } finally {
      again.device.close();
    }
    expect(fsCalls.filter(({ call }) => call === 'link')).toEqual([]);
    expect(statSync(path).size).toBe(deviceBytes);
    expect(readdirSync(where)).toEqual(['node.nvram']);
  });

  test('the sections of a node but no control block: formatted in place', () => {
    const path = join(folder(), 'node.nvram');
    DirectNvram.format(path, { sizeBytes: deviceBytes, sections: nodeLayout(limits).sections });
    const { device, formatted } = openNodeDevice(path, {
      durability: 'process',
      sizeBytes: deviceBytes,
    });
    try {
      expect(formatted).toBe(true);
      expect(readNodeGeometry(device)).toEqual(nodeLayout(limits).geometry);
    } finally {
      device.close();
    }
  });

  test('a damaged control block, or sections of something else: thrown with its code, the device left closed', () => {
    const where = folder();
    const damaged = join(where, 'damaged.nvram');
    expect(formatNodeDevice(damaged, deviceBytes, limits)).toBe(true);
    const opened = DirectNvram.open(damaged);
    const control = opened.section('control').offset;
    opened.storeU32(control, 0x21212121); // the magic
    opened.persist(control, 4);
    opened.close();
    const foreign = join(where, 'foreign.nvram');
    DirectNvram.format(foreign, { sizeBytes: 65536, sections: [{ name: 'log', length: 4096 }] });
    for (const [path, type, code] of [
      [damaged, NodeError, 'NODE_CORRUPT'],
      [foreign, NvramError, 'NVRAM_UNKNOWN_SECTION'],
    ] as const) {
      const before = readFileSync(path);
      expectCode(
        () => openNodeDevice(path, { durability: 'process', sizeBytes: deviceBytes }),
        type,
        code,
      );
      DirectNvram.open(path).close(); // not left locked
      expect(readFileSync(path).subarray(4096).equals(before.subarray(4096))).toBe(true);
    }
  });

  test('a folder that does not exist: NVRAM_IO from the format, nothing else', () => {
    const path = join(dir, 'no-such-folder', 'node.nvram');
    const thrown = thrownBy(() =>
      openNodeDevice(path, { durability: 'process', sizeBytes: deviceBytes }),
    );
    expect(thrown).toBeInstanceOf(NvramError);
    expect((thrown as NvramError).code).toBe('NVRAM_IO');
    expect(existsSync(path)).toBe(false);
  });
});

describe('openNodeDevice and the temporary files of other formats', () => {
  test('those of dead processes are removed; of running ones, and other names, kept', () => {
    const where = folder();
    const path = join(where, 'node.nvram');
    const deadPid = 999_999_999; // above any pid_max: no such process
    const otherUsersPid = 999_999_998; // exists, but signalling it is not permitted
    const kill = process.kill.bind(process);
    vi.spyOn(process, 'kill').mockImplementation((pid: number, signal?: string | number) => {
      if (pid === otherUsersPid)
        throw Object.assign(new Error('EPERM: operation not permitted'), { code: 'EPERM' });
      return kill(pid, signal);
    });
    const abandoned = `${path}.formatting.${deadPid}.0123456789abcdef`;
    const kept = [
      `${path}.formatting.${process.pid}.fedcba9876543210`, // in progress here
      `${path}.formatting.${otherUsersPid}.fedcba9876543210`, // in progress, another user's
      `${path}.formatting`, // the name a format used before
      `${path}.formatting.junk`, // not a format's name
      `${path}.formatting.${deadPid}.0123`, // nor this
      join(where, `xode.nvram.formatting.${deadPid}.0123456789abcdef`), // another device's
      join(where, `other.formatting.${deadPid}.0123456789abcdef`), // another device's
    ];
    for (const file of [abandoned, ...kept]) writeFileSync(file, 'half a format');
    const { device, formatted } = openNodeDevice(path, {
      durability: 'process',
      sizeBytes: deviceBytes,
    });
    device.close();
    expect(formatted).toBe(true);
    expect(existsSync(abandoned)).toBe(false);
    for (const file of kept) expect(readFileSync(file, 'utf8')).toBe('half a format');
    expect(readdirSync(where).length).toBe(kept.length + 1);
  });
});

describe('openNodeDevice while a racer briefly holds the device it just published', () => {
  /** DirectNvram.open of device-file.ts fails with these first, each after the clock moves on. */
  function failingOpens(failures: { code: string; afterMs: number }[]): void {
    const open = DirectNvram.open.bind(DirectNvram);
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    vi.spyOn(DirectNvram, 'open').mockImplementation((path, options) => {
      const failure = failures.shift();
      if (failure === undefined) return open(path, options);
      vi.setSystemTime(Date.now() + failure.afterMs);
      throw new NvramError(failure.code as never, `nvram: ${String(path)}: injected`);
    });
  }

  test('a hold of under 2 s is waited out: opened, as the one that formatted it', () => {
    failingOpens([
      { code: 'NVRAM_LOCKED', afterMs: 1000 },
      { code: 'NVRAM_LOCKED', afterMs: 999 },
    ]);
    const { device, formatted } = openNodeDevice(join(folder(), 'node.nvram'), {
      durability: 'power',
      sizeBytes: deviceBytes,
    });
    try {
      expect(formatted).toBe(true);
      expect(device.durability).toBe('power');
      expect(readNodeGeometry(device)).toEqual(nodeLayout(limits).geometry);
    } finally {
      device.close();
    }
  });

  test('a hold reaching 2 s is NVRAM_LOCKED', () => {
    failingOpens([
      { code: 'NVRAM_LOCKED', afterMs: 1000 },
      { code: 'NVRAM_LOCKED', afterMs: 1000 },
    ]);
    expectCode(
      () =>
        openNodeDevice(join(folder(), 'node.nvram'), {
          durability: 'process',
          sizeBytes: deviceBytes,
        }),
      NvramError,
      'NVRAM_LOCKED',
    );
  });

  test('any other error is thrown at once', () => {
    failingOpens([{ code: 'NVRAM_IO', afterMs: 0 }]);
    expectCode(
      () =>
        openNodeDevice(join(folder(), 'node.nvram'), {
          durability: 'process',
          sizeBytes: deviceBytes,
        }),
      NvramError,
      'NVRAM_IO',
    );
  });
});
