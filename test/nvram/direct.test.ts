/** DirectNvram: loads and stores on the shared mapping, persist, boots, zero-copy sections. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DirectNvram, inspectDeviceFile, type Durability } from '../../src/nvram/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-direct-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sizeBytes = 8 * 4096;
let fileCount = 0;

function withDevice(
  durability: Durability,
  check: (device: DirectNvram, path: string) => void,
): string {
  const path = join(dir, `direct-${fileCount++}.nvram`);
  DirectNvram.format(path, {
    sizeBytes,
    sections: [
      { name: 'events', length: 8192 },
      { name: 'meta', length: 64 },
    ],
  });
  const device = DirectNvram.open(path, { durability });
  try {
    check(device, path);
  } finally {
    device.close();
  }
  return path;
}

const wordValues = [
  0,
  1,
  255,
  2 ** 20,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
  2 ** 52 - 1,
  2 ** 52,
  2 ** 52 + 12345,
  2 ** 53 - 1,
  1_700_000_000_123,
];

describe('DirectNvram.open', () => {
  test('counts a boot at every open', () => {
    const path = withDevice('process', (device) => expect(device.header.bootCount).toBe(1));
    const again = DirectNvram.open(path);
    expect(again.header.bootCount).toBe(2);
    again.close();
  });

  test('inspectDeviceFile reads a device that is open (and locked) elsewhere', () => {
    withDevice('process', (device, path) => {
      const header = inspectDeviceFile(path);
      expect(header.bootCount).toBe(device.header.bootCount);
      expect(header.sections).toEqual(device.header.sections);
      expect(header.deviceId).toBe(device.header.deviceId);
    });
  });

  test('defaults to process durability', () => {
    const path = withDevice('power', (device) => expect(device.durability).toBe('power'));
    const device = DirectNvram.open(path);
    expect(device.durability).toBe('process');
    device.close();
  });
});

describe('loads and stores', () => {
  for (const durability of ['process', 'power'] as const) {
    test(`storeU64 then loadU64 returns every value below 2^53 exactly (${durability})`, () => {
      const path = withDevice(durability, (device) => {
        const base = device.section('events').offset;
        wordValues.forEach((value, i) => device.storeU64(base + i * 8, value));
        device.persist(base, wordValues.length * 8);
        wordValues.forEach((value, i) => expect(device.loadU64(base + i * 8)).toBe(value));
      });
      const file = readFileSync(path);
      wordValues.forEach((value, i) =>
        expect(file.readBigUInt64LE(4096 + i * 8)).toBe(BigInt(value)),
      );
    });
  }

  test('storeU32, loadU32 and storeBytes with a slice land in the file, little-endian', () => {
    const path = withDevice('process', (device) => {
      device.storeU32(4096, 0xdeadbeef);
      device.storeBytes(4100, Uint8Array.of(9, 1, 2, 3, 9), 1, 4);
      expect(device.loadU32(4096)).toBe(0xdeadbeef);
      const back = new Uint8Array(3);
      device.loadBytes(4100, back);
      expect(Array.from(back)).toEqual([1, 2, 3]);
    });
    const file = readFileSync(path);
    expect(file.readUInt32LE(4096)).toBe(0xdeadbeef);
    expect(Array.from(file.subarray(4100, 4104))).toEqual([1, 2, 3, 0]);
  });

  test('loads may read the header page; stores may not', () => {
    withDevice('process', (device) => {
      const magic = new Uint8Array(8);
      device.loadBytes(0, magic);
      expect(Buffer.from(magic).toString('latin1')).toBe('NVRLDEV1');
      expect(() => device.storeU32(0, 1)).toThrow(/header page/);
    });
  });

  test('a word at or above 2^53 (corrupt media) loads as a number >= 2^53, never a small one', () => {
    withDevice('process', (device) => {
      const view = device.sectionBytes('events');
      view.fill(0xff, 0, 8);
      expect(device.loadU64(4096)).toBeGreaterThanOrEqual(2 ** 53);
    });
  });

  test('flush then fence and persist work in power durability across several ranges', () => {
    withDevice('power', (device) => {
      for (let i = 0; i < 20; i++) {
        device.storeU64(4096 + i * 1024, i);
        device.flush(4096 + i * 1024, 8);
      }
      device.fence();
      device.persist(4096, 8192);
      device.persist(4096, 0);
      expect(device.loadU64(4096 + 19 * 1024)).toBe(19);
    });
  });
});

describe('fence in power durability', () => {
  test('is one msync however many ranges were flushed since the last fence', () => {
    withDevice('power', (device) => {
      const before = device.msyncCount;
      for (const page of [1, 4, 2]) {
        device.storeU64(page * 4096 + 8, page);
        device.flush(page * 4096 + 8, 8);
      }
      device.fence();
      expect(device.msyncCount - before).toBe(1);
      device.fence(); // nothing flushed since
      expect(device.msyncCount - before).toBe(1);
    });
  });

  test('a persist after flushes folds them into its own msync', () => {
    withDevice('power', (device) => {
      const before = device.msyncCount;
      device.flush(3 * 4096, 8);
      device.persist(4096 + 100, 8);
      expect(device.msyncCount - before).toBe(1);
      device.persist(5 * 4096 + 4000, 200);
      expect(device.msyncCount - before).toBe(2);
    });
  });

  test('process durability never msyncs', () => {
    withDevice('process', (device) => {
      device.flush(4096, 8);
      device.fence();
      device.persist(4096, 8);
      expect(device.msyncCount).toBe(0);
    });
  });
});

describe('sectionBytes', () => {
  test('is a zero-copy view onto the mapping, both ways', () => {
    withDevice('process', (device) => {
      const view = device.sectionBytes('meta');
      const meta = device.section('meta');
      expect(view.length).toBe(4096);
      view[0] = 0x2a;
      expect(device.loadU32(meta.offset)).toBe(0x2a);
      device.storeU64(meta.offset + 8, 0x0102);
      expect(view[8]).toBe(0x02);
      expect(view[9]).toBe(0x01);
      expect(device.sectionBytes('meta').buffer).toBe(view.buffer);
    });
  });

  test('what is written through it is in the file after close', () => {
    const path = withDevice('process', (device) =>
      device.sectionBytes('events').set([7, 8, 9], 100),
    );
    expect(Array.from(readFileSync(path).subarray(4196, 4199))).toEqual([7, 8, 9]);
  });
});
