/**
 * The interconnect's frames (src/ha/interconnect-frames.ts): each kind survives a round trip
 * through the wire envelope, and a malformed one is a WireError before anything acts on it.
 */
import { describe, expect, test } from 'vitest';
import {
  InterconnectType,
  decodeInterconnect,
  encodeInterconnect,
  interconnectFrameBytesMax,
  type InterconnectFrame,
} from '../../src/ha/interconnect-frames.js';
import { FrameStream } from '../../src/wire/frame-stream.js';

const node = '00000000000000a1';
const slot = new Uint8Array(128).map((_, k) => k);

const frames: InterconnectFrame[] = [
  {
    type: InterconnectType.pair,
    node,
    recipientsMax: 8,
    detailsBytesMax: 64,
    bootSlots: 8,
    runtimeSlots: 16,
  },
  {
    type: InterconnectType.update,
    id: 7,
    update: {
      node,
      recipients: [{ id: 3, entry: new Uint8Array(64).fill(9) }],
      fifos: [
        { fifo: 0, head: 2, from: 2, records: [], confirmations: [], torn: [] },
        {
          fifo: 1,
          head: 40,
          from: 41,
          records: [slot, slot],
          confirmations: [40, 5, 0],
          torn: [42],
        },
      ],
    },
  },
  { type: InterconnectType.updated, id: 7, tails: [2, 43] },
  { type: InterconnectType.givebackAsk, node },
  {
    type: InterconnectType.giveback,
    handover: { heads: [2, 40], taken: [{ fifo: 1, position: 42, seq: 2 ** 40 }] },
  },
  { type: InterconnectType.refused, code: 'MIRROR_PARTNER', message: 'another partner: é' },
];

function decodeAll(bytes: Uint8Array): InterconnectFrame[] {
  return new FrameStream(interconnectFrameBytesMax, decodeInterconnect).push(bytes);
}

describe('interconnect frames', () => {
  test.each(frames.map((frame) => [frame.type, frame]))(
    '0x%s survives a round trip',
    (_, frame) => {
      expect(decodeAll(encodeInterconnect(frame))).toEqual([frame]);
    },
  );

  test('a frame cut short, or longer than its fields, is BAD_FRAME', () => {
    const whole = encodeInterconnect(frames[2] as InterconnectFrame);
    const payload = whole.subarray(5);
    expect(() => decodeInterconnect(InterconnectType.updated, payload.subarray(0, 6))).toThrow(
      expect.objectContaining({ code: 'BAD_FRAME' }),
    );
    const longer = new Uint8Array(payload.length + 1);
    longer.set(payload);
    expect(() => decodeInterconnect(InterconnectType.updated, longer)).toThrow(
      expect.objectContaining({ code: 'BAD_FRAME' }),
    );
  });

  test('an unknown type is UNEXPECTED_FRAME; records of a size that is not whole lines, BAD_FRAME', () => {
    expect(() => decodeInterconnect(0x10, new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: 'UNEXPECTED_FRAME' }),
    );
    const update = encodeInterconnect(frames[1] as InterconnectFrame).subarray(5);
    // the runtime FIFO's slotBytes field: after id, node, recipients, the boot FIFO's part
    const at = 4 + 8 + 1 + 65 + 1 + (1 + 8 + 8 + 4 + 4 + 4 + 4) + (1 + 8 + 8 + 4);
    const view = new DataView(update.buffer, update.byteOffset);
    expect(view.getUint32(at, true)).toBe(128);
    view.setUint32(at, 100, true);
    expect(() => decodeInterconnect(InterconnectType.update, update)).toThrow(
      expect.objectContaining({ code: 'BAD_FRAME' }),
    );
  });
});
