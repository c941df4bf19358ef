/**
 * src/client with what a daemon's WELCOME leaves open: a detailsBytesMax of 0 (no limit said)
 * bounds emits by the frame's u16 length only; and a producer asked for twice is one producer,
 * claimed once.
 */
import { describe, expect, test } from 'vitest';
import { ClientError, type Client } from '../../src/client/client.js';
import { FrameType, frameBytesMaxDefault, wireVersion } from '../../src/wire/frames.js';
import { scriptedPeers, type ScriptedDaemon } from './scripted-daemon.js';

const peers = scriptedPeers();

async function started(): Promise<{ d: ScriptedDaemon; c: Client }> {
  const d = await peers.daemon();
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
  return { d, c: await peers.client(d) };
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
