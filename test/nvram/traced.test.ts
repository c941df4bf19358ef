/** TracedNvram: instructions, boots, load recording, traces and media faults. */
import { describe, expect, test } from 'vitest';
import { NvramError, TracedNvram } from '../../src/nvram/index.js';

const sizeBytes = 4 * 4096;

function formatDevice(record = false): TracedNvram {
  return TracedNvram.format(sizeBytes, [{ name: 'data', length: 8192 }], { record });
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof NvramError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('instructions', () => {
  test('each store, flush and fence is one instruction; persist is two', () => {
    const device = formatDevice();
    const start = device.instructionCount;
    device.storeU64(4096, 1);
    device.storeBytes(4104, new Uint8Array(16));
    device.flush(4096, 64);
    device.fence();
    device.persist(4096, 64);
    expect(device.instructionCount - start).toBe(6);
  });

  test('loads see stores at once and cost no instruction', () => {
    const device = formatDevice();
    device.storeU64(4096, 2 ** 53 - 1);
    device.storeU32(4104, 7);
    const before = device.instructionCount;
    expect(device.loadU64(4096)).toBe(2 ** 53 - 1);
    expect(device.loadU32(4104)).toBe(7);
    expect(device.instructionCount).toBe(before);
  });
});

describe('boots', () => {
  test('format boots once; fromImage boots again unless told not to', () => {
    const device = formatDevice();
    expect(device.header.bootCount).toBe(1);
    const image = device.buildDurableImage();
    expect(TracedNvram.fromImage(image).header.bootCount).toBe(2);
    expect(TracedNvram.fromImage(image, { boot: false }).header.bootCount).toBe(1);
  });

  test('a lost device cannot be booted: NVRAM_BAD_MAGIC', () => {
    const device = formatDevice();
    device.loseDevice();
    expect(codeOf(() => TracedNvram.fromImage(device.buildDurableImage()))).toBe('NVRAM_BAD_MAGIC');
  });
});

describe('load recording', () => {
  test('marks exactly the words that loads read', () => {
    const device = formatDevice();
    device.loadU64(4096);
    device.startLoadRecording();
    device.loadU32(4100); // word 512
    device.loadU64(4112); // word 514
    device.loadBytes(4127, new Uint8Array(3)); // bytes 4127..4129: words 515 and 516
    device.loadBytes(5000, new Uint8Array(0)); // nothing
    const marks = device.stopLoadRecording();
    expect(marks.length).toBe(sizeBytes / 8);
    const marked = [...marks.keys()].filter((word) => marks[word] === 1);
    expect(marked).toEqual([512, 514, 515, 516]);
  });

  test('stopping without starting is NVRAM_BAD_ARGUMENT', () => {
    expect(codeOf(() => formatDevice().stopLoadRecording())).toBe('NVRAM_BAD_ARGUMENT');
  });
});

describe('traces', () => {
  test('applyTrace replays a recorded workload to the same images', () => {
    const device = formatDevice(true);
    const start = device.buildDurableImage();
    device.storeU64(4096, 5);
    device.storeBytes(4200, Uint8Array.of(1, 2, 3));
    device.persist(4096, 8);
    device.storeU32(4300, 9);
    const trace = device.exportTrace();
    const replayed = TracedNvram.fromImage(start, { boot: false });
    replayed.applyTrace(trace);
    expect(Buffer.from(replayed.native.buffer).equals(Buffer.from(device.native.buffer))).toBe(
      true,
    );
    expect(Buffer.from(replayed.buildDurableImage()).equals(device.buildDurableImage())).toBe(true);
    expect(replayed.imageCount('relaxed')).toBe(device.imageCount('relaxed'));
  });
});

describe('media faults', () => {
  test('flipBits flips exactly count bits inside the range, in both images', () => {
    const device = formatDevice();
    const before = device.buildDurableImage();
    device.flipBits(4096, 64, 5, 42);
    const after = device.buildDurableImage();
    let flipped = 0;
    for (let i = 0; i < sizeBytes; i++) {
      let diff = (before[i] ?? 0) ^ (after[i] ?? 0);
      if (diff !== 0) expect(i >= 4096 && i < 4160).toBe(true);
      for (; diff !== 0; diff &= diff - 1) flipped++;
    }
    expect(flipped).toBe(5);
    expect(Buffer.from(device.native.buffer).equals(after)).toBe(true);
  });
});

describe('close', () => {
  test('is idempotent and every method after it is NVRAM_CLOSED', () => {
    const device = formatDevice();
    device.close();
    device.close();
    for (const call of [
      () => device.loadU64(4096),
      () => device.storeU64(4096, 1),
      () => device.fence(),
      () => device.flush(4096, 8),
      () => device.imageCount('px86'),
      () => device.buildDurableImage(),
      () => device.section('data'),
    ]) {
      expect(codeOf(call)).toBe('NVRAM_CLOSED');
    }
  });
});
