/**
 * `nvrelay demo` (what `npm start` runs): a few seconds of the system at work on
 * ./nvrelay-demo.nvram (formatted if absent, kept between runs).
 *
 *  1. Power on: a node runs in a child process with two recipients, `audit` (confirms at once)
 *     and `pager` (confirms a little later), and emits events.
 *  2. Power cut: the child is killed with SIGKILL while pager still owes confirmations.
 *     The device is shown as the next boot will find it.
 *  3. Power on again: recovery finds the unhandled events and replays them to the recipients
 *     that had not confirmed, before any new event [230-240]; then new events flow.
 *
 * The child is this same command with a hidden flag; it reports each fact as one JSON line on
 * stdout, written unbuffered so the kill loses none of them.
 *
 * `nvrelay demo --json` prints facts instead of the narration, one JSON object per line (JSON
 * Lines), each with a `fact` field: see jsonNarration below.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import type { EventView } from '../src/engine/event-view.js';
import type { Recipient } from '../src/engine/recipient.js';
import { NodeError } from '../src/events/errors.js';
import type { SeverityName } from '../src/events/severity.js';
import { Node } from '../src/node/node.js';
import { DirectNvram, inspectDeviceFile } from '../src/nvram/index.js';
import { formatSize } from './arguments.js';
import { dumpDevice } from './dump.js';
import { formatLimits, formatNodeDevice } from '../src/node/device-file.js';

const demoDevice = 'nvrelay-demo.nvram';
const demoDeviceBytes = 4 << 20;
/** Events the child emits before its power is cut, one every emitIntervalMs. */
const emitsBeforeCut = 8;
const emitIntervalMs = 40;
/** pager confirms this long after receiving, so a few events always await it. */
const pagerDelayMs = 130;
/** New events after the reboot. */
const emitsAfterReboot = 2;

const shelfEvents: { type: string; severity: SeverityName; details: Record<string, unknown> }[] = [
  { type: 'disk.failed', severity: 'err', details: { shelf: 1, disk: 3 } },
  { type: 'fan.slow', severity: 'warning', details: { shelf: 1, rpm: 1800 } },
  { type: 'disk.rebuild.started', severity: 'notice', details: { shelf: 1, disk: 3 } },
  { type: 'psu.lost', severity: 'crit', details: { shelf: 1, psu: 'B' } },
];

type Fact =
  | { fact: 'boot'; bootCount: number; replayed: number }
  | { fact: 'emit'; seq: number; type: string; severity: string }
  | { fact: 'deliver'; recipient: string; seq: number; replayed: boolean }
  | { fact: 'confirm'; recipient: string; seq: number };

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      `emit events, cut the power mid-flight, reboot and watch the replay (./${demoDevice})`,
    )
    .option('--json', 'one JSON object per fact (JSON Lines) instead of the narration')
    .addOption(
      new Option('--power-cut-child <device>', 'run the node that loses its power').hideHelp(),
    )
    .action(async (options: { json?: boolean; powerCutChild?: string }) => {
      if (options.powerCutChild !== undefined)
        await runNode(options.powerCutChild, 'child', unbuffered);
      else
        await narrate(resolve(demoDevice), options.json === true ? jsonNarration : textNarration);
    });
}

// ---- the narrator ----

/** The device as a boot would find it: its boot count and the events not completely handled. */
interface DeviceView {
  bootCount: number;
  pending: { seq: number | null; type: string | null; owed: string[] }[];
}

type Stage = 'found' | 'after-cut' | 'end';
type Phase = 'before-cut' | 'after-reboot';

/** What the narrator tells: as text for a reader, or (--json) one JSON object per fact. */
interface Narration {
  intro(): void;
  formatted(bytes: number): void;
  device(stage: Stage, view: DeviceView): void;
  powerOn(): void;
  node(fact: Fact, phase: Phase): void;
  powerCut(tally: Tally): void;
  reboot(): void;
  end(): void;
}

const deviceTitles: Record<Stage, string> = {
  found: `device ./${demoDevice} as found`,
  'after-cut': 'the device as the next boot finds it',
  end: '\nthe device at the end',
};

const textNarration: Narration = {
  intro: () => say('nvrelay demo: persistent, reliable delivery of event messages over NVRAM\n'),
  formatted: (bytes) => say(`formatted ./${demoDevice} (${formatSize(bytes)}) as a node device`),
  device: (stage, view) => {
    say(
      `${deviceTitles[stage]}: boot count ${view.bootCount}, ${view.pending.length} events pending`,
    );
    for (const event of view.pending) {
      const state =
        event.owed.length > 0
          ? `awaiting ${event.owed.join(', ')}`
          : 'confirmed by all; the head had not moved past it yet';
      say(`     seq ${event.seq} ${event.type}: ${state}`);
    }
  },
  powerOn: () =>
    say(`\n1. power on. recipients: audit confirms at once, pager ${pagerDelayMs} ms later`),
  node: (fact) => say(describe(fact)),
  powerCut: (tally) =>
    say(
      `\n2. POWER CUT (kill -9) with ${tally.emitted} events emitted and ` +
        `${tally.delivered - tally.confirmed} deliveries not yet confirmed`,
    ),
  reboot: () => say('\n3. power on again: the replay comes first, then new events'),
  end: () => say('\nevery event was delivered to each recipient at least once; none was lost.'),
};

/**
 * --json: `formatted` (if the device was absent), `device` (stage found), the first node's
 * `boot`, `emit`, `deliver` and `confirm` facts (phase before-cut), `power-cut`, `device` (stage
 * after-cut), the rebooted node's facts (phase after-reboot), `device` (stage end).
 */
const jsonNarration: Narration = {
  intro: () => undefined,
  formatted: (bytes) =>
    say(JSON.stringify({ fact: 'formatted', device: `./${demoDevice}`, bytes })),
  device: (stage, view) => say(JSON.stringify({ fact: 'device', stage, ...view })),
  powerOn: () => undefined,
  node: (fact, phase) => say(JSON.stringify({ ...fact, phase })),
  powerCut: (tally) => say(JSON.stringify({ fact: 'power-cut', ...tally })),
  reboot: () => undefined,
  end: () => undefined,
};

async function narrate(path: string, out: Narration): Promise<void> {
  out.intro();
  if (!existsSync(path)) {
    formatNodeDevice(path, demoDeviceBytes, formatLimits(demoDeviceBytes, 256));
    out.formatted(demoDeviceBytes);
  }
  out.device('found', viewDevice(path));
  out.powerOn();
  const tally = await runChildUntilCut(path, out);
  out.powerCut(tally);
  out.device('after-cut', viewDevice(path));
  out.reboot();
  await runNode(path, 'reboot', (fact) => out.node(fact, 'after-reboot'));
  out.device('end', viewDevice(path));
  out.end();
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function viewDevice(path: string): DeviceView {
  const { bootCount } = inspectDeviceFile(path); // no boot counted
  const { pending } = dumpDevice(path);
  return {
    bootCount,
    pending: pending.map(({ seq, type, owed }) => ({ seq, type, owed })),
  };
}

function describe(fact: Fact): string {
  switch (fact.fact) {
    case 'boot':
      return `   boot count ${fact.bootCount}: recovery queued ${fact.replayed} events for replay`;
    case 'emit':
      return `   emit     seq ${fact.seq} ${fact.type} (${fact.severity}): durable`;
    case 'deliver':
      return `   deliver  seq ${fact.seq} -> ${fact.recipient}${fact.replayed ? '  (replayed)' : ''}`;
    case 'confirm':
      return `   confirm  seq ${fact.seq} <- ${fact.recipient}`;
  }
}

interface Tally {
  emitted: number;
  delivered: number;
  confirmed: number;
}

/** Runs the child node, narrating its facts, and kills it after emitsBeforeCut emits. */
async function runChildUntilCut(path: string, out: Narration): Promise<Tally> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'demo', '--power-cut-child', path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const tally: Tally = { emitted: 0, delivered: 0, confirmed: 0 };
  const exited = new Promise((done) => child.on('close', done));
  for await (const line of createInterface({ input: child.stdout })) {
    const fact = JSON.parse(line) as Fact;
    out.node(fact, 'before-cut');
    if (fact.fact === 'deliver') tally.delivered++;
    if (fact.fact === 'confirm') tally.confirmed++;
    if (fact.fact === 'emit' && ++tally.emitted === emitsBeforeCut) child.kill('SIGKILL');
  }
  await exited;
  if (child.signalCode !== 'SIGKILL')
    throw new NodeError(
      'NODE_STATE',
      `nvrelay: demo: the node exited (code ${child.exitCode}) before its power was cut`,
    );
  return tally;
}

// ---- the node (the child before the cut, the narrator's own process after it) ----

function unbuffered(fact: Fact): void {
  writeSync(1, `${JSON.stringify(fact)}\n`);
}

/**
 * Boots the node on the device, replays, and emits shelf events: in the child until it is
 * killed, after the reboot emitsAfterReboot of them, then runs until everything is confirmed.
 */
async function runNode(path: string, role: 'child' | 'reboot', report: (fact: Fact) => void) {
  const device = DirectNvram.open(path, { durability: 'process' });
  const node = Node.boot(device);
  try {
    report({ fact: 'boot', bootCount: device.header.bootCount, replayed: node.recovery.replayed });
    const receive = (delayMs: number) => (event: EventView, recipient: Recipient) => {
      const seq = event.seq;
      report({ fact: 'deliver', recipient: recipient.name, seq, replayed: event.replayed });
      const confirm = (): void => {
        if (recipient.confirm(seq)) report({ fact: 'confirm', recipient: recipient.name, seq });
      };
      if (delayMs === 0) confirm();
      else setTimeout(confirm, delayMs);
    };
    node.registerRecipient('audit', {}, receive(0));
    node.registerRecipient('pager', {}, receive(role === 'child' ? pagerDelayMs : 20));
    node.start(); // the replay is delivered before anything emitted from here on
    await sleep(role === 'reboot' ? pagerDelayMs : 0); // let the replay show before new events
    const shelf = node.producer('shelf-1');
    const emits = role === 'child' ? Number.MAX_SAFE_INTEGER : emitsAfterReboot;
    for (let i = 0; i < emits; i++) {
      const event = shelfEvents[i % shelfEvents.length] as (typeof shelfEvents)[number];
      const seq = shelf.emitJson(event.type, event.severity, event.details);
      report({ fact: 'emit', seq, type: event.type, severity: event.severity });
      await sleep(emitIntervalMs);
    }
    while (!node.idle()) await sleep(5);
  } finally {
    node.close();
    device.close();
  }
}
