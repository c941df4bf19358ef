/**
 * src/daemon/connection.ts's answers to frames a well-behaved client does not send: a handle it
 * was never given (GOODBYE BAD_FRAME), a producer name another connection holds, a recipient
 * the strict config does not name, an emit the node refuses (REFUSED with the node's
 * code), and frames out of turn.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FrameType } from '../../src/wire/frames.js';
import { RawConnection, startDaemon, type TestDaemon } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startDaemon({ config: { strictRecipients: true, recipients: { audit: {} } } });
});
afterAll(() => t.remove());

async function open(): Promise<RawConnection> {
  const raw = await RawConnection.open({ path: t.socket });
  await raw.hello();
  return raw;
}

describe('the daemon refuses', () => {
  test('an emit or a confirm naming a handle never given: GOODBYE BAD_FRAME', async () => {
    const emitter = await open();
    emitter.sendFrame({
      type: FrameType.emit,
      requestId: 1,
      handle: 9,
      severity: 3,
      counter: 0,
      eventType: 'disk.failed',
      details: new Uint8Array(0),
    });
    expect(await emitter.waitFor((f) => f.type === FrameType.goodbye)).toMatchObject({
      code: 'BAD_FRAME',
      message: 'emit: no producer handle 9',
    });
    const confirmer = await open();
    confirmer.sendFrame({ type: FrameType.confirm, handle: 4, flags: 0, seq: 1 });
    expect(await confirmer.waitFor((f) => f.type === FrameType.goodbye)).toMatchObject({
      code: 'BAD_FRAME',
      message: 'confirm: no recipient handle 4',
    });
  });

  test('a producer name another connection holds: PRODUCER_BUSY', async () => {
    const first = await open();
    const second = await open();
    first.sendFrame({ type: FrameType.claim, requestId: 1, producer: 'raid', resume: 0 });
    expect(await first.answer(1)).toMatchObject({ type: FrameType.claimed });
    second.sendFrame({ type: FrameType.claim, requestId: 1, producer: 'raid', resume: 0 });
    expect(await second.answer(1)).toMatchObject({
      type: FrameType.refused,
      code: 'PRODUCER_BUSY',
    });
    await first.end();
    await second.end();
  });

  test('a recipient the strict config does not name; one it names is subscribed', async () => {
    const raw = await open();
    expect(await raw.subscribe(1, 'pager')).toMatchObject({
      type: FrameType.refused,
      code: 'RECIPIENT_UNKNOWN',
      message: "recipient 'pager' is not in the config",
    });
    expect(await raw.subscribe(2, 'audit')).toMatchObject({ type: FrameType.subscribed });
    await raw.end();
  });

  test('a subscription when every recipient id is taken: REFUSED RECIPIENTS_FULL, the connection stays', async () => {
    const loose = await startDaemon();
    try {
      const raw = await RawConnection.open({ path: loose.socket });
      await raw.hello();
      const ids = loose.daemon.node.geometry.recipientsMax;
      const answers = Array.from({ length: ids + 1 }, (_, k) => raw.subscribe(k + 1, `r${k + 1}`));
      for (let k = 0; k < ids; k++)
        expect(await answers[k]).toMatchObject({ type: FrameType.subscribed });
      const refused = await answers[ids];
      expect(refused).toMatchObject({ type: FrameType.refused, code: 'RECIPIENTS_FULL' });
      expect(refused?.type === FrameType.refused && refused.message).not.toMatch(/^nvrelay: /);
      expect(raw.goodbyes()).toEqual([]);
      raw.sendFrame({ type: FrameType.ping, nonce: 7 });
      expect(await raw.waitFor((f) => f.type === FrameType.pong)).toMatchObject({ nonce: 7 });
      await raw.end();
    } finally {
      await loose.remove();
    }
  });

  test('an emit the node refuses is REFUSED with its code; the connection stays', async () => {
    const raw = await RawConnection.open({ path: t.socket });
    const welcome = await raw.hello();
    raw.sendFrame({ type: FrameType.claim, requestId: 1, producer: 'raid', resume: 0 });
    const claimed = await raw.answer(1);
    const handle = claimed?.type === FrameType.claimed ? claimed.handle : -1;
    raw.sendFrame({
      type: FrameType.emit,
      requestId: 2,
      handle,
      severity: 3,
      counter: 0,
      eventType: 'disk.failed',
      details: new Uint8Array(welcome.detailsBytesMax + 1), // more than a record holds
    });
    expect(await raw.answer(2)).toMatchObject({
      type: FrameType.refused,
      code: 'EVENT_TOO_LARGE',
      message: `details of ${welcome.detailsBytesMax + 1} bytes exceed detailsBytesMax ${welcome.detailsBytesMax}`,
    });
    expect(raw.goodbyes()).toEqual([]);
    await raw.end();
  });

  test('a frame before HELLO, and a second HELLO: UNEXPECTED_FRAME', async () => {
    const early = await RawConnection.open({ path: t.socket });
    early.sendFrame({ type: FrameType.ping, nonce: 1 });
    expect(await early.waitFor((f) => f.type === FrameType.goodbye)).toMatchObject({
      code: 'UNEXPECTED_FRAME',
    });
    const twice = await open();
    twice.sendFrame({ type: FrameType.hello, versionMin: 1, versionMax: 2, client: 'again' });
    expect(await twice.waitFor((f) => f.type === FrameType.goodbye)).toMatchObject({
      code: 'UNEXPECTED_FRAME',
    });
  });
});
