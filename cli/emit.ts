/**
 * `nvrelay emit --socket PATH --type T --severity S [--details TEXT] [--count N] [--source NAME]
 *               [--json]`:
 * a producer in another process (src/client). Prints `A <seq>` per acknowledged event, each in
 * one unbuffered write, once the daemon says it is durable; exits 0 when all are acknowledged,
 * 1 on a refusal (printed with its code). With --json each acknowledged event is one JSON line
 * instead, `{"seq":N,"source":"...","type":"...","severity":"err"}`, and a refusal is the
 * `{"error":{...}}` line after the events acknowledged before it.
 */
import type { Command } from 'commander';
import { connect } from '../src/client/client.js';
import { fact } from './facts.js';
import { severityLevel, severityName, type Severity } from '../src/events/severity.js';
import { integerAtLeast } from './arguments.js';
import { parseSeverity } from './wire-arguments.js';

interface EmitOptions {
  socket: string;
  type: string;
  severity: Severity;
  details?: string;
  count: number;
  source: string;
  /** Emits outstanding at once. */
  window: number;
  json?: boolean;
}

/** A shell command waits for its daemon to come back: retries soon, at most every 500 ms. */
const reconnectMs = { first: 20, max: 500 };

export function registerEmit(program: Command): void {
  program
    .command('emit')
    .description('emit events to a daemon; prints A <seq> per acknowledged (durable) event')
    .option(
      '--socket <address>',
      'unix:PATH, a path, tcp://HOST:PORT or tls://HOST:PORT',
      './nvrelay.sock',
    )
    .requiredOption('--type <type>', 'dotted event type, e.g. disk.failed')
    .requiredOption('--severity <s>', 'emerg..debug or 0..7', parseSeverity)
    .option('--details <text>', 'details (UTF-8)')
    .option('--count <n>', 'events to emit', integerAtLeast(1), 1)
    .option('--source <name>', 'the producer name', `emit-${process.pid}`)
    .option('--window <n>', 'emits outstanding at once', integerAtLeast(1), 64)
    .option('--json', 'one JSON object per acknowledged event (JSON Lines)')
    .action(async (options: EmitOptions) => {
      await emit(options);
    });
}

async function emit(options: EmitOptions): Promise<void> {
  const client = await connect(options.socket, { client: `emit-${process.pid}`, reconnectMs });
  const severity = severityName(severityLevel(options.severity));
  const acknowledged = (seq: number): string =>
    options.json === true
      ? JSON.stringify({ seq, source: options.source, type: options.type, severity })
      : `A ${seq}`;
  try {
    const producer = client.producer(options.source); // a bad name throws: the client is closed
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < options.count) {
        next++;
        const seq = await producer.emit(options.type, options.severity, options.details ?? null);
        fact(acknowledged(seq));
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.window, options.count) }, lane));
  } finally {
    client.close();
  }
}
