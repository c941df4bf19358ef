/**
 * The status page (src/operations/status-page.ts) in a real headless Chromium: it shows the
 * device and every recipient; a declared recipient that is not connected is owed the events
 * emitted meanwhile, and the page's count for it goes up; once it connects and confirms each
 * one, the count goes down to 0. With NVRELAY_SCREENSHOT=1 the page is saved, at 1280x800, to
 * docs/status-page.png.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect } from '../../src/client/client.js';
import { parseConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';

const screenshot = fileURLToPath(new URL('../../docs/status-page.png', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-status-page-'));
const cleanup: (() => Promise<void> | void)[] = [];
let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
});
afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The text of `selector` on the page, once `accept` takes it (bounded). */
async function shows(
  page: Page,
  selector: string,
  accept: (text: string) => boolean,
  what: string,
): Promise<string> {
  const end = Date.now() + 10_000;
  for (;;) {
    const text = (await page.locator(selector).first().textContent({ timeout: 1_000 })) ?? '';
    if (accept(text)) return text;
    if (Date.now() > end) throw new Error(`the page never showed ${what} (last: '${text}')`);
    await page.waitForTimeout(100);
  }
}

const row = (name: string): string => `tr[data-recipient="${name}"]`;

describe('the status page', () => {
  test('shows the device and the recipients; a pending count rises while away, falls to 0 once confirmed', async () => {
    const device = join(dir, 'd.nvram');
    const socket = join(dir, 'd.sock');
    const daemon = await Daemon.start({
      device,
      durability: 'process',
      config: parseConfig({
        recipients: {
          archive: { prefixes: ['disk.'] },
          pager: { prefixes: ['disk.'], retry: { timeoutMs: 50, attemptsMax: 1 } },
        },
        sinks: { file: { kind: 'jsonl', path: join(dir, 'events.jsonl') } },
      }),
      log: pino({ level: 'silent' }),
      socket,
      operations: { host: '127.0.0.1', port: 0 },
    });
    cleanup.push(() => daemon.stop());
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`http://127.0.0.1:${daemon.operations!.port}/`);
    // a string: evaluated in the page (this file has no DOM types)
    await page.waitForFunction('Number(document.body.dataset.refreshes) >= 1', null, {
      timeout: 10_000,
    });

    const id = daemon.device.header.deviceId.toString(16).padStart(16, '0');
    expect(await page.textContent('#device-path')).toBe(device);
    expect(await page.textContent('#device-id')).toBe(id);
    expect(await page.textContent('#device-durability')).toBe('process');
    expect(await page.textContent('#device-boots')).toBe(String(daemon.device.header.bootCount));
    for (const name of ['archive', 'pager', 'file'])
      expect(await page.locator(row(name)).count(), name).toBe(1);
    expect(await page.textContent(`${row('archive')} .state`)).toBe('detached');
    expect(await page.textContent(`${row('file')} .kind`)).toBe('sink');
    expect(await page.textContent(`${row('archive')} .pending`)).toBe('0');
    expect(await page.locator('[data-fifo="runtime-fifo"]').count()).toBe(1);

    // pager confirms disk.ok only: disk.failed runs out of its one attempt (a dead letter)
    const pager = await connect(`unix:${socket}`);
    cleanup.push(() => pager.close());
    await pager.subscribe('pager', { prefixes: ['disk.'] }, (event, recipient) => {
      if (event.type === 'disk.ok') recipient.confirm(event.seq);
    });

    // archive is away: what is emitted now is owed to it, and the page counts it
    const producer = daemon.node.producer('raid');
    const emit = (count: number, from: number): number[] =>
      Array.from({ length: count }, (_, k) =>
        producer.emit(
          (from + k) % 4 === 0 ? 'disk.failed' : 'disk.ok',
          (from + k) % 4 === 0 ? 'err' : 'info',
          new TextEncoder().encode(JSON.stringify({ disk: from + k })),
        ),
      );
    const seqs = emit(5, 0);
    await shows(page, `${row('archive')} .pending`, (text) => text === '5', 'archive owed 5');
    seqs.push(...emit(7, 5));
    await shows(page, `${row('archive')} .pending`, (text) => text === '12', 'archive owed 12');
    expect(await page.textContent(`${row('archive')} .state`)).toBe('detached');
    await shows(page, '#dead-letters-held', (text) => text === '3', '3 dead letters');
    await shows(page, `${row('file')} .state`, (text) => text === 'up', 'the sink up');
    expect(await page.locator('[data-dead-letter]').count()).toBe(3);
    if (process.env['NVRELAY_SCREENSHOT'] === '1') {
      await shows(page, `${row('file')} .confirmed`, (text) => text === '12', 'the sink caught up');
      await page.screenshot({ path: screenshot });
    }

    // archive connects and confirms each event: its count goes down to 0
    const archive = await connect(`unix:${socket}`);
    cleanup.push(() => archive.close());
    const confirmed = new Set<number>();
    await archive.subscribe('archive', { prefixes: ['disk.'] }, (event, recipient) => {
      recipient.confirm(event.seq);
      confirmed.add(event.seq);
    });
    await shows(page, `${row('archive')} .pending`, (text) => text === '0', 'archive owed 0');
    expect(await page.textContent(`${row('archive')} .state`)).toBe('attached');
    expect([...confirmed].sort((a, b) => a - b)).toEqual(seqs);
    await shows(page, `${row('archive')} .confirmed`, (text) => text === '12', '12 confirmed');
    expect(errors).toEqual([]);
  });
});
