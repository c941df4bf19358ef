/**
 * The webhook transport on its own (src/sinks/webhook.ts) against a loopback server that writes
 * raw HTTP/1.1 answers: a status line without a reason phrase, an unknown status, a 304 without
 * a body; and what it does with no events, after close(), and with a header value fetch refuses.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SinkEvent } from '../../src/sinks/sink.js';
import { WebhookTransport, type WebhookOptions } from '../../src/sinks/webhook.js';

/** The raw answer to the next request; each request gets the next one. */
const answers: string[] = [];
let requests = 0;
const sockets = new Set<Socket>();
let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      // each request: headers, then a body of content-length bytes
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        pending = pending.slice(end + 4 + length);
        requests++;
        socket.write(answers.shift() ?? 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function transport(options: Partial<WebhookOptions> = {}): WebhookTransport {
  return new WebhookTransport({
    url,
    secret: null,
    timeoutMs: 5_000,
    headers: {},
    batchMax: 8,
    ...options,
  });
}

function event(seq: number): SinkEvent {
  return {
    node: '00000000000000aa',
    seq,
    time: 1_700_000_000_000,
    level: 6,
    severity: 'info',
    source: 'app',
    type: 'app.event',
    details: new Uint8Array(),
    replayed: false,
    attempt: 1,
    origin: [],
  };
}

describe('the webhook transport', () => {
  test('an empty batch: no outcomes, no request', async () => {
    const before = requests;
    expect(await transport().send([])).toEqual([]);
    expect(requests).toBe(before);
  });

  test('a send after close(): a retry saying so, no request', async () => {
    const hook = transport();
    await hook.close();
    const before = requests;
    expect(await hook.send([event(1), event(2)])).toEqual([
      { kind: 'retry', reason: 'webhook: closed' },
      { kind: 'retry', reason: 'webhook: closed' },
    ]);
    expect(requests).toBe(before);
  });

  test('a status line without a reason phrase: the reason names the status as Node knows it', async () => {
    answers.push('HTTP/1.1 503 \r\ncontent-length: 0\r\n\r\n');
    expect(await transport().send([event(1)])).toEqual([
      { kind: 'retry', reason: 'HTTP 503 Service Unavailable' },
    ]);
  });

  test('a status nobody names, without a reason phrase: the reason is the number', async () => {
    answers.push('HTTP/1.1 599 \r\ncontent-length: 0\r\n\r\n');
    expect(await transport().send([event(1)])).toEqual([{ kind: 'retry', reason: 'HTTP 599' }]);
  });

  test('a 304 (no body): refused with its status, the quote empty', async () => {
    answers.push('HTTP/1.1 304 Not Modified\r\n\r\n');
    expect(await transport().send([event(1), event(2)])).toEqual([
      { kind: 'refused', code: 304, reason: 'HTTP 304 Not Modified: ' },
      { kind: 'refused', code: 304, reason: 'HTTP 304 Not Modified: ' },
    ]);
  });

  test('a configured header value fetch refuses: a retry with its error, no request', async () => {
    const before = requests;
    const [outcome] = await transport({ headers: { 'x-token': 'a\nb' } }).send([event(1)]);
    expect(outcome?.kind).toBe('retry');
    expect(outcome?.kind === 'retry' && outcome.reason).toMatch(/invalid header value/i);
    expect(requests).toBe(before);
  });
});
