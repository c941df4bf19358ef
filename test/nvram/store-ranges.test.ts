/**
 * Both devices (src/nvram/direct.ts, traced.ts) with ranges at their edges: a store of part of
 * a source, a part the source does not have (NVRAM_OUT_OF_RANGE naming it), empty ranges (a
 * no-op anywhere up to the end, out of range past it), a power cut cleared before it fires, and
 * a format without its options.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { DirectNvram, TracedNvram, type NvramDevice } from '../../src/nvram/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-ranges-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sizeBytes = 16384;
const sections = [{ name: 'data', length: 8192 }];

let made = 0;

function devices(): [string, NvramDevice][] {
  const path = join(dir, `d-${made++}.nvram`);
  DirectNvram.format(path, { sizeBytes, sections });
  return [
    ['direct', DirectNvram.open(path)],
    ['traced', TracedNvram.format(sizeBytes, sections)],
  ];
}

const outOfRange = (text: string) =>
  expect.objectContaining({ code: 'NVRAM_OUT_OF_RANGE', message: expect.stringContaining(text) });

describe('device ranges at their edges', () => {
  test('a store of part of a source writes that part; a part it does not have is NVRAM_OUT_OF_RANGE', () => {
    for (const [kind, device] of devices()) {
      try {
        const at = device.section('data').offset;
        device.storeBytes(at, new Uint8Array([1, 2, 3, 4, 5, 6]), 2, 5);
        const back = new Uint8Array(4);
        device.loadBytes(at, back);
        expect([...back], kind).toEqual([3, 4, 5, 0]);
        const source = new Uint8Array(4);
        expect(() => device.storeBytes(at, source, undefined, 99), kind).toThrow(
          outOfRange('[start, end) = [0, 99) is not inside the 4-byte source'),
        );
        expect(() => device.storeBytes(at, source, 9), kind).toThrow(
          outOfRange('[start, end) = [9, 4) is not inside the 4-byte source'),
        );
      } finally {
        device.close();
      }
    }
  });

  test('an empty range is a no-op anywhere up to the end of the device, and out of range past it', () => {
    for (const [kind, device] of devices()) {
      try {
        device.storeBytes(device.sizeBytes, new Uint8Array(0));
        device.flush(device.sizeBytes, 0);
        device.persist(8192, 0);
        expect(() => device.storeBytes(device.sizeBytes + 64, new Uint8Array(0)), kind).toThrow(
          expect.objectContaining({ code: 'NVRAM_OUT_OF_RANGE' }),
        );
        expect(() => device.flush(device.sizeBytes + 64, 0), kind).toThrow(
          expect.objectContaining({ code: 'NVRAM_OUT_OF_RANGE' }),
        );
      } finally {
        device.close();
      }
    }
  });

  test('a power cut set and then cleared never fires', () => {
    const device = TracedNvram.format(sizeBytes, sections);
    try {
      const at = device.section('data').offset;
      device.setPowerCut(1);
      device.setPowerCut(-1);
      for (let k = 0; k < 4; k++) device.storeU64(at + 8 * k, k + 1);
      device.persist(at, 32);
      expect(device.loadU64(at + 24)).toBe(4);
    } finally {
      device.close();
    }
  });

  test('a format without options is NVRAM_BAD_ARGUMENT', () => {
    expect(() => DirectNvram.format(join(dir, 'never.nvram'), undefined as never)).toThrow(
      expect.objectContaining({
        code: 'NVRAM_BAD_ARGUMENT',
        message: expect.stringContaining('options {sizeBytes} are required'),
      }),
    );
  });
});
