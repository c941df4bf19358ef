/**
 * src/client with what a daemon's WELCOME leaves open: a detailsBytesMax of 0 (no limit said)
 * bounds emits by the frame's u16 length only; and a producer asked for twice is one producer,
 * claimed once.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { ClientError, connect, type Client } from '../../src/client/client.js';
import { FrameType, frameBytesMaxDefault, wireVersion } from '../../src/wire/frames.js';
import { ScriptedDaemon } from './scripted-daemon.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(): Promise<{ d: ScriptedDaemon; c: Client }> {
  const d = await ScriptedDaemon.start();
  cleanups.push(() => d.close());
  d.script = (frame, connection) => {
    if (frame.type !== FrameType.hello) return false;
    connection.send({
      type: FrameType.welcome,
      version: wireVersion,
      heartbeatMs: 60_000,
      frameBytesMax: frameBytesMaxDefault,
      detailsBytesMax: 0,
      node: '0123456789abcdef',
    });
    return true;
  };
  const c = await connect(d.address, { reconnectMs: { first: 10, max: 40 } });
  cleanups.push(() => c.close());
  return { d, c };
}

describe('the client, by what the WELCOME said', () => {
  test('no detailsBytesMax: details up to the u16 frame length go, one byte more is EVENT_TOO_LARGE', async () => {
    const { d, c } = await started();
    expect(c.detailsBytesMax).toBe(0);
    const producer = c.producer('raid');
    let refused: unknown = null;
    try {
      await producer.emit('disk.failed', 'err', new Uint8Array(0x10000));
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ClientError);
    expect(refused).toMatchObject({
      code: 'EVENT_TOO_LARGE',
      message: "details of 65536 bytes exceed the daemon's detailsBytesMax 65535",
    });
    expect(await producer.emit('disk.failed', 'err', new Uint8Array(4_000))).toBeGreaterThan(0);
    expect(d.sent(FrameType.emit)).toHaveLength(1);
  });

  test('a producer asked for twice is the same one, claimed once', async () => {
    const { d, c } = await started();
    const first = c.producer('raid');
    expect(c.producer('raid')).toBe(first);
    await first.emit('disk.failed', 'err');
    expect(d.sent(FrameType.claim)).toHaveLength(1);
  });
});
