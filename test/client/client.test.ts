/**
 * src/client against a scripted daemon (./scripted-daemon.ts): addresses, the handshake's
 * refusal, refusals of claims, emits and subscriptions, garbage on the wire, reconnects that
 * claim and subscribe again, durable confirmations, close(), and frames it has no use for.
 */
import { describe, expect, test } from 'vitest';
import { Client, ClientError, parseAddress } from '../../src/client/client.js';
import { FrameType, confirmFlagDurable, type Frame } from '../../src/wire/frames.js';
import { refusing, scriptedPeers } from './scripted-daemon.js';

const { daemon, client, cleanups } = scriptedPeers();

/** A rejection's ClientError code. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ClientError) return error.code;
    throw error;
  }
  return 'resolved';
}

describe('parseAddress', () => {
  test('unix:PATH or a bare path, tcp:// and tls:// with a name or a bracketed IPv6 host', () => {
    expect(parseAddress('unix:/run/n.sock')).toEqual({ path: '/run/n.sock' });
    expect(parseAddress('./n.sock')).toEqual({ path: './n.sock' });
    expect(parseAddress('tcp://localhost:7411')).toEqual({
      host: 'localhost',
      port: 7411,
      tls: false,
    });
    expect(parseAddress('tls://[::1]:7411')).toEqual({ host: '::1', port: 7411, tls: true });
  });

  test('another scheme is BAD_ARGUMENT', () => {
    expect(() => parseAddress('http://localhost:7411')).toThrow(ClientError);
    expect(() => parseAddress('http://localhost:7411')).toThrow(
      'not an address: http://localhost:7411',
    );
  });
});

describe('the connection', () => {
  test('over TCP: emit is acknowledged with the seq the daemon gave', async () => {
    const d = await daemon(true);
    const c = await client(d);
    expect(await c.producer('raid').emit('disk.failed', 'err', 'slot 4')).toBe(100);
    expect(c.node).toBe('0123456789abcdef');
    expect(c.detailsBytesMax).toBe(1024);
  });

  test('a BAD_VERSION goodbye rejects the connection and is not retried', async () => {
    const d = await daemon();
    d.script = (frame, connection) => {
      if (frame.type !== FrameType.hello) return false;
      connection.send({ type: FrameType.goodbye, code: 'BAD_VERSION', message: 'too new' });
      return true;
    };
    const c = new Client(d.address, { reconnectMs: { first: 10, max: 10 } });
    cleanups.push(() => c.close());
    expect(await codeOf(c.connected())).toBe('BAD_VERSION');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(d.connections).toHaveLength(1);
    expect(c.reconnects).toBe(0);
  });

  test("the daemon's PING is answered with its nonce", async () => {
    const d = await daemon();
    await client(d);
    d.connections[0]?.send({ type: FrameType.ping, nonce: 42 });
    await d.until(() => d.sent(FrameType.pong).length > 0, 'a pong');
    expect(d.sent(FrameType.pong)[0]).toMatchObject({ nonce: 42 });
  });

  test('bytes that are no frame drop the connection; the client reconnects and claims again', async () => {
    const d = await daemon();
    const c = await client(d);
    const producer = c.producer('raid');
    await producer.emit('disk.failed', 'err');
    d.connections[0]?.socket.write(Buffer.alloc(64, 0xff));
    await d.until(
      () => d.connections.length === 2 && d.sent(FrameType.claim).length === 2,
      'reclaim',
    );
    const claims = d.sent(FrameType.claim) as Extract<Frame, { type: typeof FrameType.claim }>[];
    expect(claims[1]).toMatchObject({ producer: 'raid', resume: 1 });
    expect(c.reconnects).toBe(1);
    expect(await producer.emit('disk.failed', 'err')).toBeGreaterThan(0);
  });
});

describe('refusals', () => {
  test('a refused claim rejects the emits waiting for it with its code', async () => {
    const d = await daemon();
    d.script = refusing(FrameType.claim, 'PRODUCER_BUSY');
    const c = await client(d);
    const producer = c.producer('raid');
    const first = producer.emit('disk.failed', 'err');
    const second = producer.emit('disk.failed', 'err');
    expect(await codeOf(first)).toBe('PRODUCER_BUSY');
    expect(await codeOf(second)).toBe('PRODUCER_BUSY');
  });

  test('a refused emit is rejected with its code', async () => {
    const d = await daemon();
    d.script = refusing(FrameType.emit, 'QUEUE_FULL');
    const c = await client(d);
    expect(await codeOf(c.producer('raid').emit('disk.failed', 'err'))).toBe('QUEUE_FULL');
  });

  test('RECIPIENT_BUSY is tried again until the name is free; another refusal is final', async () => {
    const d = await daemon();
    let busy = 2;
    d.script = (frame, connection) => {
      if (frame.type !== FrameType.subscribe) return false;
      if (frame.recipient === 'gone') {
        connection.send({
          type: FrameType.refused,
          requestId: frame.requestId,
          code: 'BAD_NAME',
          message: 'no',
        });
        return true;
      }
      if (busy-- <= 0) return false;
      connection.send({
        type: FrameType.refused,
        requestId: frame.requestId,
        code: 'RECIPIENT_BUSY',
        message: 'held by a connection not yet gone',
      });
      return true;
    };
    const c = await client(d);
    await c.subscribe('pager', {}, () => undefined);
    expect(d.sent(FrameType.subscribe)).toHaveLength(3);
    expect(await codeOf(c.subscribe('gone', {}, () => undefined))).toBe('BAD_NAME');
  });
});

describe('subscriptions', () => {
  test('the subscription frame carries the severity level and a window kept in 1..65535', async () => {
    const d = await daemon();
    const c = await client(d);
    await c.subscribe('pager', { severityMax: 'err', window: 0, prefixes: ['disk.'] }, () => {});
    await c.subscribe('audit', { window: 1_000_000 }, () => {});
    const [pager, audit] = d.sent(FrameType.subscribe) as Extract<
      Frame,
      { type: typeof FrameType.subscribe }
    >[];
    expect(pager).toMatchObject({ severityMax: 3, window: 1, prefixes: ['disk.'] });
    expect(audit).toMatchObject({ severityMax: 7, window: 0xffff, prefixes: [] });
  });

  test('a record that fails its checks is not delivered: the connection is dropped', async () => {
    const d = await daemon();
    const c = await client(d);
    const delivered: number[] = [];
    await c.subscribe('pager', {}, (event) => delivered.push(event.seq));
    d.connections[0]?.send({
      type: FrameType.deliver,
      handle: 0,
      attempt: 1,
      record: new Uint8Array(64).fill(0x5a),
    });
    await d.until(() => d.connections.length === 2, 'a reconnect');
    // subscribed again on the new connection, and nothing was delivered
    await d.until(() => d.sent(FrameType.subscribe).length === 2, 'the subscription again');
    expect(delivered).toEqual([]);
  });

  test('after a reconnect a RECIPIENT_BUSY resubscription is tried again', async () => {
    const d = await daemon();
    const c = await client(d);
    await c.subscribe('pager', {}, () => {});
    d.script = refusing(FrameType.subscribe, 'RECIPIENT_BUSY', 1);
    d.connections[0]?.socket.destroy();
    await d.until(() => d.sent(FrameType.subscribe).length === 3, 'a second resubscription');
    expect(d.connections).toHaveLength(2);
  });
});

describe('durable confirmations', () => {
  type Confirm = Extract<Frame, { type: typeof FrameType.confirm }>;

  test('one CONFIRM for two waiters; CONFIRMED resolves both', async () => {
    const d = await daemon();
    const c = await client(d);
    const pager = await c.subscribe('pager', {}, () => {});
    const first = pager.confirmDurable(7);
    const second = pager.confirmDurable(7);
    await d.until(() => d.sent(FrameType.confirm).length === 1, 'the confirm');
    expect(d.sent(FrameType.confirm)[0]).toMatchObject({ seq: 7, flags: confirmFlagDurable });
    d.connections[0]?.send({ type: FrameType.confirmed, handle: 0, seq: 7 });
    await expect(Promise.all([first, second])).resolves.toEqual([undefined, undefined]);
    expect(d.sent(FrameType.confirm)).toHaveLength(1);
  });

  test('a durable confirmation unanswered when the connection drops is sent again', async () => {
    const d = await daemon();
    const c = await client(d);
    const pager = await c.subscribe('pager', {}, () => {});
    const durable = pager.confirmDurable(9);
    await d.until(() => d.sent(FrameType.confirm).length === 1, 'the confirm');
    d.connections[0]?.socket.destroy();
    await d.until(() => d.sent(FrameType.confirm).length === 2, 'the confirm again');
    const again = d.connections[1]?.frames.find((f) => f.type === FrameType.confirm) as Confirm;
    expect(again).toMatchObject({ seq: 9, flags: confirmFlagDurable });
    d.connections[1]?.send({ type: FrameType.confirmed, handle: 0, seq: 9 });
    await expect(durable).resolves.toBeUndefined();
  });

  test('close() rejects what waits: emits and durable confirmations, and any made later', async () => {
    const d = await daemon();
    d.script = (frame) => frame.type === FrameType.emit; // never acknowledged
    const c = await client(d);
    const pager = await c.subscribe('pager', {}, () => {});
    const emit = c.producer('raid').emit('disk.failed', 'err');
    const durable = pager.confirmDurable(3);
    await d.until(() => d.sent(FrameType.emit).length === 1, 'the emit');
    c.close();
    expect(await codeOf(emit)).toBe('CLOSED');
    expect(await codeOf(durable)).toBe('CLOSED');
    expect(await codeOf(pager.confirmDurable(4))).toBe('CLOSED');
  });
});

describe('frames the client has no use for', () => {
  test('a frame type it does not expect, a delivery or CONFIRMED for no handle of its own', async () => {
    const d = await daemon();
    const c = await client(d);
    const delivered: number[] = [];
    const pager = await c.subscribe('pager', {}, (event) => delivered.push(event.seq));
    const durable = pager.confirmDurable(5);
    const connection = d.connections[0];
    connection?.send({ type: FrameType.claim, requestId: 1, producer: 'odd', resume: 0 });
    connection?.send({
      type: FrameType.deliver,
      handle: 7,
      attempt: 1,
      record: new Uint8Array(64),
    });
    connection?.send({ type: FrameType.confirmed, handle: 7, seq: 5 });
    connection?.send({ type: FrameType.confirmed, handle: 0, seq: 6 });
    // still connected, and still waiting for its own CONFIRMED
    expect(await c.producer('raid').emit('disk.failed', 'err')).toBeGreaterThan(0);
    expect(d.connections).toHaveLength(1);
    expect(delivered).toEqual([]);
    connection?.send({ type: FrameType.confirmed, handle: 0, seq: 5 });
    await expect(durable).resolves.toBeUndefined();
  });
});
