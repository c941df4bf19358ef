/**
 * Handles are u16 on the wire: a connection that claims more producer names than a handle can
 * number is refused the extra claims (a handle that wrapped around would name another
 * producer, and that producer's name would go into the records of the emits sent with it).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FrameType, encodeFrame, type Frame } from '../../src/wire/frames.js';
import { RawConnection, startDaemon, type TestDaemon } from './harness.js';

let t: TestDaemon;
beforeAll(async () => {
  t = await startDaemon();
});
afterAll(async () => {
  await t.remove();
});

test('claims past handle 0xffff are refused, never answered with a wrapped handle', async () => {
  const raw = await RawConnection.open({ path: t.socket });
  try {
    await raw.hello();
    const claims = 0x10000 + 2;
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < claims; i++)
      chunks.push(
        encodeFrame({ type: FrameType.claim, requestId: i + 1, producer: `p${i}`, resume: 0 }),
      );
    raw.send(Buffer.concat(chunks));
    const isAnswer = (f: Frame): boolean =>
      (f.type === FrameType.claimed || f.type === FrameType.refused) && f.requestId === claims;
    expect(await raw.waitFor(isAnswer, { timeoutMs: 30_000 })).not.toBeNull();
    const handles = new Map<number, number>();
    const refused: number[] = [];
    for (const frame of raw.frames) {
      if (frame.type === FrameType.claimed) handles.set(frame.requestId, frame.handle);
      if (frame.type === FrameType.refused) refused.push(frame.requestId);
    }
    expect(handles.size).toBe(0x10000);
    expect(new Set(handles.values()).size).toBe(0x10000);
    expect(refused).toEqual([0x10001, 0x10002]);
    // a name already held keeps its handle
    raw.sendFrame({ type: FrameType.claim, requestId: 7, producer: 'p0', resume: 0 });
    const again = await raw.waitFor((f) => f.type === FrameType.claimed && f.requestId === 7, {
      from: raw.frames.length,
    });
    expect(again).toMatchObject({ handle: 0 });
  } finally {
    raw.destroy();
  }
});
