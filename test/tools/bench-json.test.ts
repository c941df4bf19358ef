/**
 * `npm run bench -- --json` prints one JSON object per row and line (JSON Lines), each with its
 * suite, measure, value and verdict, so other tools can read the ratios.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const run = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));

test('bench --json: one row per line', () => {
  const result = spawnSync(
    process.execPath,
    [run, '--only', 'device', '--quick', '--seconds', '0.5', '--json'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const lines = result.stdout.trim().split('\n');
  expect(lines.length).toBeGreaterThan(2);
  for (const line of lines) {
    const row = JSON.parse(line) as Record<string, unknown>;
    expect(row).toMatchObject({ suite: 'device' });
    expect(typeof row['measure']).toBe('string');
    expect(typeof row['value']).toBe('number');
    expect(['PASS', 'FAIL', '']).toContain(row['verdict']);
  }
}, 90_000);
