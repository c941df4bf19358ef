/**
 * Every bad input of issue 2 gets a typed error with a stable code, and leaves the device file
 * byte-for-byte unchanged. Then a fuzz of every entry point (TypeScript and raw addon): typed
 * errors or success, never another exception or a crash.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { addon } from '../../src/nvram/addon.js';
import {
  crc32c,
  DirectNvram,
  inspectDeviceFile,
  NvramError,
  TracedNvram,
  type NvramErrorCode,
} from '../../src/nvram/index.js';

const seed = Number(process.env['FC_SEED'] ?? 20_251_126);
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-bad-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sizeBytes = 16 * 4096;
const sections = [
  { name: 'events', length: 8 * 4096 },
  { name: 'meta', length: 100 },
];
let fileCount = 0;

/** A freshly formatted device file. */
function freshDevice(): string {
  const path = join(dir, `device-${fileCount++}.nvram`);
  DirectNvram.format(path, { sizeBytes, sections });
  return path;
}

function hashOf(path: string): string {
  return existsSync(path)
    ? createHash('sha256').update(readFileSync(path)).digest('hex')
    : 'absent';
}

/** The error `action` throws; fails the test if it throws nothing or not an NvramError. */
function caught(action: () => unknown): NvramError {
  try {
    action();
  } catch (error) {
    if (error instanceof NvramError) return error;
    throw new Error(`expected an NvramError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected an NvramError, nothing was thrown');
}

/** `action` throws `code`, names the file, and leaves the file's bytes unchanged. */
function expectRefused(path: string, code: NvramErrorCode, action: () => unknown): NvramError {
  const before = hashOf(path);
  const error = caught(action);
  expect(error.code).toBe(code);
  expect(error.message).toContain(path);
  expect(hashOf(path), 'file unchanged').toBe(before);
  return error;
}

/** Rewrites header bytes of a formatted file, optionally recomputing the header CRC. */
function patchHeader(path: string, patch: (view: DataView) => void, fixCrc: boolean): void {
  const bytes = new Uint8Array(readFileSync(path));
  const view = new DataView(bytes.buffer);
  patch(view);
  if (fixCrc) view.setUint32(1576, crc32c(bytes, 0, 1576), true);
  writeFileSync(path, bytes);
}

describe('opening a bad device file', () => {
  test('a missing file is NVRAM_FILE_MISSING, and nothing is created', () => {
    const path = join(dir, 'missing.nvram');
    expectRefused(path, 'NVRAM_FILE_MISSING', () => DirectNvram.open(path));
    expectRefused(path, 'NVRAM_FILE_MISSING', () => inspectDeviceFile(path));
    expect(existsSync(path)).toBe(false);
  });

  test('a file shorter than the header is NVRAM_TRUNCATED', () => {
    const path = freshDevice();
    truncateSync(path, 1000);
    expectRefused(path, 'NVRAM_TRUNCATED', () => DirectNvram.open(path));
    expectRefused(path, 'NVRAM_TRUNCATED', () => inspectDeviceFile(path));
  });

  test('a header size that differs from the file size is NVRAM_SIZE_MISMATCH', () => {
    const path = freshDevice();
    truncateSync(path, sizeBytes + 4096);
    expectRefused(path, 'NVRAM_SIZE_MISMATCH', () => DirectNvram.open(path));
    expectRefused(path, 'NVRAM_SIZE_MISMATCH', () => inspectDeviceFile(path));
  });

  test('a wrong magic is NVRAM_BAD_MAGIC', () => {
    const path = freshDevice();
    patchHeader(path, (view) => view.setUint8(0, 'X'.charCodeAt(0)), true);
    expectRefused(path, 'NVRAM_BAD_MAGIC', () => DirectNvram.open(path));
    expectRefused(path, 'NVRAM_BAD_MAGIC', () => inspectDeviceFile(path));
  });

  test('a lost (all-zero) device is NVRAM_BAD_MAGIC, never read as empty', () => {
    const path = freshDevice();
    writeFileSync(path, new Uint8Array(sizeBytes));
    expectRefused(path, 'NVRAM_BAD_MAGIC', () => DirectNvram.open(path));
  });

  test('an unsupported format version is NVRAM_BAD_VERSION', () => {
    const path = freshDevice();
    patchHeader(path, (view) => view.setUint32(8, 2, true), true);
    expectRefused(path, 'NVRAM_BAD_VERSION', () => DirectNvram.open(path));
    expectRefused(path, 'NVRAM_BAD_VERSION', () => inspectDeviceFile(path));
  });

  test('a header checksum mismatch is NVRAM_HEADER_CHECKSUM', () => {
    const path = freshDevice();
    patchHeader(path, (view) => view.setUint8(40, 'f'.charCodeAt(0)), false); // rename 'events'
    expectRefused(path, 'NVRAM_HEADER_CHECKSUM', () => DirectNvram.open(path));
    expectRefused(path, 'NVRAM_HEADER_CHECKSUM', () => inspectDeviceFile(path));
  });

  test('an overlapping section table is NVRAM_BAD_LAYOUT even with a valid checksum', () => {
    const path = freshDevice();
    patchHeader(path, (view) => view.setBigUint64(40 + 48 + 32, 8192n, true), true); // 'meta' inside 'events'
    expectRefused(path, 'NVRAM_BAD_LAYOUT', () => DirectNvram.open(path));
    expectRefused(path, 'NVRAM_BAD_LAYOUT', () => inspectDeviceFile(path));
  });

  test('a second open of a device is NVRAM_LOCKED, in this process and in another', async () => {
    const path = freshDevice();
    const device = DirectNvram.open(path);
    try {
      expectRefused(path, 'NVRAM_LOCKED', () => DirectNvram.open(path));
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { DirectNvram } from ${JSON.stringify(new URL('../../dist/src/nvram/index.js', import.meta.url).href)};
           try { DirectNvram.open(${JSON.stringify(path)}); console.log('opened'); } catch (e) { console.log(e.code); }`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      await new Promise((resolve) => child.on('close', resolve));
      expect(output.trim()).toBe('NVRAM_LOCKED');
    } finally {
      device.close();
    }
    DirectNvram.open(path).close(); // the lock went with the close
  });

  test('format over an existing file is NVRAM_FILE_EXISTS unless forced', () => {
    const path = freshDevice();
    expectRefused(path, 'NVRAM_FILE_EXISTS', () =>
      DirectNvram.format(path, { sizeBytes, sections }),
    );
  });

  test('format creates the file with mode 0600', () => {
    const path = freshDevice();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    DirectNvram.format(path, { sizeBytes, sections, force: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

describe('bad arguments to an open direct device', () => {
  function withDevice(check: (device: DirectNvram, path: string) => void): void {
    const path = freshDevice();
    const device = DirectNvram.open(path);
    try {
      check(device, path);
    } finally {
      device.close();
    }
  }

  test('an unknown section is NVRAM_UNKNOWN_SECTION', () => {
    withDevice((device, path) => {
      expectRefused(path, 'NVRAM_UNKNOWN_SECTION', () => device.section('nope'));
      expectRefused(path, 'NVRAM_UNKNOWN_SECTION', () => device.sectionBytes('Events'));
    });
  });

  test('offsets and lengths out of range are NVRAM_OUT_OF_RANGE', () => {
    withDevice((device, path) => {
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () => device.loadU64(sizeBytes));
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () => device.loadU32(sizeBytes - 2 + 2));
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () => device.storeU64(sizeBytes, 1));
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () => device.storeU64(0, 1)); // the header page
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () =>
        device.storeBytes(sizeBytes - 4, new Uint8Array(8)),
      );
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () =>
        device.storeBytes(4096, new Uint8Array(8), 2, 9),
      );
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () =>
        device.loadBytes(sizeBytes - 4, new Uint8Array(8)),
      );
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () => device.persist(4096, sizeBytes));
      expectRefused(path, 'NVRAM_OUT_OF_RANGE', () => device.flush(sizeBytes + 8, 8));
    });
  });

  test('negative, non-integer and non-number arguments are NVRAM_BAD_ARGUMENT', () => {
    withDevice((device, path) => {
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () => device.loadU64(-8));
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () => device.persist(4096, -1));
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () => device.storeBytes(4096.5, new Uint8Array(1)));
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () => device.flush(4096, 1.5));
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () => device.loadU32('4096' as unknown as number));
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () => device.storeU64(4096, 2 ** 53));
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () => device.storeU64(4096, -1));
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () => device.storeU32(4096, 2 ** 32));
      expectRefused(path, 'NVRAM_BAD_ARGUMENT', () =>
        device.storeBytes(4096, [1, 2] as unknown as Uint8Array),
      );
    });
  });

  test('unaligned word accesses are NVRAM_UNALIGNED', () => {
    withDevice((device, path) => {
      expectRefused(path, 'NVRAM_UNALIGNED', () => device.loadU64(4100));
      expectRefused(path, 'NVRAM_UNALIGNED', () => device.storeU64(4100, 1));
      expectRefused(path, 'NVRAM_UNALIGNED', () => device.loadU32(4098));
      expectRefused(path, 'NVRAM_UNALIGNED', () => device.storeU32(4098, 1));
    });
  });

  test('every method after close is NVRAM_CLOSED, and close is idempotent', () => {
    const path = freshDevice();
    const device = DirectNvram.open(path);
    const view = device.sectionBytes('events');
    device.close();
    device.close();
    expect(view.length).toBe(0); // the mapping is gone, and the view with it
    const calls: Array<() => unknown> = [
      () => device.loadU32(4096),
      () => device.loadU64(4096),
      () => device.loadBytes(4096, new Uint8Array(0)),
      () => device.storeU32(4096, 1),
      () => device.storeU64(4096, 1),
      () => device.storeBytes(4096, new Uint8Array(0)),
      () => device.flush(4096, 0),
      () => device.fence(),
      () => device.persist(4096, 8),
      () => device.section('events'),
      () => device.sectionBytes('events'),
    ];
    for (const call of calls) expectRefused(path, 'NVRAM_CLOSED', call);
  });

  test('misspelt and invalid options are NVRAM_BAD_ARGUMENT with a suggestion', () => {
    const path = freshDevice();
    const misspelt = expectRefused(path, 'NVRAM_BAD_ARGUMENT', () =>
      DirectNvram.open(path, { durabilty: 'power' } as unknown as { durability: 'power' }),
    );
    expect(misspelt.message).toContain(`did you mean 'durability'`);
    expectRefused(path, 'NVRAM_BAD_ARGUMENT', () =>
      DirectNvram.open(path, { durability: 'disk' } as unknown as { durability: 'power' }),
    );
    const other = join(dir, 'never-created.nvram');
    const sizeTypo = expectRefused(other, 'NVRAM_BAD_ARGUMENT', () =>
      DirectNvram.format(other, { sizebytes: 8192 } as unknown as { sizeBytes: number }),
    );
    expect(sizeTypo.message).toContain(`did you mean 'sizeBytes'`);
    expectRefused(other, 'NVRAM_BAD_SIZE', () => DirectNvram.format(other, { sizeBytes: 5000 }));
    expectRefused(other, 'NVRAM_BAD_LAYOUT', () =>
      DirectNvram.format(other, { sizeBytes: 8192, sections: [{ name: 'Bad Name', length: 1 }] }),
    );
    expectRefused(other, 'NVRAM_BAD_LAYOUT', () =>
      DirectNvram.format(other, { sizeBytes: 8192, sections: [{ name: 'big', length: 8192 }] }),
    );
    expect(existsSync(other)).toBe(false);
  });
});

// ---- fuzz ----

const size = sizeBytes;
/** Numbers and non-numbers that break naive argument handling. */
const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    NaN,
    Infinity,
    -Infinity,
    -0,
    0,
    -1,
    0.5,
    4096.5,
    2 ** 31,
    2 ** 32,
    2 ** 53,
    2 ** 53 + 2,
    2 ** 64,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    size,
    size - 4,
    size - 8,
    4096,
    4092,
    undefined,
    null,
    true,
    '4096',
    '',
    [],
    {},
    { length: 8 },
    Symbol('x'),
    10n,
    -1n,
    2n ** 64n,
    () => 0,
  ),
  fc.integer({ min: -10, max: size + 10 }),
  fc.integer({ min: 0, max: size / 8 }).map((word) => word * 8),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.object({ maxDepth: 1 }),
  fc.uint8Array({ maxLength: 24 }),
  fc.constantFrom(
    new Uint8Array(size),
    new Float64Array(3),
    new Uint16Array(4),
    new Float64Array([NaN, -1, 1e300]),
  ),
);
const args = fc.array(nasty, { maxLength: 4 });

/** Calls `method` on `target` with `values`; only NvramError may escape. */
function callTyped(target: object, method: string, values: unknown[]): void {
  try {
    const fn = (target as Record<string, unknown>)[method];
    if (typeof fn !== 'function') throw new Error(`no method ${method}`);
    fn.apply(target, values);
  } catch (error) {
    if (!(error instanceof NvramError)) {
      throw new Error(
        `${method}(${values.map((value) => describeValue(value)).join(', ')}) threw ${String(error)}`,
      );
    }
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return String(value);
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name}(${(value as Uint8Array).length})`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const deviceMethods = [
  'loadU32',
  'loadU64',
  'loadBytes',
  'storeU32',
  'storeU64',
  'storeBytes',
  'flush',
  'fence',
  'persist',
  'section',
] as const;
const directMethods = [...deviceMethods, 'sectionBytes'];
const tracedMethods = [
  ...deviceMethods,
  'setPowerCut',
  'imageCount',
  'survivorsByIndex',
  'survivorsBySeed',
  'allows',
  'buildImage',
  'buildDurableImage',
  'flipBits',
  'applyTrace',
  'pendingStores',
];
const nativeTracedMethods = [
  'setPowerCut',
  'store',
  'flush',
  'fence',
  'imageCount',
  'pendingStores',
  'survivorsByIndex',
  'survivorsBySeed',
  'allows',
  'buildImage',
  'buildDurableImage',
  'flipBits',
  'exportTrace',
  'applyTrace',
];

describe('fuzzing the entry points', () => {
  test('DirectNvram methods throw only NvramError, and the header page is never written', () => {
    const path = freshDevice();
    const device = DirectNvram.open(path, { durability: 'power' });
    const header = readFileSync(path).subarray(0, 4096);
    try {
      fc.assert(
        fc.property(fc.constantFrom(...directMethods), args, (method, values) =>
          callTyped(device, method, values),
        ),
        { seed, numRuns: 3000 },
      );
    } finally {
      device.close();
    }
    expect(readFileSync(path).subarray(0, 4096)).toEqual(header);
  });

  test('DirectNvram.format and open throw only NvramError for any arguments', () => {
    const target = join(dir, 'fuzz-format.nvram');
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(target), nasty),
        fc.oneof(
          nasty,
          fc.record({
            sizeBytes: nasty,
            sections: fc.oneof(nasty, fc.array(fc.record({ name: nasty, length: nasty }))),
          }),
        ),
        (path, options) => {
          callTyped(DirectNvram, 'format', [path, options]);
          rmSync(target, { force: true });
          callTyped(DirectNvram, 'open', [path, options]);
        },
      ),
      { seed, numRuns: 500 },
    );
  });

  test('TracedNvram methods throw only NvramError for any arguments', () => {
    const device = TracedNvram.format(size, sections, { record: true });
    fc.assert(
      fc.property(fc.constantFrom(...tracedMethods), args, (method, values) =>
        callTyped(device, method, values),
      ),
      { seed, numRuns: 3000 },
    );
  });

  test('TracedNvram.format and fromImage throw only NvramError for any arguments', () => {
    const image = TracedNvram.format(size, sections).buildDurableImage();
    const options = fc.oneof(
      nasty,
      fc.record({ deviceId: nasty, record: nasty }, { requiredKeys: [] }),
      fc.record({ label: nasty, record: nasty, boot: nasty }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(
        fc.oneof(nasty, fc.constantFrom(8192, 65536, 2 ** 40)),
        fc.oneof(nasty, fc.constant(sections)),
        options,
        fc.boolean(),
        (sizeValue, sectionsValue, optionsValue, fromGoodImage) => {
          callTyped(TracedNvram, 'format', [sizeValue, sectionsValue, optionsValue]);
          callTyped(TracedNvram, 'fromImage', [fromGoodImage ? image : sizeValue, optionsValue]);
        },
      ),
      { seed, numRuns: 500 },
    );
  });

  test('the raw addon throws only NvramError for any arguments', () => {
    const image = new Uint8Array(size);
    addon.formatImage(image, sections, 7n);
    const native = new addon.TracedDevice(image, true);
    fc.assert(
      fc.property(fc.constantFrom(...nativeTracedMethods), args, (method, values) =>
        callTyped(native, method, values),
      ),
      { seed, numRuns: 3000 },
    );
    const functions = ['crc32c', 'formatImage', 'parseHeader', 'bootImage'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...functions), args, (name, values) =>
        callTyped(addon, name, values),
      ),
      { seed, numRuns: 2000 },
    );
  });

  test('the raw addon constructors throw only NvramError for any arguments', () => {
    const path = freshDevice();
    fc.assert(
      fc.property(fc.oneof(fc.constant(path), nasty), nasty, (file, option) => {
        for (const ctor of [addon.DirectDevice, addon.TracedDevice] as unknown as Array<
          new (...values: unknown[]) => { close?: () => void }
        >) {
          try {
            const made = new ctor(file, option);
            made.close?.();
          } catch (error) {
            if (!(error instanceof NvramError))
              throw new Error(
                `${ctor.name}(${describeValue(file)}, ${describeValue(option)}) threw ${String(error)}`,
              );
          }
        }
      }),
      { seed, numRuns: 500 },
    );
  });
});
