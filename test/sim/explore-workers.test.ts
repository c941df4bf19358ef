/**
 * The parallel exploration (sim/explore/parallel.ts) around its worker processes: how many
 * cores it takes (nested crashes, SPEC 4.6, weigh a cut as much as many plain ones), what it
 * does without a compiled worker, a worker that dies (by a signal or an exit code) failing the
 * exploration with that reason instead of leaving it waiting, and a kept worker that died idle
 * being replaced. fork and existsSync are wrapped to reach the processes and hide the worker.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { defaultExploreOptions, type ExploreOptions } from '../../sim/explore/explorer.js';
import { closeExploreWorkers, exploreWorkload, workerScript } from '../../sim/explore/parallel.js';

const lab = vi.hoisted(() => ({
  forked: [] as ChildProcess[],
  onFork: undefined as ((child: ChildProcess) => void) | undefined,
  hideWorker: false,
}));

vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:child_process')>();
  return {
    ...real,
    fork: (...args: Parameters<typeof real.fork>): ChildProcess => {
      const child = real.fork(...args);
      lab.forked.push(child);
      lab.onFork?.(child);
      return child;
    },
  };
});

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    existsSync: (path: Parameters<typeof real.existsSync>[0]): boolean =>
      lab.hideWorker && String(path).endsWith('worker.js') ? false : real.existsSync(path),
  };
});

const options: ExploreOptions = { ...defaultExploreOptions, cuts: 40, imagesPerCut: 2 };
const explore = (workers?: number, more: Partial<ExploreOptions> = {}) =>
  exploreWorkload({
    workload: 'events-small',
    options: { ...options, ...more },
    ...(workers === undefined ? {} : { workers }),
  });

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));

afterAll(async () => {
  lab.onFork = undefined;
  await closeExploreWorkers();
});

describe('cores of an exploration', () => {
  test('nested crashes make a few cuts enough work for a second process', async () => {
    const flat = await explore(undefined, { cuts: 25 });
    expect(flat.workers).toBe(1); // 25 plain cuts: one thread is quicker
    const nested = await explore(undefined, { cuts: 25, depth: 2, nestedCuts: 2 });
    expect(nested.depth).toBe(2);
    expect(nested.workers).toBe(2);
    expect(nested.counts.cuts).toBe(25);
    expect(nested.counts.crashStates).toBeGreaterThan(flat.counts.crashStates);
  });

  test('without a compiled worker the exploration runs in this process alone', async () => {
    lab.hideWorker = true;
    try {
      expect(workerScript()).toBeUndefined();
      const forks = lab.forked.length;
      const alone = await explore(2);
      expect(alone.workers).toBe(1);
      expect(lab.forked.length).toBe(forks);
      expect(alone.counts.cuts).toBe(40);
    } finally {
      lab.hideWorker = false;
    }
    expect(workerScript()).toBeDefined();
  });

  test('an exploration timed at no elapsed time reports no rate rather than infinity', async () => {
    const now = vi.spyOn(performance, 'now').mockReturnValue(1_000);
    try {
      const summary = await explore(1);
      expect(summary.elapsedMs).toBe(0);
      expect(summary.counts.crashStates).toBeGreaterThan(0);
      expect(summary.statesPerSecond).toBe(0);
      expect(summary.imagesPerSecond).toBe(0);
    } finally {
      now.mockRestore();
    }
  });
});

describe('worker processes that die', () => {
  beforeEach(closeExploreWorkers); // each exploration here forks its worker

  test('a worker killed by a signal fails the exploration with that signal', async () => {
    // killed at its first message; what is written to it after is dropped (no EPIPE), so the
    // exploration learns of the death from the exit alone
    lab.onFork = (child) =>
      child.once('message', () => {
        child.kill('SIGKILL');
        child.send = (() => true) as ChildProcess['send'];
      });
    try {
      await expect(explore(2)).rejects.toThrow('crash-lab worker exited with SIGKILL');
    } finally {
      lab.onFork = undefined;
    }
  });

  test('a worker that exits with an error fails the exploration with its exit code', async () => {
    // cuts before the exploration started: the worker's assertion ends it
    lab.onFork = (child) => child.send({ type: 'chunk', cuts: [0] });
    try {
      await expect(explore(2)).rejects.toThrow('crash-lab worker exited with code 1');
    } finally {
      lab.onFork = undefined;
    }
  });

  test('a kept worker that died while idle is dropped, and the next exploration forks anew', async () => {
    const forked = lab.forked.length;
    const first = await explore(2);
    expect(first.workers).toBe(2);
    expect(lab.forked.length).toBe(forked + 1);
    const kept = lab.forked.at(-1) as ChildProcess;
    expect(kept.exitCode).toBeNull();
    kept.kill('SIGKILL');
    await exited(kept);
    await closeExploreWorkers(); // returns for a worker already gone
    const forks = lab.forked.length;
    const second = await explore(2);
    expect(lab.forked.length).toBe(forks + 1);
    // the same cuts, checked as before (pruning depends on how the cuts were shared)
    expect(second.counts.cuts).toBe(first.counts.cuts);
    expect(second.counts.violationStates).toBe(0);
  });
});
