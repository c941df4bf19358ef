/**
 * `nvrelay demo` (the built CLI in a child process) on a ./nvrelay-demo.nvram prepared
 * beforehand, as a user might leave one:
 *  - formatted by `nvrelay init` with a runtime FIFO too small for the emits before the power
 *    cut: the node's process stops on QUEUE_FULL before the cut, and the demo says so and exits
 *    1 (in text and with --json), with no cut narrated;
 *  - holding an event every recipient confirmed whose slot the head had not passed yet (a power
 *    cut between the confirmations and the retirement): shown as such when found, and
 *    delivered to no one again, since nobody is owed it.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Recipient } from '../../src/engine/recipient.js';
import { formatLimits, formatNodeDevice } from '../../src/node/device-file.js';
import { Node } from '../../src/node/node.js';
import { DirectNvram } from '../../src/nvram/index.js';
import { runCli } from './processes.js';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A fresh working folder for one demo, as `nvrelay demo` uses ./nvrelay-demo.nvram. */
function workingFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'nvrelay-demo-prepared-'));
  folders.push(folder);
  return folder;
}

/** A demo device with a runtime FIFO of two slots, one kept for err or worse (`init` once). */
let smallDevice = '';
beforeAll(async () => {
  const cwd = workingFolder();
  const init = await runCli(
    ['init', 'nvrelay-demo.nvram', '--size', '4M', '--runtime-slots', '2'],
    { cwd },
  );
  expect(init.status).toBe(0);
  smallDevice = join(cwd, 'nvrelay-demo.nvram');
});

/** A folder holding a copy of the small demo device. */
function smallDemoDevice(): string {
  const cwd = workingFolder();
  copyFileSync(smallDevice, join(cwd, 'nvrelay-demo.nvram'));
  return cwd;
}

describe('nvrelay demo on a device too small for the emits before the cut', () => {
  test('the node stops on QUEUE_FULL before its power is cut: no cut told, exit 1', async () => {
    const run = await runCli(['demo'], { cwd: smallDemoDevice() });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^nvrelay: the runtime pool is full .*\(QUEUE_FULL\)$/m);
    expect(run.stderr).toMatch(
      /^nvrelay: demo: the node exited \(code 1\) before its power was cut \(NODE_STATE\)$/m,
    );
    expect(run.stderr).not.toMatch(/^\s+at /m); // a typed error, not a stack trace
    expect(run.stdout).not.toContain('formatted');
    expect(run.stdout).toContain('as found: boot count 0, 0 events pending');
    const emits = run.stdout.match(/^ {3}emit {5}seq \d+/gm) ?? [];
    expect(emits.length).toBeGreaterThan(0);
    expect(emits.length).toBeLessThan(8);
    expect(run.stdout).not.toContain('POWER CUT');
    expect(run.stdout).not.toContain('power on again');
  });

  test('--json: only the found device and the facts before the cut, then exit 1', async () => {
    const run = await runCli(['demo', '--json'], { cwd: smallDemoDevice() });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('(QUEUE_FULL)');
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { fact: string; phase?: string; stage?: string });
    // the error last, as JSON too
    expect(lines.at(-1)).toEqual({
      error: {
        code: 'NODE_STATE',
        message: 'demo: the node exited (code 1) before its power was cut',
      },
    });
    const facts = lines.slice(0, -1);
    expect(facts[0]).toMatchObject({ fact: 'device', stage: 'found', bootCount: 0 });
    expect(facts[1]).toMatchObject({ fact: 'boot', phase: 'before-cut', bootCount: 1 });
    expect(facts.slice(1).every((fact) => fact.phase === 'before-cut')).toBe(true);
    expect(facts.some((fact) => fact.fact === 'emit')).toBe(true);
    expect(facts.map((fact) => fact.fact)).not.toContain('power-cut');
  });
});

describe('nvrelay demo on a device with an event confirmed by all but not retired', () => {
  test('found as confirmed by all, delivered to no one again; the new events come after it', async () => {
    const cwd = workingFolder();
    const path = join(cwd, 'nvrelay-demo.nvram');
    formatNodeDevice(path, 4 << 20, formatLimits(4 << 20, 256));
    const device = DirectNvram.open(path, { durability: 'process' });
    const node = Node.boot(device, { scheduling: 'manual' });
    const received: [Recipient, number][] = [];
    for (const name of ['audit', 'pager'])
      node.registerRecipient(name, {}, (event, recipient) => received.push([recipient, event.seq]));
    node.start();
    const seq = node.producer('shelf-1').emitJson('disk.failed', 'err', { shelf: 1, disk: 3 });
    node.drain(); // delivered to both
    // confirmed outside the pass: no pass retires the event before the device is closed
    for (const [recipient, delivered] of received) expect(recipient.confirm(delivered)).toBe(true);
    node.close();
    device.close();

    const run = await runCli(['demo'], { cwd });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('as found: boot count 1, 1 events pending');
    expect(run.stdout).toContain(
      `seq ${seq} disk.failed: confirmed by all; the head had not moved past it yet`,
    );
    expect(run.stdout).not.toMatch(new RegExp(`deliver  seq ${seq} `));
    const beforeCut = run.stdout.split('2. POWER CUT')[0] ?? '';
    expect(beforeCut).not.toContain('(replayed)');
    const emitted = [...run.stdout.matchAll(/emit {5}seq (\d+)/g)].map((m) => Number(m[1]));
    expect(Math.min(...emitted)).toBeGreaterThan(seq);
    expect(run.stdout).toContain('the device at the end: boot count 3, 0 events pending');
  });
});
