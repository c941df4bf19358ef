/**
 * The README's "library in ten lines" is run as written (against the built package), so the
 * first code a newcomer copies cannot rot.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function librarySnippet(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split('## The library in ten lines')[1] ?? '';
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined)
    throw new Error('README has no ts block under "The library in ten lines"');
  return code;
}

describe('README', () => {
  test('the library snippet is at most ten lines of code', () => {
    const lines = librarySnippet()
      .split('\n')
      .filter((line) => line.trim() !== '');
    expect(lines.length).toBeLessThanOrEqual(11); // ten lines plus the import
  });

  test('the library snippet runs: it formats a device, delivers the event and confirms it', () => {
    const entry = join(root, 'dist/src/index.js');
    const code = librarySnippet().replace("from 'nvrelay'", `from ${JSON.stringify(entry)}`);
    writeFileSync(join(dir, 'snippet.mjs'), code);
    const out = execFileSync(process.execPath, ['snippet.mjs'], { cwd: dir, encoding: 'utf8' });
    expect(out.trim()).toMatch(/^\d+ disk\.failed$/);
    const again = execFileSync(process.execPath, ['snippet.mjs'], { cwd: dir, encoding: 'utf8' });
    // A second run reboots the same device: nothing is replayed (all confirmed), one new event.
    expect(again.trim().split('\n')).toHaveLength(1);
  });
});
