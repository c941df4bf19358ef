/**
 * `nvrelay pump`'s progress bar (cli/pump.ts in process, its stderr made a terminal): drawn on
 * stderr only on a terminal, it counts the emitted events up to --count and shows the rate and
 * the pending events, then gives the cursor back; the A, D and Q lines on stdout are the same
 * as without it. --quiet and --json draw no bar even on a terminal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, test, vi } from 'vitest';

/** The lines the pump writes on stdout (cli/facts.ts), kept here instead. */
const lines = vi.hoisted((): string[] => []);
vi.mock('../../cli/facts.js', () => ({ fact: (line: string) => void lines.push(line) }));

const { pump } = await import('../../cli/pump.js');

const folder = mkdtempSync(join(tmpdir(), 'nvrelay-pump-progress-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
let devices = 0;

/** What the pump writes on stderr while stderr is a terminal. */
let terminal = '';
const wasTTY = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');

beforeEach(() => {
  lines.length = 0;
  terminal = '';
  Object.defineProperty(process.stderr, 'isTTY', { value: true, configurable: true });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    terminal += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  if (wasTTY === undefined) delete (process.stderr as { isTTY?: boolean }).isTTY;
  else Object.defineProperty(process.stderr, 'isTTY', wasTTY);
});

const options = { payloadBytes: 16, recipients: 2, durability: 'process' as const };

/** The summary of the Q line. */
function summaryOf(written: string[]): Record<string, unknown> {
  const q = written.find((line) => line.startsWith('Q '));
  expect(q).toBeDefined();
  return JSON.parse(q?.slice(2) ?? '{}') as Record<string, unknown>;
}

describe('nvrelay pump on a terminal', () => {
  test('a bar on stderr counts up to --count with the rate and the pending events', async () => {
    const count = 200; // three bursts of 64 emits and 8 more: the bar ends at 200, pending 0
    await pump(join(folder, `bar-${devices++}.nvram`), { ...options, count });
    // the bar, drawn last at its end: every event emitted, the cursor shown again
    expect(terminal).toContain(`100% | ${count}/${count} events |`);
    expect(terminal).toMatch(/\| \d+ events\/s \| pending \d+ \| ETA /);
    expect(terminal).toMatch(/200\/200 events \| \d+ events\/s \| pending 0 \|/);
    expect(terminal).toContain('\u001b[?25l'); // hidden while drawing
    expect(terminal.lastIndexOf('\u001b[?25h')).toBeGreaterThan(
      terminal.lastIndexOf('\u001b[?25l'),
    );
    // stdout as without a terminal: an A line per event, a D line per delivery, the Q line last
    expect(lines.filter((line) => line.startsWith('A '))).toHaveLength(count);
    expect(lines.filter((line) => line.startsWith('D '))).toHaveLength(count * options.recipients);
    expect(lines[lines.length - 1]?.startsWith('Q ')).toBe(true);
    expect(summaryOf(lines)).toMatchObject({ emitted: count, confirmed: count * 2 });
  });

  test.each<[string, { quiet?: boolean; json?: boolean }]>([
    ['--quiet', { quiet: true }],
    ['--json', { json: true }],
  ])('%s: no bar', async (_flag, only) => {
    await pump(join(folder, `quiet-${devices++}.nvram`), { ...options, count: 100, ...only });
    expect(terminal).toBe('');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]?.replace(/^Q /, '') ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({ emitted: 100, confirmed: 200 });
    expect(lines[0]?.startsWith('Q ')).toBe(only.quiet === true);
  });
});
