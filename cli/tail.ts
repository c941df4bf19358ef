/**
 * `nvrelay tail --socket PATH --name NAME [--prefix P]... [--severity-max S] [--count N] [--json]`:
 * a recipient in another process (src/client), registered by name in the daemon's persistent
 * table. Prints `D <name> <seq> <type>` per delivery (one unbuffered write), then confirms it;
 * runs until killed, or until N deliveries. A relayed event's line ends with the path it took
 * through multiplexing recipients, ` via <node>:<seq>>...` (first hop first). With --json each delivery is one JSON line instead,
 * the whole event: `{"recipient","seq","time","timeMs","severity","source","type","details",
 * "detailsHex","attempt","originalSeq","origin"}` (details as text if they are UTF-8, else in hex).
 */
import type { Command } from 'commander';
import { connect, type RemoteEvent } from '../src/client/client.js';
import { fact } from './facts.js';
import { formatOrigin } from '../src/events/origin.js';
import type { Severity } from '../src/events/severity.js';
import { integerAtLeast } from './arguments.js';
import { collect, parseSeverity } from './wire-arguments.js';

interface TailOptions {
  socket: string;
  name: string;
  prefix?: string[];
  severityMax?: Severity;
  count?: number;
  window: number;
  json?: boolean;
}

/** A shell command waits for its daemon to come back: retries soon, at most every 500 ms. */
const reconnectMs = { first: 20, max: 500 };

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description(
      'receive events from a daemon as a named recipient; prints D <name> <seq> <type>, then confirms',
    )
    .option(
      '--socket <address>',
      'unix:PATH, a path, tcp://HOST:PORT or tls://HOST:PORT',
      './nvrelay.sock',
    )
    .requiredOption('--name <name>', 'the recipient name (persistent in the daemon)')
    .option('--prefix <p>', 'a type prefix to subscribe to (repeatable; default all)', collect)
    .option('--severity-max <s>', 'this severity or worse', parseSeverity)
    .option('--count <n>', 'exit after N deliveries', integerAtLeast(1))
    .option('--window <n>', 'deliveries in flight at once', integerAtLeast(1), 64)
    .option('--json', 'one JSON object per delivery (JSON Lines)')
    .action(async (options: TailOptions) => {
      await tail(options);
    });
}

async function tail(options: TailOptions): Promise<void> {
  const client = await connect(options.socket, { client: `tail-${process.pid}`, reconnectMs });
  let received = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  try {
    await client.subscribe(
      options.name,
      {
        ...(options.prefix !== undefined ? { prefixes: options.prefix } : {}),
        ...(options.severityMax !== undefined ? { severityMax: options.severityMax } : {}),
        window: options.window,
      },
      (event, recipient) => {
        if (options.count !== undefined && received >= options.count) return;
        fact(
          options.json === true
            ? JSON.stringify(deliveryJson(options.name, event))
            : `D ${options.name} ${event.seq} ${event.type}${via(event)}`,
        );
        recipient.confirm(event.seq);
        received++;
        if (options.count !== undefined && received >= options.count) finish();
      },
    );
  } catch (error) {
    client.close(); // a refused subscription (a bad name, a bad prefix) ends the command
    throw error;
  }
  const stop = (): void => finish();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await done;
  await new Promise((resolve) => setTimeout(resolve, 20)); // the last confirm leaves the socket
  client.close();
}

/** A relayed event's path, after its type: ` via node:seq>node:seq` (src/mux). */
function via(event: RemoteEvent): string {
  return event.origin.length === 0 ? '' : ` via ${formatOrigin(event.origin)}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A delivery as its JSON line: details as text if they are valid UTF-8, else as hex. */
function deliveryJson(recipient: string, event: RemoteEvent): Record<string, unknown> {
  let details: string | null = null;
  try {
    details = utf8.decode(event.details);
  } catch {
    // not UTF-8: shown in hex
  }
  return {
    recipient,
    seq: event.seq,
    time: new Date(event.time).toISOString(),
    timeMs: event.time,
    severity: event.severity,
    source: event.source,
    type: event.type,
    details,
    detailsHex: details === null ? Buffer.from(event.details).toString('hex') : null,
    attempt: event.attempt,
    originalSeq: event.originalSeq,
    origin: event.origin,
  };
}
