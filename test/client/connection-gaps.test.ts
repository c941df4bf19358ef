/**
 * src/client between two connections and against answers a daemon should not give: a CLAIM
 * answered with an ACK is no claim (the emits wait for the next connection's claim), a
 * producer asked for while the connection is down is claimed once it is back, close() while
 * the client waits to reconnect or to retry a busy name ends the attempts, a resubscription
 * refused with a code other than RECIPIENT_BUSY is not tried again, a client given no backoff
 * reconnects with its default one, and close() from inside a handler rejects the emit in flight
 * with CLOSED even though its ACK was read with the delivery (and nothing read after it is
 * handled), an EMIT answered with another frame is sent again, and a subscribe() called while
the connection is down, or cut off before its answer, is subscribed on the next connection. Against the scripted daemon
 * (./scripted-daemon.ts).
 */
import { describe, expect, test } from 'vitest';
import { encodeRecord } from '../../src/events/record.js';
import { FrameType, encodeFrame, type Frame } from '../../src/wire/frames.js';
import { refusing, scriptedPeers, type ScriptedDaemon } from './scripted-daemon.js';

const { daemon, client } = scriptedPeers();

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

type Claim = Extract<Frame, { type: typeof FrameType.claim }>;

/** The producers a connection claimed, in order. */
function claimed(d: ScriptedDaemon, connection: number): string[] {
  return (d.connections[connection]?.frames ?? [])
    .filter((frame): frame is Claim => frame.type === FrameType.claim)
    .map((frame) => frame.producer);
}

describe('claims', () => {
  test('a CLAIM answered with an ACK is no claim: the emit waits unsent until a reconnect claims again', async () => {
    const d = await daemon();
    d.script = (frame, connection) => {
      if (frame.type !== FrameType.claim) return false;
      connection.send({ type: FrameType.ack, requestId: frame.requestId, seq: 1 });
      return true;
    };
    const c = await client(d);
    let seq: number | null = null;
    const emit = c
      .producer('raid')
      .emit('disk.failed', 'err')
      .then((value) => (seq = value));
    await d.until(() => d.sent(FrameType.claim).length === 1, 'the claim');
    await pause(100);
    expect(d.sent(FrameType.emit)).toEqual([]);
    expect(seq).toBeNull();
    d.script = () => false; // the next connection's claim is answered as it should be
    d.connections[0]?.socket.destroy();
    await emit;
    expect(seq).toBe(100);
    expect(claimed(d, 1)).toEqual(['raid']);
    expect(d.connections[1]?.frames.filter((f) => f.type === FrameType.emit)).toHaveLength(1);
  });

  test('a producer asked for while the connection is down is claimed on the next one', async () => {
    const d = await daemon();
    const c = await client(d, { reconnectMs: { first: 300, max: 300 } });
    await c.producer('fan').emit('fan.slow', 'warning');
    d.connections[0]?.socket.destroy();
    await pause(50); // the client has seen the connection end; its reconnect is 250 ms away
    expect(c.reconnects).toBe(0);
    const seq = c.producer('raid').emit('disk.failed', 'err');
    await expect(seq).resolves.toBe(101);
    expect(claimed(d, 0)).toEqual(['fan']);
    expect(claimed(d, 1).sort()).toEqual(['fan', 'raid']);
    expect(c.reconnects).toBe(1);
  });
});

describe('reconnects', () => {
  test('close() while the client waits to reconnect: no further attempt', async () => {
    const d = await daemon();
    const c = await client(d, { reconnectMs: { first: 100, max: 100 } });
    d.connections[0]?.socket.destroy();
    await pause(30);
    c.close();
    await pause(250);
    expect(d.connections).toHaveLength(1);
    expect(c.reconnects).toBe(0);
  });

  test('without reconnect options the client reconnects with its default backoff', async () => {
    const d = await daemon();
    const c = await client(d, {});
    const producer = c.producer('raid');
    await producer.emit('disk.failed', 'err');
    d.connections[0]?.socket.destroy();
    await d.until(() => d.connections.length === 2, 'a reconnect', 2_000);
    expect(await producer.emit('disk.failed', 'err')).toBe(101);
    expect(c.reconnects).toBe(1);
  });
});

describe('resubscriptions', () => {
  test('refused with a code other than RECIPIENT_BUSY: not tried again, the connection kept', async () => {
    const d = await daemon();
    const c = await client(d);
    await c.subscribe('pager', {}, () => {});
    d.script = refusing(FrameType.subscribe, 'BAD_NAME');
    d.connections[0]?.socket.destroy();
    await d.until(() => d.sent(FrameType.subscribe).length === 2, 'the resubscription');
    await pause(300); // a RECIPIENT_BUSY would have been tried again after 100 ms
    expect(d.sent(FrameType.subscribe)).toHaveLength(2);
    expect(d.connections).toHaveLength(2);
    expect(await c.producer('raid').emit('disk.failed', 'err')).toBe(100);
  });

  test('close() while a busy resubscription waits to be tried again: it is not', async () => {
    const d = await daemon();
    const c = await client(d);
    await c.subscribe('pager', {}, () => {});
    d.script = refusing(FrameType.subscribe, 'RECIPIENT_BUSY');
    d.connections[0]?.socket.destroy();
    await d.until(() => d.sent(FrameType.subscribe).length === 2, 'the resubscription');
    c.close(); // within the 100 ms before the next try
    await pause(300);
    expect(d.sent(FrameType.subscribe)).toHaveLength(2);
    expect(d.connections).toHaveLength(2);
  });
});

describe('subscribe() across a gap in the connection', () => {
  type Subscribe = Extract<Frame, { type: typeof FrameType.subscribe }>;

  /** The recipients a connection asked for, in order. */
  function subscribed(d: ScriptedDaemon, connection: number): string[] {
    return (d.connections[connection]?.frames ?? [])
      .filter((frame): frame is Subscribe => frame.type === FrameType.subscribe)
      .map((frame) => frame.recipient);
  }

  test('called while the connection is down: subscribed on the next one, once', async () => {
    const d = await daemon();
    const c = await client(d, { reconnectMs: { first: 200, max: 200 } });
    await c.subscribe('pager', {}, () => {});
    d.connections[0]?.socket.destroy();
    await pause(50); // the client has seen the connection end; its reconnect is 150 ms away
    const late = c.subscribe('audit', {}, () => {});
    await expect(late).resolves.toHaveProperty('confirm');
    expect(c.reconnects).toBe(1);
    expect(subscribed(d, 0)).toEqual(['pager']);
    expect(subscribed(d, 1).sort()).toEqual(['audit', 'pager']);
  });

  test('the connection ends before SUBSCRIBED: asked again on the next one', async () => {
    const d = await daemon();
    let unanswered = true;
    d.script = (frame, connection) => {
      if (frame.type !== FrameType.subscribe || !unanswered) return false;
      unanswered = false;
      connection.socket.destroy(); // gone before the answer
      return true;
    };
    const c = await client(d);
    await expect(c.subscribe('pager', {}, () => {})).resolves.toHaveProperty('confirm');
    expect(subscribed(d, 0)).toEqual(['pager']);
    expect(subscribed(d, 1)).toEqual(['pager']);
  });

  test('SUBSCRIBE answered with another frame drops the connection; asked again, once', async () => {
    const d = await daemon();
    let broken = true;
    d.script = (frame, connection) => {
      if (frame.type !== FrameType.subscribe || !broken) return false;
      broken = false;
      connection.send({ type: FrameType.ack, requestId: frame.requestId, seq: 1 });
      return true;
    };
    const c = await client(d);
    await expect(c.subscribe('pager', {}, () => {})).resolves.toHaveProperty('confirm');
    expect(c.reconnects).toBe(1);
    expect(subscribed(d, 1)).toEqual(['pager']);
  });

  test('close() while subscribe() waits for the next connection rejects it CLOSED', async () => {
    const d = await daemon();
    const c = await client(d, { reconnectMs: { first: 200, max: 200 } });
    d.connections[0]?.socket.destroy();
    await pause(50);
    const late = c.subscribe('audit', {}, () => {});
    c.close();
    await expect(late).rejects.toMatchObject({ code: 'CLOSED' });
    expect(d.connections).toHaveLength(1);
  });

  test('close() while SUBSCRIBE awaits its answer rejects it CLOSED', async () => {
    const d = await daemon();
    d.script = (frame) => frame.type === FrameType.subscribe; // never answered
    const c = await client(d);
    const pending = c.subscribe('pager', {}, () => {});
    await d.until(() => d.sent(FrameType.subscribe).length === 1, 'the subscribe');
    c.close();
    await expect(pending).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('close() from inside a handler', () => {
  /** A record as the daemon delivers it: intact, for recipient 0. */
  function record(seq: number): Uint8Array {
    return encodeRecord(
      {
        position: seq,
        seq,
        time: 1_700_000_000_000,
        severity: 3,
        flags: 0,
        intendedMask: 1n,
        confirmedMask: 0n,
        originalSeq: 0,
        source: 'raid',
        type: 'disk.failed',
        details: new Uint8Array(0),
      },
      128,
    );
  }

  test('the emit in flight is rejected CLOSED though its ACK came in the same read', async () => {
    const d = await daemon();
    d.script = (frame) => frame.type === FrameType.emit; // answered below, by hand
    const c = await client(d);
    const seen: number[] = [];
    await c.subscribe('pager', {}, (event) => {
      seen.push(event.seq);
      c.close();
    });
    const emit = c.producer('raid').emit('disk.failed', 'err');
    await d.until(() => d.sent(FrameType.emit).length === 1, 'the emit');
    const sent = d.sent(FrameType.emit)[0] as Extract<Frame, { type: typeof FrameType.emit }>;
    // one write: the delivery whose handler closes, then the emit's ACK
    d.connections[0]?.socket.write(
      Buffer.concat([
        encodeFrame({ type: FrameType.deliver, handle: 0, attempt: 1, record: record(7) }),
        encodeFrame({ type: FrameType.ack, requestId: sent.requestId, seq: 100 }),
      ]),
    );
    await expect(emit).rejects.toMatchObject({ code: 'CLOSED' });
    expect(seen).toEqual([7]);
    await pause(100);
    expect(d.connections).toHaveLength(1); // closed: no reconnect
    expect(c.reconnects).toBe(0);
  });

  test('a handler that closes the client sees no delivery read after it in the same chunk', async () => {
    const d = await daemon();
    const c = await client(d);
    const seen: number[] = [];
    await c.subscribe('pager', {}, (event) => {
      seen.push(event.seq);
      c.close();
    });
    d.connections[0]?.socket.write(
      Buffer.concat(
        [7, 8].map((seq) =>
          encodeFrame({ type: FrameType.deliver, handle: 0, attempt: 1, record: record(seq) }),
        ),
      ),
    );
    await d.until(() => seen.length > 0, 'the first delivery');
    await pause(50);
    expect(seen).toEqual([7]);
  });

  test('an EMIT answered with another frame drops the connection; the emit goes again and is acknowledged', async () => {
    const d = await daemon();
    let broken = true;
    d.script = (frame, connection) => {
      if (frame.type !== FrameType.emit || !broken) return false;
      broken = false; // only the first connection's answer is wrong
      connection.send({
        type: FrameType.subscribed,
        requestId: frame.requestId,
        handle: 0,
        window: 1,
      });
      return true;
    };
    const c = await client(d);
    const seq = await c.producer('raid').emit('disk.failed', 'err');
    expect(seq).toBe(100);
    expect(c.reconnects).toBe(1);
    const emits = d.sent(FrameType.emit) as Extract<Frame, { type: typeof FrameType.emit }>[];
    expect(emits).toHaveLength(2);
    expect(emits[1]?.counter).toBe(emits[0]?.counter); // the same emit, recorded once
  });
});
