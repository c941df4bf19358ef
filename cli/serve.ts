/**
 * `nvrelay serve <device> [--socket PATH] [--listen HOST:PORT] [--config FILE]
 *                [--durability process|power] [--tls-cert F --tls-key F --tls-ca F]
 *                [--log-format text|json] [--log-details] [--metrics [HOST:]PORT] [--json]`
 *
 * One node on one device as a daemon (src/daemon/daemon.ts; docs/PROTOCOL.md, docs/CONFIG.md).
 * Everything that can be checked is checked before the device is opened: the config file (every
 * mistake with its path), the TLS files, plaintext TCP only on loopback. One log line per state
 * change on stdout (started with the recovery summary, listening, recipient connected and
 * disconnected, connection dropped, dead letter, stopped). SIGTERM or SIGINT: stop accepting,
 * answer the frames in hand, final fence, close; exit 0 (1 after a node failure).
 * --metrics: Prometheus metrics at /metrics, a status page at / (src/operations); a bare port
 * listens on 127.0.0.1.
 * --json: the log lines are JSON (as with --log-format json), and so is an error that stops the
 * command (`{"error":{...}}` on stdout, cli/main.ts).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import { defaultConfig, loadConfig } from '../src/daemon/config.js';
import type { TlsFiles } from '../src/daemon/daemon.js';
import { NodeError } from '../src/events/errors.js';
import type { Durability } from '../src/nvram/index.js';
import { parseOperationsAddress, type OperationsAddress } from '../src/operations/address.js';
import { parseDurability, parseHostPort } from './wire-arguments.js';

interface ServeOptions {
  /** The socket path, or false with --no-socket. */
  socket: string | false;
  listen?: { host: string; port: number };
  config?: string;
  durability: Durability;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  logFormat: 'text' | 'json';
  logDetails: boolean;
  pipelinedFence: boolean;
  metrics?: OperationsAddress;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run a node on a device as a daemon that other processes emit to and receive from ' +
        '(docs/PROTOCOL.md); formats the device if absent',
    )
    .argument('<device>', 'path of the device file')
    .option('--socket <path>', 'Unix socket to listen on (mode 0600)', './nvrelay.sock')
    .option('--no-socket', 'no Unix socket (TCP only)')
    .option('--listen <host:port>', 'also listen on TCP (plaintext: loopback only)', parseHostPort)
    .option('--config <file>', 'recipients, retry policies, windows, limits (docs/CONFIG.md)')
    .option(
      '--durability <d>',
      "'process' (survives kill -9) or 'power' (msync)",
      parseDurability,
      'process',
    )
    .option('--tls-cert <file>', 'TLS certificate (PEM) for --listen')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--tls-ca <file>', 'CA (PEM) that client certificates must chain to')
    .option('--log-format <format>', 'text or json', parseLogFormat, 'text')
    .option('--log-details', 'log lines may carry event details (never without it)', false)
    .option(
      '--pipelined-fence',
      "'power': each group's msync on a worker thread while the next group is assembled",
      false,
    )
    .option(
      '--metrics <[host:]port>',
      'serve /metrics (Prometheus) and a status page at / (a bare port: 127.0.0.1)',
      parseMetrics,
    )
    .addOption(
      new Option('--json', 'JSON log lines and errors (implies --log-format json)').implies({
        logFormat: 'json',
      }),
    )
    .action(async (device: string, options: ServeOptions) => {
      process.exitCode = await serve(device, options);
    });
}

function parseMetrics(text: string): OperationsAddress {
  try {
    return parseOperationsAddress(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function parseLogFormat(text: string): 'text' | 'json' {
  if (text !== 'text' && text !== 'json')
    throw new InvalidArgumentError(`'${text}' is not a log format (text or json)`);
  return text;
}

async function serve(device: string, options: ServeOptions): Promise<number> {
  const config = options.config === undefined ? defaultConfig() : loadConfig(options.config);
  const tls = readTls(options);
  // the daemon (with its sinks' and coordinator's clients) and pino-pretty load only for serve:
  // every other command starts without them
  const { Daemon, checkTcp } = await import('../src/daemon/daemon.js');
  if (options.listen !== undefined) checkTcp(options.listen.host, tls);
  const log = await logger(options.logFormat);
  const daemon = await Daemon.start({
    device,
    durability: options.durability,
    config,
    log,
    socket: options.socket === false ? null : options.socket,
    logDetails: options.logDetails,
    pipelinedFence: options.pipelinedFence,
    ...(options.listen !== undefined ? { listen: options.listen } : {}),
    ...(tls !== undefined ? { tls } : {}),
    ...(options.metrics !== undefined ? { operations: options.metrics } : {}),
  });
  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    void daemon.stop();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return daemon.stopped;
}

function readTls(options: ServeOptions): TlsFiles | undefined {
  const files = [options.tlsCert, options.tlsKey, options.tlsCa];
  if (files.every((file) => file === undefined)) return undefined;
  if (files.some((file) => file === undefined))
    throw new NodeError(
      'BAD_ARGUMENT',
      'nvrelay: TLS needs all of --tls-cert, --tls-key and --tls-ca',
    );
  if (options.listen === undefined)
    throw new NodeError('BAD_ARGUMENT', 'nvrelay: the TLS options are for --listen');
  const read = (file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new NodeError('BAD_ARGUMENT', `nvrelay: ${file}: ${(error as Error).message}`);
    }
  };
  return {
    cert: read(options.tlsCert as string),
    key: read(options.tlsKey as string),
    ca: read(options.tlsCa as string),
  };
}

/**
 * One line per state change: JSON (pino's own), or pino-pretty's one-line text, in colour on a
 * terminal. Event details appear only with --log-details.
 */
async function logger(format: 'text' | 'json'): Promise<Logger> {
  if (format === 'json')
    return pino({ base: { pid: process.pid } }, pino.destination({ sync: true }));
  const { default: pretty } = await import('pino-pretty');
  return pino(
    { base: null },
    pretty({
      sync: true,
      singleLine: true,
      colorize: process.stdout.isTTY,
      translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'",
    }),
  );
}
