/** What the crashtest CLI tests share: a terminal that records, and arguments with defaults. */
import type { CrashtestArgs, Terminal } from '../../sim/cli/crashtest.js';

/** A non-tty terminal that keeps every line written to it. */
export function terminal(): Terminal & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    tty: false,
    out: (text) => stdout.push(text),
    err: (text) => stderr.push(text),
  };
}

/** The command's defaults on the example log workload, with `overrides`. */
export function crashtestArgs(overrides: Partial<CrashtestArgs>): CrashtestArgs {
  return {
    workload: 'log',
    params: { appends: 6 },
    model: 'px86',
    cuts: 'all',
    imagesPerCut: 64,
    depth: 1,
    nestedCuts: 4,
    nestedImagesPerCut: 4,
    mediaFaults: 0,
    seed: 1,
    prune: true,
    workers: 1,
    json: true,
    selfTest: false,
    ...overrides,
  };
}
