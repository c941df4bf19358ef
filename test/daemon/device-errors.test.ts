/**
 * A device error while the daemon handles a client's frame (src/daemon/connection.ts): the
 * node fails (fail-stop) and the daemon stops with status 1, never an uncaught throw. An emit
 * whose record cannot be stored is REFUSED NODE_FAILED; a subscription whose recipient cannot
 * be written to the recipient table ends the connection with the daemon's GOODBYE; a
 * connection whose recipients were attached is closed without detaching them from the failed
 * node. The error is injected by making the daemon's device throw NVRAM_IO on every store.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { NvramError } from '../../src/nvram/errors.js';
import { FrameType } from '../../src/wire/frames.js';
import { RawConnection, startDaemon, within, type TestDaemon } from './harness.js';

let running: TestDaemon | null = null;
afterEach(async () => {
  await running?.remove();
  running = null;
});

/** From now on every store to the daemon's device throws NVRAM_IO, as a failing device would. */
function failStores(t: TestDaemon): void {
  const device = t.daemon.device as unknown as Record<string, unknown>;
  for (const method of ['storeU32', 'storeU64', 'storeBytes'])
    device[method] = () => {
      throw new NvramError('NVRAM_IO', 'injected: the device refused a store');
    };
}

async function open(t: TestDaemon): Promise<RawConnection> {
  const raw = await RawConnection.open({ path: t.socket });
  await raw.hello();
  return raw;
}

describe('a device error while a frame is handled', () => {
  test('an emit: REFUSED NODE_FAILED, the recipients of the connection left attached, the daemon stops with 1', async () => {
    running = await startDaemon();
    const t = running;
    const raw = await open(t);
    expect(await raw.subscribe(1, 'audit')).toMatchObject({ type: FrameType.subscribed });
    raw.sendFrame({ type: FrameType.claim, requestId: 2, producer: 'raid', resume: 0 });
    const claimed = await raw.answer(2);
    const handle = claimed?.type === FrameType.claimed ? claimed.handle : -1;

    failStores(t);
    raw.sendFrame({
      type: FrameType.emit,
      requestId: 3,
      handle,
      severity: 3,
      counter: 0,
      eventType: 'disk.failed',
      details: new Uint8Array(4),
    });
    expect(await raw.answer(3)).toMatchObject({
      type: FrameType.refused,
      code: 'NODE_FAILED',
    });
    expect(await within(t.daemon.stopped, 5_000, 'the daemon to stop')).toBe(1);
    expect(t.daemon.node.phase).toBe('failed');
    expect(await raw.waitFor((f) => f.type === FrameType.goodbye)).toMatchObject({
      code: 'NODE_FAILED',
    });
    // closed without a detach (the failed node refuses every call): still attached there
    const audit = t.daemon.node.engine.recipients.find((r) => r?.name === 'audit');
    expect(audit?.attached).toBe(true);
  });

  test('a subscription: the connection ends with the GOODBYE of a daemon that stops with 1', async () => {
    running = await startDaemon();
    const t = running;
    const raw = await open(t);
    failStores(t);
    const answer = raw.subscribe(1, 'pager');
    expect(await within(t.daemon.stopped, 5_000, 'the daemon to stop')).toBe(1);
    expect(await raw.waitFor((f) => f.type === FrameType.goodbye)).toMatchObject({
      code: 'NODE_FAILED',
    });
    expect(await answer).toBeNull(); // neither subscribed nor refused: the connection closed
    expect(t.daemon.node.engine.recipients.some((r) => r?.name === 'pager')).toBe(false);
  });
});
