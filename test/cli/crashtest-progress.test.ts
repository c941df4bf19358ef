/**
 * cli/crashtest-progress.ts: on a terminal (a pseudo-terminal made by `script`) `nvrelay
 * crashtest` draws its progress bar on stderr, from 0% to 100% of the cuts, then the summary.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test, vi } from 'vitest';
import { progressBar } from '../../cli/crashtest-progress.js';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const hasScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!hasScript)('the crashtest progress bar', () => {
  test('on a terminal: cuts done of the total, up to 100%, then the summary', () => {
    const command = `"${process.execPath}" "${main}" crashtest --workload log --param appends=3`;
    const result = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    const screen = result.stdout;
    expect(screen).toMatch(/crashtest \S+ 0% \| cuts 0\/(\d+) \| \d+ states/);
    const total = /cuts 0\/(\d+)/.exec(screen)?.[1];
    expect(screen).toContain(`100% | cuts ${total}/${total} |`);
    expect(screen).toMatch(/exhaustive: every cut point/);
  });
});

describe('progressBar', () => {
  test('stopped before any update, it draws nothing', () => {
    const write = vi.spyOn(process.stderr, 'write');
    try {
      const bar = progressBar();
      bar.stop();
      expect(write).not.toHaveBeenCalled();
    } finally {
      write.mockRestore();
    }
  });
});
