/**
 * TracedNvram.fenceAsync: the issue and the completion are two instructions
 * (native/traced_device.h), so a cut between them finds the covered stores still non-durable;
 * the completion makes exactly the stores flushed before the issue durable. 'manual' completes
 * when the owner says, 'next-turn' on setImmediate; a power cut drops pending completions, a
 * close reports NVRAM_CLOSED; a recorded trace replays issue and completion in place.
 */
import { describe, expect, test } from 'vitest';
import type { PersistencyModel } from '../../src/nvram/addon-api.js';
import { NvramError, PowerCutError, TracedNvram } from '../../src/nvram/index.js';

const sizeBytes = 4 * 4096;
/** Words on three different lines, and one more on A's line. */
const A = 4096;
const B = 4096 + 64;
const C = 4096 + 128;
const A2 = 4096 + 8;

function formatDevice(record = false): TracedNvram {
  return TracedNvram.format(sizeBytes, [{ name: 'data', length: 8192 }], { record });
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Every post-crash image the model allows now, as the values of `words` in it ("a,b"): the
 * set the crash lab enumerates at a cut.
 */
function outcomes(
  device: TracedNvram,
  model: PersistencyModel,
  words: readonly number[] = [A, B],
): string[] {
  const seen = new Set<string>();
  for (let index = 0; index < device.imageCount(model); index++) {
    const image = device.buildImage(device.survivorsByIndex(model, index));
    seen.add(words.map((word) => image[word]).join(','));
  }
  return [...seen].sort();
}

/** Every image the model allows, whole, as hex: for comparing two devices. */
function allImages(device: TracedNvram, model: PersistencyModel): string[] {
  const images: string[] = [];
  for (let index = 0; index < device.imageCount(model); index++) {
    images.push(
      Buffer.from(device.buildImage(device.survivorsByIndex(model, index))).toString('hex'),
    );
  }
  return images.sort();
}

interface Calls {
  errors: (Error | null)[];
}

function recorder(): { calls: Calls; onComplete: (error: Error | null) => void } {
  const calls: Calls = { errors: [] };
  return { calls, onComplete: (error) => calls.errors.push(error) };
}

/** px86's images of A (1 or 0) and B (2 or 0): store+flush A, issue, store+flush B. */
function issueBetween(device: TracedNvram, onComplete: (error: Error | null) => void): void {
  device.storeU64(A, 1);
  device.flush(A, 8);
  device.fenceAsync(onComplete);
  device.storeU64(B, 2);
  device.flush(B, 8);
}

describe('px86', () => {
  test('a cut between issue and completion: A and B each may or may not be durable', () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    const { calls, onComplete } = recorder();
    issueBetween(device, onComplete);
    expect(device.pendingFences).toBe(1);
    device.setPowerCut(device.instructionCount); // the completion does not run
    expect(() => device.completeFence()).toThrow(PowerCutError);
    expect(device.pendingFences).toBe(0);
    expect(device.completeFence()).toBe(false);
    expect(outcomes(device, 'px86')).toEqual(['0,0', '0,2', '1,0', '1,2']);
    expect(calls.errors).toEqual([]);
  });

  test('the completion makes A durable, not B (flushed after the issue)', () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    const { calls, onComplete } = recorder();
    issueBetween(device, onComplete);
    const before = device.instructionCount;
    expect(calls.errors).toEqual([]);
    expect(device.completeFence()).toBe(true);
    expect(device.instructionCount).toBe(before + 1);
    expect(calls.errors).toEqual([null]);
    expect(device.pendingFences).toBe(0);
    expect(device.completeFence()).toBe(false);
    expect(outcomes(device, 'px86')).toEqual(['1,0', '1,2']);
    const durable = device.buildDurableImage();
    expect([durable[A], durable[B]]).toEqual([1, 0]);
  });

  test('stores of one line: the cover is a prefix, a store after the issue stays optional', () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    device.storeU64(A, 1);
    device.flush(A, 8);
    device.fenceAsync(() => {});
    device.storeU64(A2, 3);
    device.flush(A2, 8);
    expect(outcomes(device, 'px86', [A, A2])).toEqual(['0,0', '1,0', '1,3']);
    device.completeFence();
    expect(outcomes(device, 'px86', [A, A2])).toEqual(['1,0', '1,3']);
  });

  test('a plain fence after the issue makes both durable; the later completion is harmless', () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    const { calls, onComplete } = recorder();
    issueBetween(device, onComplete);
    device.fence();
    expect(outcomes(device, 'px86')).toEqual(['1,2']);
    device.storeU64(C, 4); // flushed after both the issue and the fence: not covered
    device.flush(C, 8);
    expect(device.completeFence()).toBe(true);
    expect(calls.errors).toEqual([null]);
    expect(outcomes(device, 'px86', [A, B, C])).toEqual(['1,2,0', '1,2,4']);
    expect(device.imageCount('px86')).toBe(2);
  });

  test('two issues: each covers what was flushed before it', () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    const order: string[] = [];
    device.storeU64(A, 1);
    device.flush(A, 8);
    device.fenceAsync(() => order.push('first'));
    device.storeU64(B, 2);
    device.flush(B, 8);
    device.fenceAsync(() => order.push('second'));
    device.storeU64(C, 4);
    device.flush(C, 8);
    expect(device.pendingFences).toBe(2);
    device.completeFence();
    expect(outcomes(device, 'px86', [A, B, C])).toEqual(['1,0,0', '1,0,4', '1,2,0', '1,2,4']);
    device.completeFence();
    expect(outcomes(device, 'px86', [A, B, C])).toEqual(['1,2,0', '1,2,4']);
    expect(order).toEqual(['first', 'second']);
  });
});

describe('relaxed and eadr', () => {
  test('relaxed: any subset of the non-durable stores; the completion retires the cover', () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    device.storeU64(A, 1);
    device.flush(A, 8);
    device.fenceAsync(() => {});
    device.storeU64(A2, 3); // the same line, after the issue
    device.flush(A2, 8);
    expect(outcomes(device, 'relaxed', [A, A2])).toEqual(['0,0', '0,3', '1,0', '1,3']);
    device.completeFence();
    expect(outcomes(device, 'relaxed', [A, A2])).toEqual(['1,0', '1,3']);
  });

  test('eadr: the completion makes every store before the issue durable, flushed or not', () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    device.storeU64(A, 1); // never flushed
    device.fenceAsync(() => {});
    device.storeU64(B, 2); // after the issue
    // Between: a prefix in program order, from nothing on (the issue raises no floor).
    expect(outcomes(device, 'eadr')).toEqual(['0,0', '1,0', '1,2']);
    expect(outcomes(device, 'px86')).toEqual(['0,0', '0,2', '1,0', '1,2']);
    device.completeFence();
    expect(outcomes(device, 'eadr')).toEqual(['1,0', '1,2']);
    // px86: A was never flushed, so the completion did not cover it.
    expect(outcomes(device, 'px86')).toEqual(['0,0', '0,2', '1,0', '1,2']);
  });
});

describe('completion', () => {
  test("'next-turn' (the default) completes on setImmediate, in issue order", async () => {
    const device = formatDevice();
    expect(device.asyncFenceCompletion).toBe('next-turn');
    const order: string[] = [];
    device.storeU64(A, 1);
    device.flush(A, 8);
    device.fenceAsync((error) => order.push(`first ${String(error)}`));
    device.fenceAsync((error) => order.push(`second ${String(error)}`));
    expect(order).toEqual([]);
    expect(device.pendingFences).toBe(2);
    expect(outcomes(device, 'px86', [A])).toEqual(['0', '1']);
    await settle();
    expect(order).toEqual(['first null', 'second null']);
    expect(device.pendingFences).toBe(0);
    expect(outcomes(device, 'px86', [A])).toEqual(['1']);
  });

  test('a power cut before the completion drops it (next-turn and manual)', async () => {
    for (const mode of ['next-turn', 'manual'] as const) {
      const device = formatDevice();
      device.asyncFenceCompletion = mode;
      const { calls, onComplete } = recorder();
      issueBetween(device, onComplete);
      device.setPowerCut(device.instructionCount);
      expect(() => device.storeU64(C, 4)).toThrow(PowerCutError);
      expect(device.pendingFences).toBe(0);
      expect(device.completeFence()).toBe(false);
      await settle();
      await settle();
      expect(calls.errors).toEqual([]);
      expect(outcomes(device, 'px86')).toEqual(['0,0', '0,2', '1,0', '1,2']);
      expect(() => device.fenceAsync(onComplete)).toThrow(PowerCutError);
    }
  });

  test("a cut at a 'next-turn' completion drops it; nothing is thrown on the event loop", async () => {
    const device = formatDevice();
    const { calls, onComplete } = recorder();
    issueBetween(device, onComplete);
    device.setPowerCut(device.instructionCount);
    await settle();
    expect(device.poweredOff).toBe(true);
    expect(calls.errors).toEqual([]);
    expect(device.pendingFences).toBe(0);
    expect(outcomes(device, 'px86')).toEqual(['0,0', '0,2', '1,0', '1,2']);
  });

  test('a closed device: onComplete gets NVRAM_CLOSED on the next turn', async () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    const pending = recorder();
    device.fenceAsync(pending.onComplete);
    device.close();
    const late = recorder();
    device.fenceAsync(late.onComplete);
    expect(pending.calls.errors).toEqual([]);
    expect(late.calls.errors).toEqual([]);
    await settle();
    for (const calls of [pending.calls, late.calls]) {
      expect(calls.errors).toHaveLength(1);
      expect(calls.errors[0]).toBeInstanceOf(NvramError);
      expect((calls.errors[0] as NvramError).code).toBe('NVRAM_CLOSED');
    }
    expect(() => device.completeFence()).toThrow(NvramError);
  });

  test("closed before its 'next-turn' completion: NVRAM_CLOSED once, the completion does not run", async () => {
    const device = formatDevice();
    const pending = recorder();
    device.fenceAsync(pending.onComplete); // 'next-turn': its completion is scheduled
    device.close();
    await settle();
    await settle();
    expect(pending.calls.errors).toHaveLength(1);
    expect((pending.calls.errors[0] as NvramError).code).toBe('NVRAM_CLOSED');
  });

  test('closed after a power cut: pending completions are not reported (the machine is off)', async () => {
    const device = formatDevice();
    device.asyncFenceCompletion = 'manual';
    const pending = recorder();
    device.fenceAsync(pending.onComplete);
    device.setPowerCut(device.instructionCount);
    expect(() => device.storeU64(C, 4)).toThrow(PowerCutError);
    device.close();
    await settle();
    expect(pending.calls.errors).toEqual([]);
  });

  test('the mode is checked and changes only with no fence pending', () => {
    const device = formatDevice();
    expect(() => {
      device.asyncFenceCompletion = 'later' as 'manual';
    }).toThrow(/must be 'next-turn' or 'manual'/);
    device.asyncFenceCompletion = 'manual';
    device.fenceAsync(() => {});
    expect(() => {
      device.asyncFenceCompletion = 'next-turn';
    }).toThrow(/pending/);
    device.completeFence();
    device.asyncFenceCompletion = 'next-turn';
    expect(device.asyncFenceCompletion).toBe('next-turn');
  });
});

describe('traces', () => {
  test('a trace with issues and completions replays to the same images at every cut', () => {
    const device = formatDevice(true);
    device.asyncFenceCompletion = 'manual';
    const start = device.buildDurableImage();
    const models: PersistencyModel[] = ['px86', 'relaxed', 'eadr'];
    const first = device.instructionCount;
    expect(first).toBe(0);
    const states: string[][][] = [models.map((model) => allImages(device, model))];
    const step = (action: () => void): void => {
      action();
      states.push(models.map((model) => allImages(device, model)));
    };
    step(() => device.storeU64(A, 1));
    step(() => device.flush(A, 8));
    step(() => device.fenceAsync(() => {}));
    step(() => device.storeU64(B, 2));
    step(() => device.flush(B, 8));
    step(() => device.fenceAsync(() => {}));
    step(() => device.storeU64(A2, 3));
    step(() => device.completeFence());
    step(() => device.storeU64(C, 4));
    step(() => device.completeFence());
    step(() => device.flush(A, 64));
    const trace = device.exportTrace();
    expect(Array.from(trace.kinds)).toEqual([0, 1, 3, 0, 1, 3, 0, 4, 0, 4, 1]);
    expect([trace.offsets[7], trace.offsets[9]]).toEqual([2, 5]); // the issues they complete
    const stepwise = TracedNvram.fromImage(start, { boot: false });
    for (let cut = 0; cut <= trace.kinds.length; cut++) {
      const replayed = TracedNvram.fromImage(start, { boot: false });
      replayed.applyTrace(trace, 0, cut);
      expect(models.map((model) => allImages(replayed, model))).toEqual(states[cut]);
      if (cut > 0) stepwise.applyTrace(trace, cut - 1, cut);
      expect(models.map((model) => allImages(stepwise, model))).toEqual(states[cut]);
      replayed.close();
    }
  });

  test('a completion whose issue did not run is refused before anything runs', () => {
    const device = formatDevice(true);
    device.asyncFenceCompletion = 'manual';
    const start = device.buildDurableImage();
    device.storeU64(A, 1);
    device.flush(A, 8);
    device.fenceAsync(() => {});
    device.completeFence();
    const trace = device.exportTrace();
    const replayed = TracedNvram.fromImage(start, { boot: false });
    expect(() => replayed.applyTrace(trace, 3)).toThrow(/completes no pending fence issue/);
    expect(replayed.instructionCount).toBe(0);
    replayed.applyTrace(trace, 0, 3);
    replayed.applyTrace(trace, 3); // its issue ran: pending on this device
    expect(Buffer.from(replayed.buildDurableImage()).equals(device.buildDurableImage())).toBe(true);
    expect(() => device.native.fenceComplete(2)).toThrow(/no asynchronous fence issued/);
  });
});
