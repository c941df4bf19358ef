/**
 * `nvrelay pump <device> --count N [--payload-bytes B] [--recipients R] [--durability D]`:
 * the load and soak command other tools drive (issue 3). Its contract is exact:
 *
 *  - formats the device file if it does not exist, boots the node on it (recovering and
 *    queueing the replay of whatever is pending [231]);
 *  - registers R in-process recipients r0..rR-1, each subscribed to everything, so every event
 *    is intended for all R; then emits N new events from one producer ('pump');
 *  - runs until every event is confirmed, then exits 0.
 *
 * It prints one line per fact on stdout, each with one write(2) and no buffering, so a kill -9
 * loses no line that a fact has happened behind:
 *   `A <seq>`             after an emit returned (the event is durable)
 *   `D <recipient> <seq>` when a recipient receives an event, before it confirms
 *   `Q <json>`            last: a summary
 * With --count 0 it only recovers and drains. --quiet prints the `Q` line alone; --json prints
 * only the summary, as one JSON object. On a terminal (stderr a TTY, and neither --quiet nor
 * --json) a progress bar on stderr shows events/s, pending events and the ETA.
 *
 * SIGINT or SIGTERM stops emitting, lets what was emitted be confirmed, prints the `Q` line
 * (with `interrupted`) and closes the device; the exit code is then 128 + the signal's number.
 *
 * What can be checked before the boot is checked on a read-only copy of an existing device (the
 * payload against its details limit, the recipients against its recipient limit, pending events
 * owed to recipients this pump does not register): a pump refused for any of these leaves the
 * device as it found it, boot count included.
 */
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { detailsBytesLimit, recipientsMax } from '../src/constants.js';
import { NodeError, QueueFull } from '../src/events/errors.js';
import { Node } from '../src/node/node.js';
import type { Durability } from '../src/nvram/index.js';
import { openNodeDevice } from '../src/node/device-file.js';
import { fact } from './facts.js';
import { pendingEvents, readNodeSnapshot } from './node-device.js';

export interface PumpOptions {
  count: number;
  payloadBytes: number;
  recipients: number;
  durability: Durability;
  /** Only the `Q` line (no `A` and `D` lines, no progress bar). */
  quiet?: boolean;
  /** Only the summary, as one JSON object (no `A`, `D` or `Q` lines). */
  json?: boolean;
}

/** Emits between two turns of the event loop (the node delivers and retires in between). */
const emitBurst = 64;
/** Idle polls without progress before the pump decides nothing more can complete. */
const stallPollsMax = 2_000;
const eventType = 'pump.event';

export function registerPump(program: Command): void {
  program
    .command('pump')
    .description(
      'boot the node on a device (formatting it if absent), replay what is pending, emit N ' +
        'events to R in-process recipients and run until all are confirmed; prints A/D/Q lines',
    )
    .argument('<device>', 'path of the device file')
    .requiredOption('--count <n>', 'events to emit (0: only recover and drain)', integerIn(0))
    .option('--payload-bytes <b>', 'details bytes per event', integerIn(0, detailsBytesLimit), 128)
    .option('--recipients <r>', 'in-process recipients r0..rR-1', integerIn(1, recipientsMax), 1)
    .option(
      '--durability <d>',
      "'process' (survives kill -9) or 'power' (msync)",
      durability,
      'process',
    )
    .option('--quiet', 'print only the Q line')
    .option('--json', 'print only the summary, as one JSON object')
    .action(async (device: string, options: PumpOptions) => {
      await pump(device, options);
    });
}

function integerIn(low: number, high = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < low || value > high)
      throw new InvalidArgumentError(`expected an integer in [${low}, ${high}], got '${text}'`);
    return value;
  };
}

function durability(text: string): Durability {
  if (text !== 'process' && text !== 'power')
    throw new InvalidArgumentError(`expected 'process' or 'power', got '${text}'`);
  return text;
}

/**
 * Refuses, before anything is opened for writing, a pump that could not complete on the device
 * at `path` (if it exists): typed errors, as the boot or an emit would throw them later.
 */
export function validatePump(path: string, options: PumpOptions): void {
  if (!existsSync(path)) return; // formatted by the pump, for these options
  const snapshot = readNodeSnapshot(path); // a missing, foreign or damaged device throws here
  try {
    const { detailsBytesMax, recipientsMax } = snapshot.node.geometry;
    if (options.payloadBytes > detailsBytesMax) {
      throw new NodeError(
        'EVENT_TOO_LARGE',
        `nvrelay: pump: --payload-bytes ${options.payloadBytes} is over the ${detailsBytesMax}-byte ` +
          `details limit ${path} was formatted with`,
      );
    }
    if (options.recipients > recipientsMax) {
      throw new NodeError(
        'RECIPIENTS_FULL',
        `nvrelay: pump: --recipients ${options.recipients} is over the ${recipientsMax} ` +
          `recipients ${path} was formatted for`,
      );
    }
    const ours = new Set(Array.from({ length: options.recipients }, (_, r) => `r${r}`));
    const absent = new Set(
      pendingEvents(snapshot.node).flatMap((event) => event.owed.filter((name) => !ours.has(name))),
    );
    if (absent.size > 0) {
      throw new NodeError(
        'NODE_STATE',
        `nvrelay: pump: pending events on ${path} are owed to recipients this pump does not ` +
          `register (${[...absent].join(', ')}): give --recipients to cover them, or retire them`,
      );
    }
  } finally {
    snapshot.close();
  }
}

/** The first SIGINT or SIGTERM asks the pump to stop; a second one ends the process at once. */
class StopSignal {
  signal: NodeJS.Signals | null = null;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.signal !== null) process.exit(exitCodeOf(signal));
    this.signal = signal;
  };
  constructor() {
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
  }
  dispose(): void {
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }
}

function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

/** The progress bar on stderr, only on a terminal: events/s, pending events and the ETA. */
interface PumpProgress {
  update(emitted: number, pending: number): void;
  stop(): void;
}

async function progressBar(options: PumpOptions): Promise<PumpProgress> {
  if (options.quiet === true || options.json === true || process.stderr.isTTY !== true)
    return { update: () => undefined, stop: () => undefined };
  const { default: cliProgress } = await import('cli-progress'); // only on a terminal
  const bar = new cliProgress.SingleBar(
    {
      format:
        'pump {bar} {percentage}% | {value}/{total} events | {rate} events/s | pending {pending} | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 100,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(options.count, 0, { rate: 0, pending: 0 });
  return {
    update: (emitted, pending) => {
      const seconds = (performance.now() - started) / 1000;
      bar.update(emitted, { rate: Math.round(emitted / Math.max(seconds, 1e-3)), pending });
    },
    stop: () => bar.stop(),
  };
}

export async function pump(path: string, options: PumpOptions): Promise<void> {
  validatePump(path, options);
  const stop = new StopSignal();
  try {
    await pumpUntilDone(path, options, stop);
  } finally {
    stop.dispose();
  }
}

async function pumpUntilDone(path: string, options: PumpOptions, stop: StopSignal): Promise<void> {
  const started = performance.now();
  const lines = options.quiet === true || options.json === true ? () => undefined : fact;
  const { device, formatted } = openNodeDevice(path, {
    durability: options.durability,
    detailsBytesMax: options.payloadBytes,
  });
  let node: Node | null = null;
  try {
    node = Node.boot(device);
    for (let r = 0; r < options.recipients; r++) {
      node.registerRecipient(`r${r}`, {}, (event, recipient) => {
        lines(`D ${recipient.name} ${event.seq}`); // received, not yet confirmed
        recipient.confirm(event.seq);
      });
    }
    node.start(); // replayed events are queued ahead of every new one [230-240]
    // One turn of the event loop before the first emit: the replay starts being delivered
    // first, as it would in a system whose producers come up after the node.
    await nextTurn();
    const progress = await progressBar(options);
    let emits: EmitTally;
    try {
      emits = await emitAll(node, options, lines, stop, progress);
      await untilIdle(node);
      progress.update(emits.emitted, node.queue.length()); // the bar ends where the run did
    } finally {
      progress.stop();
    }
    const counters = node.stats().counters;
    const summary = {
      emitted: emits.emitted,
      seqFirst: emits.seqFirst,
      seqLast: emits.seqLast,
      queueFullWaits: emits.queueFullWaits,
      replayed: node.recovery.replayed,
      discarded: node.recovery.discarded,
      delivered: counters.delivered,
      redelivered: counters.redelivered,
      confirmed: counters.confirmed,
      retired: counters.retired,
      deadLettered: counters.deadLettered,
      recipients: options.recipients,
      durability: options.durability,
      bootCount: device.header.bootCount,
      formatted,
      elapsedMs: Math.round(performance.now() - started),
      ...(stop.signal === null ? {} : { interrupted: stop.signal }),
    };
    if (options.json === true) fact(JSON.stringify(summary));
    else fact(`Q ${JSON.stringify(summary)}`);
    if (stop.signal !== null) process.exitCode = exitCodeOf(stop.signal);
  } finally {
    node?.close();
    device.close();
  }
}

interface EmitTally {
  emitted: number;
  seqFirst: number | null;
  seqLast: number | null;
  queueFullWaits: number;
}

/** Emits `count` events; on QueueFull, lets the node retire what is confirmed and tries again. */
async function emitAll(
  node: Node,
  options: PumpOptions,
  lines: (line: string) => void,
  stop: StopSignal,
  progress: PumpProgress,
): Promise<EmitTally> {
  const producer = node.producer('pump');
  const tally: EmitTally = { emitted: 0, seqFirst: null, seqLast: null, queueFullWaits: 0 };
  const payload = new Uint8Array(options.payloadBytes);
  while (tally.emitted < options.count && stop.signal === null) {
    payload.fill(tally.emitted & 0xff);
    let seq: number;
    try {
      seq = producer.emit(eventType, 'info', payload);
    } catch (error) {
      if (!(error instanceof QueueFull)) throw error;
      tally.queueFullWaits++;
      await nextTurn();
      continue;
    }
    if (tally.emitted === 0) progress.update(0, node.queue.length());
    lines(`A ${seq}`); // step 213 is done: emit returns only once the event is durable
    tally.seqFirst ??= seq;
    tally.seqLast = seq;
    tally.emitted++;
    if (tally.emitted % emitBurst === 0) {
      progress.update(tally.emitted, node.queue.length());
      await nextTurn();
    }
  }
  return tally;
}

/**
 * Waits until every queued event is completely handled [220]. Events still owed to a recipient
 * that this pump does not register (an earlier run's rN with N >= R) can never complete: that
 * is reported as an error rather than waited on forever.
 */
async function untilIdle(node: Node): Promise<void> {
  let stalled = 0;
  let progress = -1;
  while (!node.idle()) {
    const counters = node.counters;
    const now = counters.delivered + counters.redelivered + counters.retired;
    stalled = now === progress ? stalled + 1 : 0;
    progress = now;
    if (stalled >= stallPollsMax) throw stuck(node);
    await (stalled < 100 ? nextTurn() : sleep(1));
  }
}

function stuck(node: Node): NodeError {
  const absent = node
    .stats()
    .recipients.filter((recipient) => !recipient.registered)
    .map((recipient) => recipient.name);
  return new NodeError(
    'NODE_STATE',
    `nvrelay: pump: ${node.queue.length()} events cannot complete` +
      (absent.length > 0 ? `; recipients not registered by this pump: ${absent.join(', ')}` : ''),
  );
}
