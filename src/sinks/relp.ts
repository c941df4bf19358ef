/**
 * The `relp` sink: each event as one RFC 5424 syslog message over RELP (the Reliable Event
 * Logging Protocol, rsyslog's imrelp), confirmed when the server answers `rsp 200`.
 *
 * The session. One connection at a time, opened on the first send (and again on the send after
 * it is lost): the `open` command with our offers, `relp_version=0` (the version librelp, and so
 * rsyslog, offers and answers with), `relp_software=nvrelay`, `commands=syslog`, and
 * nothing is sent before its `rsp 200`, which must offer `relp_version` and `syslog` back (RELP:
 * a command the server does not accept must not be used). A batch is pipelined, as RELP's window
 * allows: every message is written at once, each a `syslog` command with its own transaction
 * number (1..999999999, then 1 again; the open takes 1), and the server answers in order.
 *
 * What becomes of an event: `rsp 200` means the server holds it: held. Another code: retry, the
 * code and text the reason. A lost connection, a `serverclose` from the server, no answer for
 * `timeoutMs`, or a frame that breaks the grammar (./relp-frames.ts): the connection is dropped
 * and every unanswered event of the batch is retried. That is RELP's own rule (the client sends
 * again what was not confirmed), with the resending left to the recipient's retry policy, so it
 * backs off and counts towards attemptsMax instead of hammering a server that is down. A message
 * the server wrote just before the connection broke comes twice: the structured data carries the
 * event's identity (node, seq) to deduplicate by. Whether `rsp 200` means "on disk" is the
 * server's configuration (rsyslog: direct queues, and files flushed per transaction).
 *
 * The message, `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`:
 * - RFC 5424 rather than the older BSD format: a full UTC timestamp, a message id and
 *   structured data, all of which rsyslog parses into properties of their own.
 * - PRI = facility * 8 + the event's level: the event's severity is already syslog's 0..7.
 * - TIMESTAMP: the event's emit time in ISO 8601 UTC, not the send time, so an event retried or
 *   delivered again after a boot keeps the time it happened.
 * - HOSTNAME, APP-NAME: from the config (the machine's name, `nvrelay`): who sent it.
 * - PROCID: the daemon's pid, which tells its runs apart (duplicates cluster around restarts).
 * - MSGID: the event type, printable ASCII cut to RFC 5424's 32 characters ('-' if none), so
 *   rsyslog can route by it; the full type is in the structured data and the message.
 * - SD: `[nvrelay@32473 node seq source type severity]`, the identity to deduplicate by and the
 *   fields to filter by, without parsing MSG. An SD-ID of our own needs a private enterprise
 *   number and nvrelay has none registered, so it uses 32473, the one RFC 5612 reserves for
 *   documentation, rather than claim someone else's. Values escape `"`, `\` and `]`, as RFC
 *   5424 requires.
 * - MSG: the JSON every sink writes (./event-json.ts), with every character outside printable
 *   ASCII written as a \u escape. It is then plain ASCII: valid without the BOM RFC 5424 asks of
 *   UTF-8, and left alone by rsyslog, which by default rewrites control characters it receives
 *   (DEL as `#177`), breaking the JSON.
 *
 * TLS (options.tls): node:tls with the client certificate and the server's CA; the server's
 * certificate is checked against `host`, which is also the SNI name unless it is an IP address
 * (TLS forbids an address there; Node then checks the certificate's IP names).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { eventJson } from './event-json.js';
import {
  RelpFrameError,
  RelpFrameReader,
  encodeFrame,
  nextTxnr,
  parseResponse,
  type RelpFrame,
  type RelpResponse,
} from './relp-frames.js';
import {
  held,
  outcomes,
  reasonOf,
  type SinkEvent,
  type SinkOutcome,
  type SinkTransport,
} from './sink.js';

export interface RelpOptions {
  host: string;
  port: number;
  /** Client certificate, key and the server's CA (PEM), for RELP over TLS. */
  tls?: { cert: Buffer; key: Buffer; ca: Buffer } | undefined;
  /** syslog facility number (local0: 16). */
  facility: number;
  appName: string;
  hostname: string;
  timeoutMs: number;
}

/** How long `close()` waits for the server to answer our `close`. */
const closeWaitMs = 1_000;
const offers = Buffer.from('relp_version=0\nrelp_software=nvrelay\ncommands=syslog');
/** RFC 5612's private enterprise number for documentation. */
const sdId = 'nvrelay@32473';

export class RelpTransport implements SinkTransport {
  readonly target: string;
  readonly #options: RelpOptions;
  #session: RelpSession | null = null;
  #closed = false;

  constructor(options: RelpOptions) {
    this.#options = options;
    const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
    this.target = `relp${options.tls !== undefined ? '+tls' : ''}://${host}:${options.port}`;
  }

  async send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]> {
    if (this.#closed) return outcomes(batch, { kind: 'retry', reason: 'relp: closed' });
    const session = this.#currentSession();
    try {
      await session.ready;
    } catch (error) {
      return outcomes(batch, { kind: 'retry', reason: reasonOf(error) });
    }
    const messages = batch.map((event) => Buffer.from(syslogMessage(event, this.#options)));
    return Promise.all(session.syslog(messages).map((answer) => answer.then(outcomeOf, lost)));
  }

  /** Sends `close` if a session is open (waiting briefly for its answer), then drops it. */
  async close(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    this.#session = null;
    await session?.close(closeWaitMs);
  }

  /** The session in use, or a new one if there is none or it was lost. */
  #currentSession(): RelpSession {
    if (this.#session === null || this.#session.lost)
      this.#session = new RelpSession(this.#options);
    return this.#session;
  }
}

function outcomeOf(response: RelpResponse): SinkOutcome {
  if (response.code === 200) return held;
  return { kind: 'retry', reason: `relp: rsp ${response.code} ${response.text}`.trimEnd() };
}

function lost(error: unknown): SinkOutcome {
  return { kind: 'retry', reason: reasonOf(error) };
}

interface Waiting {
  txnr: number;
  command: string;
  resolve: (response: RelpResponse) => void;
  reject: (error: Error) => void;
}

/**
 * One connection and its RELP session: connects and opens at once (`ready`); commands wait for
 * their `rsp` in the order sent. Once dropped (`lost`), every command still waiting is rejected
 * with the reason, and the session is never used again.
 */
class RelpSession {
  readonly ready: Promise<void>;
  readonly #options: RelpOptions;
  readonly #socket: Socket;
  readonly #reader = new RelpFrameReader();
  /** Sent and unanswered, oldest first. */
  readonly #waiting: Waiting[] = [];
  #txnr = 0;
  #connected = false;
  #open = false;
  #closing = false;
  #lostReason: string | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Frames queued by #command, written together by #flush. */
  #unsent: Buffer[] = [];

  constructor(options: RelpOptions) {
    this.#options = options;
    this.#socket = connectSocket(options);
    this.#wire();
    this.ready = this.#handshake();
    this.ready.catch(() => {}); // sends await it; close() may drop a session none awaits
  }

  get lost(): boolean {
    return this.#lostReason !== null;
  }

  /** One `syslog` command per message, written at once; each resolves with its answer. */
  syslog(messages: readonly Buffer[]): Promise<RelpResponse>[] {
    const answers = messages.map((message) => this.#command('syslog', message));
    this.#flush();
    return answers;
  }

  async close(waitMs: number): Promise<void> {
    if (this.#open && !this.lost && !this.#closing) {
      const answer = this.#command('close', Buffer.alloc(0)).catch(() => {});
      this.#closing = true;
      this.#flush();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
      await Promise.race([answer, late]).finally(() => clearTimeout(timer));
    }
    this.#drop('relp: closed');
  }

  async #handshake(): Promise<void> {
    this.#arm();
    await new Promise<void>((resolve, reject) => {
      this.#socket.once(this.#options.tls === undefined ? 'connect' : 'secureConnect', resolve);
      this.#socket.once('close', () => reject(new Error(this.#lostReason ?? 'relp: closed')));
    });
    this.#connected = true;
    const answer = this.#command('open', offers);
    this.#flush();
    const response = await answer;
    const refusal = openRefusal(response);
    if (refusal !== null) {
      this.#drop(refusal);
      throw new Error(refusal);
    }
    this.#open = true;
  }

  #wire(): void {
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#socket.on('error', (error) => this.#drop(reasonOf(error)));
    this.#socket.on('close', () => this.#drop('relp: connection lost'));
  }

  /** Queues a command's frame (written by #flush) and its wait for an answer. */
  #command(command: string, data: Buffer): Promise<RelpResponse> {
    if (this.#lostReason !== null) return Promise.reject(new Error(this.#lostReason));
    if (this.#closing) return Promise.reject(new Error('relp: closing'));
    this.#txnr = nextTxnr(this.#txnr);
    const txnr = this.#txnr;
    this.#unsent.push(encodeFrame(txnr, command, data));
    return new Promise((resolve, reject) => this.#waiting.push({ txnr, command, resolve, reject }));
  }

  /** Writes the queued frames at once; their answers are owed from now. */
  #flush(): void {
    if (this.#unsent.length === 0 || this.lost) return;
    this.#socket.write(Buffer.concat(this.#unsent));
    this.#unsent = [];
    this.#arm();
  }

  #receive(chunk: Buffer): void {
    let frames: RelpFrame[];
    try {
      frames = this.#reader.push(chunk);
    } catch (error) {
      if (!(error instanceof RelpFrameError)) throw error;
      this.#drop(error.message);
      return;
    }
    for (const frame of frames) {
      if (this.lost) return;
      this.#frame(frame);
    }
  }

  #frame(frame: RelpFrame): void {
    if (frame.txnr === 0) {
      // a hint: the server's only one is serverclose; any other may be ignored (RELP)
      if (frame.command === 'serverclose') this.#drop('relp: the server closed the session');
      return;
    }
    if (frame.command !== 'rsp') return this.#drop(`relp: unexpected '${frame.command}' frame`);
    const waiting = this.#waiting[0];
    if (waiting?.txnr !== frame.txnr)
      return this.#drop(
        `relp: rsp ${frame.txnr} out of turn (expected ${waiting?.txnr ?? 'none'})`,
      );
    // librelp answers `close` with an empty rsp; every other answer starts with a code
    const response =
      waiting.command === 'close' && frame.data.length === 0
        ? { code: 200, text: '', offers: new Map<string, string>() }
        : parseResponse(frame.data);
    if (response === null) return this.#drop(`relp: malformed rsp ${frame.txnr}`);
    this.#waiting.shift();
    this.#arm();
    waiting.resolve(response);
  }

  /** (Re)starts the answer timer while a connection or an answer is owed; stops it otherwise. */
  #arm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.lost || (this.#connected && this.#waiting.length === 0)) return;
    const ms = this.#options.timeoutMs;
    this.#timer = setTimeout(() => {
      this.#drop(
        this.#connected ? `relp: no answer within ${ms} ms` : `relp: no connection within ${ms} ms`,
      );
    }, ms);
  }

  /** Drops the connection; every command still waiting is rejected with `reason`. */
  #drop(reason: string): void {
    if (this.#lostReason !== null) return;
    this.#lostReason = reason;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#socket.destroy();
    for (const waiting of this.#waiting.splice(0)) waiting.reject(new Error(reason));
  }
}

function connectSocket(options: RelpOptions): Socket {
  const { host, port, tls } = options;
  if (tls === undefined) return netConnect({ host, port });
  return tlsConnect({
    host,
    port,
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    ...(isIP(host) === 0 ? { servername: host } : {}),
  });
}

/** Why the answer to our `open` does not open a session we can use; null if it does. */
function openRefusal(response: RelpResponse): string | null {
  if (response.code !== 200)
    return `relp: open refused: ${response.code} ${response.text}`.trimEnd();
  if (!response.offers.has('relp_version')) return 'relp: the server offered no relp_version';
  const commands = (response.offers.get('commands') ?? '').split(',');
  if (!commands.includes('syslog')) return 'relp: the server does not accept syslog commands';
  return null;
}

/** The event as an RFC 5424 message (see the file's comment for each field). */
export function syslogMessage(
  event: SinkEvent,
  options: Pick<RelpOptions, 'facility' | 'hostname' | 'appName'>,
  procid: number = process.pid,
): string {
  const header = [
    `<${options.facility * 8 + event.level}>1`,
    timestamp(event.time),
    printable(options.hostname, 255),
    printable(options.appName, 48),
    String(procid),
    printable(event.type, 32),
  ].join(' ');
  return `${header} ${structuredData(event)} ${asciiJson(eventJson(event))}`;
}

/** ISO 8601 UTC with milliseconds; RFC 5424's '-' for a year it cannot express (> 9999). */
function timestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return /^\d{4}-/.test(iso) ? iso : '-';
}

/** A header field: printable ASCII only, at most `max` characters, '-' if nothing is left. */
function printable(value: string, max: number): string {
  const kept = value.replace(/[^!-~]/g, '').slice(0, max);
  return kept === '' ? '-' : kept;
}

function structuredData(event: SinkEvent): string {
  const params: [string, string][] = [
    ['node', event.node],
    ['seq', String(event.seq)],
    ['source', event.source],
    ['type', event.type],
    ['severity', event.severity],
  ];
  const text = params.map(([name, value]) => ` ${name}="${value.replace(/["\\\]]/g, '\\$&')}"`);
  return `[${sdId}${text.join('')}]`;
}

/**
 * JSON with every character outside printable ASCII as a \u escape: JSON.stringify leaves DEL
 * and non-ASCII as they are, and both can only be inside strings, where an escape is valid.
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
