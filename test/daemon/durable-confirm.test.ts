/**
 * A confirmation asking for CONFIRMED (confirmFlagDurable) from a connection that is gone by
 * the time its fence would run (src/daemon/connection.ts): the confirmation itself counts, but
 * no fence is made for it and nothing is answered.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { FrameType, confirmFlagDurable, encodeFrame } from '../../src/wire/frames.js';
import { RawConnection, startDaemon, within, type TestDaemon } from './harness.js';

let running: TestDaemon | null = null;
afterEach(async () => {
  vi.restoreAllMocks();
  await running?.remove();
  running = null;
});

describe('a durable confirmation', () => {
  test('sent with a GOODBYE in one write: confirmed, but neither fenced nor answered', async () => {
    running = await startDaemon();
    const t = running;
    const raw = await RawConnection.open({ path: t.socket });
    await raw.hello();
    expect(await raw.subscribe(1, 'audit')).toMatchObject({ type: FrameType.subscribed });
    const seq = t.daemon.node.producer('raid').emit('disk.failed', 'err', null);
    const deliver = await raw.waitFor((f) => f.type === FrameType.deliver);
    expect(deliver).not.toBeNull();

    const persist = vi.spyOn(t.daemon.node, 'persistConfirmations');
    raw.send(
      Buffer.concat([
        encodeFrame({ type: FrameType.confirm, handle: 0, flags: confirmFlagDurable, seq }),
        encodeFrame({ type: FrameType.goodbye, code: 'BYE', message: 'done' }),
      ]),
    );
    await within(raw.closed, 5_000, 'the connection to close');
    // the fence would have run in the turn after the frames were read
    await new Promise((resolve) => setImmediate(resolve));
    const audit = t.daemon.node.engine.recipients.find((r) => r?.name === 'audit');
    expect(audit?.confirmed).toBe(1);
    expect(persist).not.toHaveBeenCalled();
    expect(raw.frames.some((f) => f.type === FrameType.confirmed)).toBe(false);
  });
});
