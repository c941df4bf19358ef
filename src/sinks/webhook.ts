/**
 * The `webhook` sink: each batch as one HTTP POST of JSON (./event-json.ts), confirmed when the
 * server answers 2xx: a server that answers 2xx has taken the events, and holding them durably
 * from then on is its part of the contract (docs/CONFIG.md, "sinks").
 *
 * The body is the JSON array of the batch's events, or the single event object when `batchMax`
 * is 1 (for receivers that take one event per request). Headers beside the configured ones:
 * - `X-Nvrelay-Timestamp`: the send time, ms since the epoch;
 * - `X-Nvrelay-Signature: sha256=<hex>` when a secret is configured: HMAC-SHA256 over
 *   `<timestamp>.<body>`. Binding the time into the signature lets a receiver refuse a replayed
 *   request (one whose timestamp is too old) without keeping every signature it has seen;
 * - `X-Nvrelay-Events`: `node:seq` of each event of the body, comma-separated, so a receiver
 *   can drop an event it already holds without parsing the body (an event is sent again after a
 *   failed or timed-out request, which the server may have half-handled). It grows by about 25
 *   bytes per event: a server's header limit (8 to 16 KiB is common) caps a useful batchMax at a
 *   few hundred.
 *
 * Credentials in the URL (`https://user:pass@host/...`) are sent as a Basic authorization
 * (fetch takes no URL with credentials) and left out of `target`, as is the query.
 *
 * What an answer means:
 * - 2xx: held.
 * - 408, 429, 5xx, a timeout, a connection error: retry. 408 and 429 are the server asking us
 *   to wait; 5xx and the network say nothing about the request itself. The recipient's retry
 *   policy times the next attempt with backoff (Retry-After is not followed: the backoff is the
 *   operator's, in the config).
 * - any other 4xx, and 3xx: refused, dead-lettered with the status as the code. A 4xx says the
 *   request itself is wrong (malformed, unauthorised, too large, unknown path): sending the same
 *   bytes again cannot help, and retrying would keep the sink down behind that one batch for
 *   good. Redirects are not followed (`redirect: 'manual'`): a POST redirected with 301..303
 *   becomes a GET and loses its body, and following one would send events (and the signature)
 *   to a URL the operator did not configure; the URL in the config is what needs fixing. A
 *   refusal takes the whole batch with it: the server answered for the request, not per event.
 *
 * `close()` aborts the requests in flight; they resolve as `retry` (the server may or may not
 * have taken them; the next attempt sends them again, and X-Nvrelay-Events lets it dedupe).
 */
import { createHmac } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { eventJson } from './event-json.js';
import {
  held,
  outcomes,
  reasonOf,
  type SinkEvent,
  type SinkOutcome,
  type SinkTransport,
} from './sink.js';

export interface WebhookOptions {
  url: string;
  /** HMAC-SHA256 key for the signature header; null: unsigned. */
  secret: Buffer | null;
  timeoutMs: number;
  headers: Record<string, string>;
  batchMax: number;
}

/** A refused request's reason quotes this much of the answer's body. */
const bodyQuoteChars = 200;

/** Why a request was aborted: the abort's reason is one of these, so the outcome can say which. */
class Cut extends Error {
  constructor(readonly why: 'timeout' | 'closed') {
    super(why);
  }
}

export class WebhookTransport implements SinkTransport {
  readonly target: string;
  readonly #options: WebhookOptions;
  /** The URL fetch is given: credentials in the configured one become a Basic authorization. */
  readonly #url: string;
  readonly #authorization: string | null = null;
  readonly #inFlight = new Set<AbortController>();
  #closed = false;

  constructor(options: WebhookOptions) {
    this.#options = options;
    this.target = redact(options.url);
    this.#url = options.url;
    try {
      // fetch refuses a URL with credentials; a Basic authorization header carries them
      const parsed = new URL(options.url);
      if (parsed.username !== '' || parsed.password !== '') {
        const user = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
        this.#authorization = `Basic ${Buffer.from(user).toString('base64')}`;
        parsed.username = '';
        parsed.password = '';
        this.#url = parsed.toString();
      }
    } catch {
      // an unparsable URL: each send's fetch says why (the reason of its retry)
    }
  }

  async send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]> {
    if (batch.length === 0) return [];
    if (this.#options.batchMax > 1)
      return outcomes(batch, await this.#post(batch, JSON.stringify(batch.map(eventJson))));
    // one object per request; a longer batch (not sent by the recipient with batchMax 1) is
    // sent one request after another rather than as an array the receiver does not expect
    const results: SinkOutcome[] = [];
    for (const event of batch)
      results.push(await this.#post([event], JSON.stringify(eventJson(event))));
    return results;
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const controller of this.#inFlight) controller.abort(new Cut('closed'));
    this.#inFlight.clear();
    return Promise.resolve();
  }

  async #post(events: readonly SinkEvent[], body: string): Promise<SinkOutcome> {
    if (this.#closed) return { kind: 'retry', reason: 'webhook: closed' };
    const { secret, timeoutMs } = this.#options;
    const controller = new AbortController();
    this.#inFlight.add(controller);
    // one timer for the whole exchange, the answer's body included
    const timer = setTimeout(() => controller.abort(new Cut('timeout')), timeoutMs);
    try {
      const timestamp = String(Date.now());
      const headers = new Headers({ 'content-type': 'application/json' });
      if (this.#authorization !== null) headers.set('authorization', this.#authorization);
      for (const [name, value] of Object.entries(this.#options.headers)) headers.set(name, value);
      // set after the configured ones: a config cannot forge or drop them
      headers.set('x-nvrelay-timestamp', timestamp);
      headers.set(
        'x-nvrelay-events',
        events.map((event) => `${event.node}:${event.seq}`).join(','),
      );
      if (secret !== null)
        headers.set(
          'x-nvrelay-signature',
          `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`,
        );
      const response = await fetch(this.#url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: controller.signal,
      });
      const status = response.status;
      const statusLine =
        `HTTP ${status} ${response.statusText || STATUS_CODES[status] || ''}`.trim();
      if (status >= 200 && status < 300) {
        // the server has answered for the events; its body only has to be read off the
        // connection so it can be reused, and a failure to read it changes nothing
        await response.arrayBuffer().catch(() => {});
        return held;
      }
      const text = await quote(response);
      const permanent = status >= 300 && status < 500 && status !== 408 && status !== 429;
      if (!permanent) return { kind: 'retry', reason: statusLine };
      return { kind: 'refused', code: status, reason: `${statusLine}: ${text}` };
    } catch (error) {
      return { kind: 'retry', reason: this.#why(error) };
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
    }
  }

  #why(error: unknown): string {
    if (error instanceof Cut)
      return error.why === 'timeout'
        ? `timed out after ${this.#options.timeoutMs} ms`
        : 'cut short: the sink is closing';
    // fetch's own errors say only "fetch failed"; the cause says what happened (ECONNREFUSED...)
    const cause = (error as { cause?: unknown } | null)?.cause;
    return reasonOf(cause instanceof Error ? cause : error);
  }
}

/** The start of an answer's body (what a server says is wrong), read no further than needed. */
async function quote(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < bodyQuoteChars) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // a body cut short still quotes what came
  } finally {
    reader.cancel().catch(() => {});
  }
  return text.slice(0, bodyQuoteChars);
}

/** The URL without credentials or query (where tokens usually ride), for logs and status. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//').replace(/\?.*$/, '');
  }
}
