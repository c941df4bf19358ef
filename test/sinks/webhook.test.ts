/**
 * The webhook sink inside a daemon (src/sinks/webhook.ts), against a real HTTP server on
 * loopback that fails on purpose: a 500, then a request it never answers (the sink's timeout
 * cuts it), then 200s; an event it calls malformed gets a 400. Every event must reach the
 * server in a request it answered 2xx, exactly once there; the only repeats are of events in
 * the failed requests; the 400 is a dead letter (reason `refused`, code 400) and is never sent
 * again; every request carries a signature the server verifies with the shared secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { SinkEvent } from '../../src/sinks/sink.js';
import { WebhookTransport } from '../../src/sinks/webhook.js';
import { startDaemon, type TestDaemon } from '../daemon/harness.js';

interface Received {
  status: number;
  /** node:seq of each event of the body, in order. */
  ids: string[];
  types: string[];
  /** The body was a JSON array (else a single object). */
  array: boolean;
  headerIds: string | undefined;
  signature: string | undefined;
  signed: boolean;
  extra: string | undefined;
  authorization: string | undefined;
}

/** What the server answers to the n-th request (0-based), given its events' types. */
type Script = (n: number, types: string[]) => number | 'hang';

class Receiver {
  readonly requests: Received[] = [];
  readonly #hung: ServerResponse[] = [];
  readonly #server: Server;
  #script: Script = () => 200;
  #secret: Buffer | null = null;

  constructor() {
    this.#server = createServer((request, response) => this.#handle(request, response));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/events`;
  }

  reset(script: Script, secret: Buffer | null): void {
    this.requests.length = 0;
    this.#script = script;
    this.#secret = secret;
  }

  /** Every node:seq received in a request answered 2xx, with how often. */
  accepted(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const request of this.requests)
      if (request.status >= 200 && request.status < 300)
        for (const id of request.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    return counts;
  }

  async close(): Promise<void> {
    for (const response of this.#hung) response.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const parsed = JSON.parse(body) as unknown;
      const events = (Array.isArray(parsed) ? parsed : [parsed]) as {
        node: string;
        seq: number;
        type: string;
      }[];
      const timestamp = header(request, 'x-nvrelay-timestamp');
      const signature = header(request, 'x-nvrelay-signature');
      const answer = this.#script(
        this.requests.length,
        events.map((event) => event.type),
      );
      this.requests.push({
        status: answer === 'hang' ? 0 : answer,
        ids: events.map((event) => `${event.node}:${event.seq}`),
        types: events.map((event) => event.type),
        array: Array.isArray(parsed),
        headerIds: header(request, 'x-nvrelay-events'),
        signature,
        signed: verify(this.#secret, timestamp, body, signature),
        extra: header(request, 'x-extra'),
        authorization: header(request, 'authorization'),
      });
      if (answer === 'hang') {
        this.#hung.push(response);
        return;
      }
      response.writeHead(answer, { 'content-type': 'text/plain' });
      response.end(answer === 400 ? `malformed event ${'x'.repeat(300)}` : 'ok');
    });
  }
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** The receiver's side of the signature: HMAC-SHA256 over "<timestamp>.<body>". */
function verify(
  secret: Buffer | null,
  timestamp: string | undefined,
  body: string,
  signature: string | undefined,
): boolean {
  if (secret === null || timestamp === undefined || signature === undefined) return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() - Number(timestamp)) > 60_000) return false;
  const expected = Buffer.from(
    `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`,
  );
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function until(condition: () => boolean, ms = 8_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const secretVariable = 'NVRELAY_TEST_WEBHOOK_SECRET';
const receiver = new Receiver();
let url = '';
let running: TestDaemon | null = null;

beforeAll(async () => {
  url = await receiver.listen();
});
afterEach(async () => {
  await running?.remove();
  running = null;
  delete process.env[secretVariable];
});
afterAll(async () => {
  await receiver.close();
});

async function daemonWithSink(sink: Record<string, unknown>): Promise<TestDaemon> {
  running = await startDaemon({
    config: {
      sinks: {
        hook: {
          kind: 'webhook',
          url,
          retry: { timeoutMs: 100, timeoutMaxMs: 500, attemptsMax: 1000 },
          ...sink,
        },
      },
    },
  });
  return running;
}

describe('the webhook sink', () => {
  test('500, a hung request, then 200s: every event accepted once; a 400 is dead-lettered', async () => {
    const secret = randomBytes(32).toString('hex');
    process.env[secretVariable] = secret;
    receiver.reset((n, types) => {
      if (types.includes('bad.request')) return 400;
      if (n === 0) return 500;
      if (n === 1) return 'hang';
      return 200;
    }, Buffer.from(secret));
    const { daemon } = await daemonWithSink({
      secretEnv: secretVariable,
      timeoutMs: 300,
      batchMax: 8,
      headers: { 'X-Extra': 'configured' },
    });
    const sink = daemon.sinks[0]!;
    const states: string[] = [];
    const errors = new Set<string>();
    const watch = setInterval(() => {
      if (states.at(-1) !== sink.state) states.push(sink.state);
      if (sink.lastError !== null) errors.add(sink.lastError);
    }, 2);
    try {
      const producer = daemon.node.producer('disk');
      const seqs: number[] = [];
      for (let k = 0; k < 60; k++) {
        seqs.push(producer.emitJson('disk.failed', 'err', { k }));
        if (k % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await until(() => sink.recipient.confirmed === seqs.length, 10_000, 'every event confirmed');

      // the marked event, alone in its batch: refused for good with the status
      const bad = producer.emitJson('bad.request', 'err', { broken: true });
      await until(() => sink.counters.refused === 1, 5_000, 'the refusal');
      const letters = daemon.node.deadLetterList();
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        seq: bad,
        reason: 'refused',
        detail: 400,
        recipient: 'hook',
      });
      // several retry timeouts later it still was sent once
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(receiver.requests.filter((r) => r.types.includes('bad.request'))).toHaveLength(1);
      expect(sink.counters.refused).toBe(1);

      const nodeId = daemon.device.header.deviceId.toString(16).padStart(16, '0');
      const accepted = receiver.accepted();
      const ids = seqs.map((seq) => `${nodeId}:${seq}`);
      // every event in a 2xx answer exactly once, nothing else accepted
      expect([...accepted.keys()].sort()).toEqual([...ids].sort());
      expect([...accepted.values()].every((count) => count === 1)).toBe(true);
      // repeats: only events of the failed requests (the 500 and the hung one)
      const failed = new Set(
        receiver.requests.filter((r) => r.status !== 200 && r.status !== 400).flatMap((r) => r.ids),
      );
      const seen = new Map<string, number>();
      for (const request of receiver.requests)
        for (const id of request.ids) seen.set(id, (seen.get(id) ?? 0) + 1);
      const repeated = [...seen].filter(([, count]) => count > 1).map(([id]) => id);
      console.log(
        `webhook: ${receiver.requests.length} requests, ${failed.size} events in failed requests, ` +
          `${repeated.length} sent more than once: ${repeated.join(' ')}`,
      );
      expect(failed.size).toBeGreaterThan(0);
      expect([...repeated].sort()).toEqual([...failed].sort());
      for (const id of repeated) expect(seen.get(id)).toBeLessThanOrEqual(3);

      // the state went down (with both failures as reasons) and came back up
      const down = states.indexOf('down');
      expect(down).toBeGreaterThanOrEqual(0);
      expect(states.indexOf('up', down)).toBeGreaterThan(down);
      expect(sink.state).toBe('up');
      expect([...errors].some((e) => e === 'HTTP 500 Internal Server Error')).toBe(true);
      expect([...errors].some((e) => e === 'timed out after 300 ms')).toBe(true);

      // every request: signed (verified with the secret), its events in the header, an array body
      for (const request of receiver.requests) {
        expect(request.signed).toBe(true);
        expect(request.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
        expect(request.headerIds).toBe(request.ids.join(','));
        expect(request.array).toBe(true);
        expect(request.extra).toBe('configured');
      }
      expect(sink.counters.batches).toBeLessThan(seqs.length); // batched
    } finally {
      clearInterval(watch);
    }
  });

  test('batchMax 1 sends single objects; a redirect is refused, not followed', async () => {
    receiver.reset((_, types) => (types.includes('moved') ? 302 : 200), null);
    const { daemon } = await daemonWithSink({ batchMax: 1 });
    const producer = daemon.node.producer('app');
    const seqs = [0, 1, 2].map((k) => producer.emitJson('app.event', 'info', { k }));
    const sink = daemon.sinks[0]!;
    await until(() => sink.recipient.confirmed === 3, 5_000, 'three events');
    expect(receiver.requests.map((r) => r.array)).toEqual([false, false, false]);
    expect(receiver.requests.map((r) => Number(r.ids[0]!.split(':')[1]))).toEqual(seqs);
    expect(receiver.requests.every((r) => r.signature === undefined)).toBe(true);
    const moved = producer.emitJson('moved', 'info', {});
    await until(() => sink.counters.refused === 1, 5_000, 'the refusal');
    expect(daemon.node.deadLetterList()).toMatchObject([
      { seq: moved, reason: 'refused', detail: 302 },
    ]);
  });

  test('a closed port: the event waits, the sink is down with ECONNREFUSED', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    running = await startDaemon({
      config: {
        sinks: {
          hook: {
            kind: 'webhook',
            url: `http://127.0.0.1:${port}/`,
            retry: { timeoutMs: 50, timeoutMaxMs: 100, attemptsMax: 1000 },
          },
        },
      },
    });
    const { daemon } = running;
    daemon.node.producer('app').emitJson('app.event', 'info', {});
    const sink = daemon.sinks[0]!;
    await until(() => sink.state === 'down' && sink.recipient.redelivered >= 2, 5_000, 'down');
    expect(sink.lastError).toMatch(/^ECONNREFUSED/);
    expect(sink.recipient.confirmed).toBe(0);
    expect(daemon.node.deadLetterList()).toHaveLength(0);
  });

  test('the transport: what each answer becomes, and close() cuts a hung request short', async () => {
    const answers: (number | 'hang')[] = [400, 429, 503, 'hang'];
    receiver.reset((n) => answers[n] ?? 200, null);
    const transport = new WebhookTransport({
      url: url.replace('http://', 'http://user:p%40ss@'),
      secret: null,
      timeoutMs: 5_000,
      headers: {},
      batchMax: 4,
    });
    const event = (seq: number): SinkEvent => ({
      node: '00000000000000aa',
      seq,
      time: Date.now(),
      level: 3,
      severity: 'err',
      source: 'app',
      type: 'app.event',
      details: new Uint8Array(),
      replayed: false,
      attempt: 1,
      origin: [],
    });
    const bad = `HTTP 400 Bad Request: ${`malformed event ${'x'.repeat(300)}`.slice(0, 200)}`;
    expect(await transport.send([event(1), event(2)])).toEqual([
      { kind: 'refused', code: 400, reason: bad },
      { kind: 'refused', code: 400, reason: bad },
    ]);
    expect(await transport.send([event(3)])).toEqual([
      { kind: 'retry', reason: 'HTTP 429 Too Many Requests' },
    ]);
    expect(await transport.send([event(4)])).toEqual([
      { kind: 'retry', reason: 'HTTP 503 Service Unavailable' },
    ]);
    const hung = transport.send([event(5)]);
    await until(() => receiver.requests.length === 4, 5_000, 'the hung request');
    const started = Date.now();
    await transport.close();
    expect(await hung).toEqual([{ kind: 'retry', reason: 'cut short: the sink is closing' }]);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(transport.target).toBe(url); // no credentials
    for (const request of receiver.requests)
      expect(request.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
  });
});
