/**
 * The `redis-stream` sink: each batch as one pipeline of XADD to a Redis stream, confirmed once
 * the server has made the entries durable.
 *
 * Durability: with `appendonly yes` and `appendfsync always`, Redis writes the AOF and fsyncs it
 * before it sends the replies of the commands that wrote it, so an XADD's reply is the proof
 * that the entry is on disk: the confirmation waits on exactly that. With `appendfsync
 * everysec` (Redis' default for AOF) a reply can precede the fsync by a second, and a power cut
 * loses what was acknowledged; so with `requireFsyncAlways` (the default) the sink checks the
 * server's settings (CONFIG GET) on each connection and before each send while they were
 * wrong, and sends nothing while they are: every send is `retry` with a reason saying what to
 * change, the sink shows down, and the events wait, owed, on the device. A passing check is
 * repeated after `recheckMs`, so a CONFIG SET back to everysec is noticed within that time.
 * With `waitReplicas`, the pipeline ends with WAIT: the batch is held only once that many
 * replicas acknowledged it (replicas' own fsync policy is theirs).
 *
 * Each entry: `XADD <stream> [MAXLEN ~ <maxlen>] * node seq time severity source type event`,
 * `time` in ms since the epoch and `event` the event's JSON (./event-json.ts). An event sent
 * again (a reply lost with the connection, a WAIT that fell short) is a second entry with the
 * same node and seq: readers dedupe by those.
 *
 * Errors: a command error is that event's `retry`, never `refused`. Nothing Redis answers to an
 * XADD with `*` is about the event itself: WRONGTYPE (the key holds something else), OOM,
 * MISCONF, NOPERM, READONLY (a replica) are all about the server or the key, the same for every
 * event, and fixed by an operator; refusing would dead-letter the whole backlog in seconds,
 * while retrying keeps the sink down with the error as its reason until the fix, then delivers
 * everything. (The retry policy's attemptsMax still bounds how long an event waits.)
 *
 * The connection: lazy (the first send opens it), no offline queue (a send while disconnected
 * fails at once, as `retry`), a command timeout of `timeoutMs` (plus `waitTimeoutMs` when the
 * pipeline ends in WAIT, which holds its reply that long by design), and ioredis' own
 * reconnection with backoff. Commands in flight when the connection drops fail (they are not
 * resent by the client): the recipient's retry policy owns every resend.
 */
import { Redis } from 'ioredis';
import { eventJson } from './event-json.js';
import {
  held,
  outcomes,
  reasonOf,
  type SinkEvent,
  type SinkOutcome,
  type SinkTransport,
} from './sink.js';

export interface RedisStreamOptions {
  url: string;
  stream: string;
  maxlen?: number | undefined;
  waitReplicas: number;
  waitTimeoutMs: number;
  requireFsyncAlways: boolean;
  timeoutMs: number;
}

/** A passing check of appendfsync is done again after this long on one connection. */
const recheckMs = 30_000;

export class RedisStreamTransport implements SinkTransport {
  readonly target: string;
  readonly #options: RedisStreamOptions;
  /** The URL as logs may show it (no password). */
  readonly #where: string;
  readonly #redis: Redis;
  /** The last connection error, for the reason of a send while disconnected. */
  #lastError: string | null = null;
  /** The connection (its socket) the fsync check last passed on, and when. */
  #checkedOn: unknown = null;
  #checkedAt = 0;
  #closed = false;

  constructor(options: RedisStreamOptions) {
    this.#options = options;
    this.#where = redact(options.url);
    this.target = `${this.#where} ${options.stream}`;
    this.#redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      // a reply lost with the connection fails its command, never resent by the client behind
      // the recipient's back (it would be a second entry the outcome knows nothing of)
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: options.timeoutMs,
      commandTimeout: options.timeoutMs + (options.waitReplicas > 0 ? options.waitTimeoutMs : 0),
      retryStrategy: (times) => Math.min(times * 100, 2_000),
    });
    // without a listener ioredis prints every connection error; the reasons carry them instead
    this.#redis.on('error', (error: unknown) => {
      this.#lastError = reasonOf(error);
    });
  }

  async send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]> {
    if (batch.length === 0) return [];
    const notReady = await this.#ready();
    if (notReady !== null) return outcomes(batch, { kind: 'retry', reason: notReady });
    const { stream, maxlen, waitReplicas, waitTimeoutMs } = this.#options;
    const trim = maxlen !== undefined ? ['MAXLEN', '~', maxlen] : [];
    const pipeline = this.#redis.pipeline();
    for (const event of batch)
      pipeline.xadd(
        stream,
        ...trim,
        '*',
        'node',
        event.node,
        'seq',
        event.seq,
        'time',
        event.time,
        'severity',
        event.severity,
        'source',
        event.source,
        'type',
        event.type,
        'event',
        JSON.stringify(eventJson(event)),
      );
    if (waitReplicas > 0) pipeline.wait(waitReplicas, waitTimeoutMs);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      return outcomes(batch, { kind: 'retry', reason: this.#reason(error) });
    }
    if (results === null)
      return outcomes(batch, { kind: 'retry', reason: `redis at ${this.#where}: no replies` });
    let replicated: SinkOutcome = held;
    if (waitReplicas > 0) {
      const [error, count] = results[batch.length] ?? [new Error('no reply to WAIT'), 0];
      if (error !== null) replicated = { kind: 'retry', reason: this.#reason(error) };
      else if (Number(count) < waitReplicas)
        replicated = {
          kind: 'retry',
          reason: `redis at ${this.#where}: WAIT: ${Number(count)} of ${waitReplicas} replicas acknowledged within ${waitTimeoutMs} ms`,
        };
    }
    return batch.map((_, k) => {
      const [error] = results[k] ?? [new Error('no reply to XADD')];
      return error !== null ? { kind: 'retry', reason: this.#reason(error) } : replicated;
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    // commands in flight fail ("Connection is closed"): their sends resolve as retry
    this.#redis.disconnect();
    return Promise.resolve();
  }

  /** Null when a send may go; else why not (the send's `retry` reason). */
  async #ready(): Promise<string | null> {
    const redis = this.#redis;
    if (this.#closed) return `redis at ${this.#where}: closed`;
    if (redis.status === 'wait' || redis.status === 'end') {
      try {
        await redis.connect(); // resolves once ready; rejects with the connection's error
      } catch (error) {
        return this.#reason(error);
      }
    }
    if (redis.status !== 'ready')
      return `redis at ${this.#where}: not connected (${redis.status})${this.#lastError !== null ? `: ${this.#lastError}` : ''}`;
    if (!this.#options.requireFsyncAlways) return null;
    const connection = redis.stream;
    if (connection === this.#checkedOn && Date.now() - this.#checkedAt < recheckMs) return null;
    const wrong = await this.#checkFsync();
    if (wrong === null) {
      this.#checkedOn = connection;
      this.#checkedAt = Date.now();
    } else this.#checkedOn = null;
    return wrong;
  }

  /** Null if the server runs appendonly yes with appendfsync always; else what to change. */
  async #checkFsync(): Promise<string | null> {
    const fix = 'set appendonly yes and appendfsync always, or requireFsyncAlways: false';
    let settings: Map<string, string>;
    try {
      // one pattern for both settings: CONFIG GET takes several names only from Redis 7
      settings = configMap(await this.#redis.config('GET', 'append*'));
    } catch (error) {
      // an error reply (NOPERM, or CONFIG renamed away) is a refusal; anything else is the
      // connection's, said as such
      if ((error as Error | null)?.name !== 'ReplyError') return this.#reason(error);
      return `redis at ${this.#where} refused CONFIG GET (${reasonOf(error)}): cannot check that an acknowledged XADD is on disk; allow the user +config|get, or requireFsyncAlways: false`;
    }
    const appendonly = settings.get('appendonly');
    const appendfsync = settings.get('appendfsync');
    if (appendonly !== 'yes')
      return `redis at ${this.#where} runs appendonly ${appendonly ?? '(unknown)'}: an acknowledged XADD is not on disk; ${fix}`;
    if (appendfsync !== 'always')
      return `redis at ${this.#where} runs appendfsync ${appendfsync ?? '(unknown)'}: an acknowledged XADD could be lost; set appendfsync always, or requireFsyncAlways: false`;
    return null;
  }

  #reason(error: unknown): string {
    let text = reasonOf(error);
    // the client's own messages for a connection that dropped under a send (flushed with
    // maxRetriesPerRequest 0) or was down before it say nothing of why: the socket's error does
    if (/max retries per request/i.test(text)) text = 'the connection dropped before the replies';
    else if (/enableOfflineQueue/i.test(text)) text = 'not connected';
    else if (!/Connection is closed/i.test(text)) return `redis at ${this.#where}: ${text}`;
    const why = this.#lastError !== null ? ` (${this.#lastError})` : '';
    return `redis at ${this.#where}: ${text}${why}`;
  }
}

/** CONFIG GET's reply as a map: a flat [name, value, ...] array (RESP2) or an object (RESP3). */
function configMap(reply: unknown): Map<string, string> {
  const map = new Map<string, string>();
  if (Array.isArray(reply)) {
    for (let k = 0; k + 1 < reply.length; k += 2) map.set(String(reply[k]), String(reply[k + 1]));
  } else if (reply !== null && typeof reply === 'object') {
    for (const [name, value] of Object.entries(reply)) map.set(name, String(value));
  }
  return map;
}

/** The URL without its password, for logs, reasons and the status page. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}
