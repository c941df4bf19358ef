/**
 * src/daemon/connection.ts's heartbeat: the daemon pings a connection it has said nothing to
 * for one period, and drops one it has heard nothing from for three, with a GOODBYE saying so.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FrameType, wireVersion } from '../../src/wire/frames.js';
import { RawConnection, startDaemon, type TestDaemon } from './harness.js';

const heartbeatMs = 50;
let t: TestDaemon;
beforeAll(async () => {
  t = await startDaemon({ config: { heartbeatMs } });
});
afterAll(() => t.remove());

describe('the heartbeat', () => {
  test('the welcome carries the period; silence is pinged, then dropped as IDLE_TIMEOUT', async () => {
    const raw = await RawConnection.open({ path: t.socket });
    const welcome = await raw.hello();
    expect(welcome.heartbeatMs).toBe(heartbeatMs);
    const ping = await raw.waitFor((frame) => frame.type === FrameType.ping);
    expect(ping).not.toBeNull();
    const goodbye = await raw.waitFor((frame) => frame.type === FrameType.goodbye);
    expect(goodbye).toMatchObject({ code: 'IDLE_TIMEOUT' });
    await raw.closed;
  });

  test('a PING is answered with a PONG carrying its nonce', async () => {
    const raw = await RawConnection.open({ path: t.socket });
    await raw.hello();
    raw.sendFrame({ type: FrameType.ping, nonce: 7 });
    const pong = await raw.waitFor((frame) => frame.type === FrameType.pong);
    expect(pong).toMatchObject({ nonce: 7 });
    raw.destroy();
  });

  test('a HELLO whose versions the daemon does not speak is BAD_VERSION', async () => {
    const raw = await RawConnection.open({ path: t.socket });
    raw.sendFrame({
      type: FrameType.hello,
      versionMin: wireVersion + 1,
      versionMax: wireVersion + 2,
      client: 'future',
    });
    const goodbye = await raw.waitFor((frame) => frame.type === FrameType.goodbye);
    expect(goodbye).toMatchObject({ code: 'BAD_VERSION' });
  });
});
