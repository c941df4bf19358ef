/**
 * `nvrelay demo` (what `npm start` runs), as a user runs it: the built CLI in a child process
 * (run `npm run build` first), in a fresh working folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-demo-'));

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface DemoRun {
  status: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

function demo(): DemoRun {
  const started = performance.now();
  const result = spawnSync(process.execPath, [main, 'demo'], { cwd: dir, encoding: 'utf8' });
  return { ...result, elapsedMs: performance.now() - started };
}

/** The seqs of lines matching `pattern` (its first group) in a part of the output. */
function seqs(text: string, pattern: RegExp): number[] {
  return [...text.matchAll(new RegExp(pattern, 'g'))].map((match) => Number(match[1]));
}

describe('nvrelay demo', () => {
  test('cuts the power mid-flight, reboots, and delivers the replayed events before new ones', () => {
    const run = demo();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.elapsedMs).toBeLessThan(10_000);
    expect(existsSync(join(dir, 'nvrelay-demo.nvram'))).toBe(true);
    const [before, afterCut, afterReboot] = run.stdout.split(/\n(?=2\. POWER CUT|3\. power on)/);
    expect(before).toContain('formatted ./nvrelay-demo.nvram');
    expect(afterCut).toMatch(/^2\. POWER CUT \(kill -9\) with 8 events emitted/);
    // What the cut left pending is exactly what the reboot replays, before any new emit: each
    // event to each recipient it awaits (pager, and audit too if the cut came before the end of
    // the turn that would have made audit's confirmation durable).
    const owed = [...(afterCut ?? '').matchAll(/seq (\d+) \S+: awaiting (.+)/g)].flatMap((m) =>
      (m[2] ?? '').split(', ').map((recipient) => `${m[1]} ${recipient}`),
    );
    expect(owed.length).toBeGreaterThan(0);
    const replayed = [
      ...(afterReboot ?? '').matchAll(/deliver {2}seq (\d+) -> (\S+) {2}\(replayed\)/g),
    ].map((m) => `${m[1]} ${m[2]}`);
    expect(replayed.sort()).toEqual(owed.sort());
    const firstNew = (afterReboot ?? '').indexOf('emit ');
    expect(firstNew).toBeGreaterThan((afterReboot ?? '').lastIndexOf('(replayed)'));
    // Every new event reaches both recipients; at the end nothing is pending.
    for (const seq of seqs(afterReboot ?? '', /emit {5}seq (\d+)/)) {
      expect(afterReboot).toContain(`confirm  seq ${seq} <- audit`);
      expect(afterReboot).toContain(`confirm  seq ${seq} <- pager`);
    }
    expect(afterReboot).toContain('the device at the end: boot count 2, 0 events pending');
  });

  test('a second run keeps the device: boot counts and sequence numbers carry on', () => {
    const first = demo();
    const second = demo();
    expect(second.status).toBe(0);
    expect(second.stdout).not.toContain('formatted');
    const lastFirst = Math.max(...seqs(first.stdout, /emit {5}seq (\d+)/));
    const firstSecond = Math.min(...seqs(second.stdout, /emit {5}seq (\d+)/));
    expect(firstSecond).toBeGreaterThan(lastFirst);
    expect(second.stdout).toMatch(/as found: boot count \d+, 0 events pending/);
  });
});
