/**
 * What a FIFO ring [140, 141] accepts as its geometry and what it holds before its first boot
 * recovery (src/fifo/fifo-ring.ts): a slot count in [1, fifoSlotsMax], whole-line slots, one to
 * recipientsMax recipients, a section large enough (else NODE_BAD_LAYOUT), record buffers in
 * WebAssembly memory unless asked otherwise, one view per slot made at boot for rings up to
 * slotViewsEagerMax slots (else on first use), and nothing owed to the device yet.
 */
import { describe, expect, test } from 'vitest';
import { fifoSlotsMax, recipientsMax } from '../../src/constants.js';
import { AssertionError } from '../../src/events/assert.js';
import { NodeError } from '../../src/events/errors.js';
import { PersistentFifo, slotViewsEagerMax } from '../../src/fifo/fifo.js';
import { fifoSectionBytes, type FifoGeometry } from '../../src/fifo/layout.js';
import { TracedNvram } from '../../src/nvram/index.js';

const small: FifoGeometry = { slotBytes: 64, slotCount: 4, detailsBytesMax: 0, recipientsMax: 3 };

/** A device with one 8 KiB section named 'fifo' (a ring of up to 124 64-byte slots). */
function device(length = 8192): TracedNvram {
  return TracedNvram.format(4096 + length, [{ name: 'fifo', length }], { record: true });
}

function codeOf(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    if (error instanceof NodeError) return error.code;
    if (error instanceof AssertionError) return 'assertion';
    throw error;
  }
  return 'built';
}

describe('geometry', () => {
  test('slot counts from 1 to fifoSlotsMax', () => {
    const nvram = device();
    const build = (slotCount: number) => () =>
      new PersistentFifo(nvram, 'fifo', { ...small, slotCount });
    expect(codeOf(build(0))).toBe('assertion');
    expect(codeOf(build(1))).toBe('built');
    expect(codeOf(build(124))).toBe('built');
    // the count is checked before the section: a ring this large only fails for want of space
    expect(codeOf(build(fifoSlotsMax))).toBe('NODE_BAD_LAYOUT');
    expect(codeOf(build(fifoSlotsMax + 1))).toBe('assertion');
  });

  test('slots of whole 64-byte lines', () => {
    const nvram = device();
    expect(codeOf(() => new PersistentFifo(nvram, 'fifo', { ...small, slotBytes: 96 }))).toBe(
      'assertion',
    );
    expect(codeOf(() => new PersistentFifo(nvram, 'fifo', { ...small, slotBytes: 128 }))).toBe(
      'built',
    );
  });

  test('one to recipientsMax recipients', () => {
    const nvram = device();
    const build = (count: number) => () =>
      new PersistentFifo(nvram, 'fifo', { ...small, recipientsMax: count });
    expect([0, 1, 2, recipientsMax, recipientsMax + 1].map((n) => codeOf(build(n)))).toEqual([
      'assertion',
      'built',
      'built',
      'built',
      'assertion',
    ]);
  });

  test('a section smaller than the ring needs is NODE_BAD_LAYOUT', () => {
    const nvram = device();
    const fits = { ...small, slotCount: 124 }; // 256 + 124 * 64 = 8192
    expect(fifoSectionBytes(fits)).toBe(8192);
    expect(codeOf(() => new PersistentFifo(nvram, 'fifo', fits))).toBe('built');
    expect(codeOf(() => new PersistentFifo(nvram, 'fifo', { ...fits, slotCount: 125 }))).toBe(
      'NODE_BAD_LAYOUT',
    );
  });
});

describe('before the first boot recovery', () => {
  test('nothing is owed to the device and no confirmation word is reported damaged', () => {
    const nvram = device();
    PersistentFifo.format(nvram, 'fifo', small);
    const mark = nvram.exportTrace().kinds.length;
    const fifo = new PersistentFifo(nvram, 'fifo', small);
    expect(fifo.confirmationsDamaged).toEqual([]);
    expect(fifo.confirmationsUnfenced).toBe(false);
    fifo.confirmationsDurable();
    fifo.persistPointers();
    expect(nvram.exportTrace().kinds.length).toBe(mark); // not one store, flush or fence
  });

  test('record buffers live in WebAssembly memory unless the TypeScript checksum is asked for', () => {
    const nvram = device();
    const byDefault = new PersistentFifo(nvram, 'fifo', small);
    const wasm = new PersistentFifo(nvram, 'fifo', small, 'webassembly');
    const typescript = new PersistentFifo(nvram, 'fifo', small, 'typescript');
    expect(typescript.shadow.byteOffset).toBe(0); // a plain buffer of its own
    expect(wasm.shadow.byteOffset).toBeGreaterThan(0); // after the CRC tables
    expect(byDefault.shadow.byteOffset).toBe(wasm.shadow.byteOffset);
    expect(byDefault.shadow.buffer.byteLength).toBe(wasm.shadow.buffer.byteLength);
  });
});

/** Exposes the per-slot views. */
class ViewedFifo extends PersistentFifo {
  views(): (Uint8Array | undefined)[] {
    return this.slotViews;
  }
}

describe('slot views', () => {
  const ring = (slotCount: number): ViewedFifo => {
    const geometry = { ...small, slotCount };
    return new ViewedFifo(device(fifoSectionBytes(geometry)), 'fifo', geometry, 'typescript');
  };

  test('a ring of slotViewsEagerMax slots gets one view per slot at boot, no more', () => {
    const fifo = ring(slotViewsEagerMax);
    const views = fifo.views();
    expect(views).toHaveLength(slotViewsEagerMax);
    expect(views.every((view) => view !== undefined && view.length === 64)).toBe(true);
    expect(views[slotViewsEagerMax - 1]?.byteOffset).toBe(
      fifo.shadow.byteOffset + (slotViewsEagerMax - 1) * 64,
    );
    expect(fifo.slotView(slotViewsEagerMax + 1)).toBe(views[1]);
  });

  test('a larger ring makes each slot\u2019s view on its first use', () => {
    const slotCount = slotViewsEagerMax + 1;
    const fifo = ring(slotCount);
    const views = fifo.views();
    expect(views).toHaveLength(slotCount);
    expect(views.filter((view) => view !== undefined)).toHaveLength(0);
    const view = fifo.slotView(slotCount + 5);
    expect(view.byteOffset).toBe(fifo.shadow.byteOffset + 5 * 64);
    expect(fifo.slotView(5)).toBe(view);
    expect(views.filter((v) => v !== undefined)).toHaveLength(1);
  });

  test('a small ring gets its views at boot too', () => {
    const fifo = ring(4);
    expect(fifo.views().map((view) => view?.byteOffset)).toEqual(
      [0, 64, 128, 192].map((offset) => fifo.shadow.byteOffset + offset),
    );
  });
});
