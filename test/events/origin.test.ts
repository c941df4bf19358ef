/**
 * The origin trail of a relayed record (record flag 4; src/events/origin.ts): round trip through
 * the codec and a node, the checks recovery relies on, and the details limit it counts against.
 */
import { describe, expect, test } from 'vitest';
import { seqMax } from '../../src/constants.js';
import { AssertionError } from '../../src/events/assert.js';
import { NodeError } from '../../src/events/errors.js';
import {
  encodeOrigin,
  formatOrigin,
  originBytes,
  originHopsAt,
  originHopsMax,
  originSeqsValid,
  type OriginHop,
} from '../../src/events/origin.js';
import {
  RecordVerdict,
  checkRecord,
  decodeRecord,
  encodeRecord,
  recordBuffer,
  recordFlagOrigin,
  recordHeaderBytes,
  type EventRecord,
} from '../../src/events/record.js';
import { recordLimits, sampleRecord } from './records.js';
import { bootNode, rebootDurable, smallLimits } from '../engine/harness.js';

const limits = recordLimits(96, 56);
const { detailsBytesMax } = limits;
const trail: OriginHop[] = [
  { node: '00000000000000ff', seq: 7 },
  { node: 'fedcba9876543210', seq: seqMax },
];
const relayed: EventRecord = sampleRecord({
  position: 3,
  seq: 41,
  flags: recordFlagOrigin,
  details: new Uint8Array([1, 2, 3, 4]),
  origin: trail,
});
const check = (slot: Uint8Array): number => checkRecord(recordBuffer(slot), 0, 3, limits);
const trailAt = recordHeaderBytes + 'raid'.length + 'disk.failed'.length + 4;

describe('the origin trail in the record codec', () => {
  test('round trip: the trail after the details, inside recordBytes and the CRC', () => {
    const slot = encodeRecord(relayed, limits.slotBytes);
    expect(check(slot)).toBe(RecordVerdict.valid);
    expect(decodeRecord(slot, 0)).toEqual(relayed);
    const view = new DataView(slot.buffer);
    expect(view.getUint16(12, true)).toBe(trailAt + originBytes(2));
    expect(slot[trailAt]).toBe(2);
    slot[trailAt + 5] = (slot[trailAt + 5] as number) ^ 1; // a bit of hop 0's node id
    expect(check(slot)).toBe(RecordVerdict.badChecksum);
  });

  test('a record without the flag has no trail, and decodes without one', () => {
    const plain = { ...relayed, flags: 0 };
    delete plain.origin;
    const slot = encodeRecord(plain, limits.slotBytes);
    expect(check(slot)).toBe(RecordVerdict.valid);
    expect(decodeRecord(slot, 0).origin).toBeUndefined();
  });

  test('a hop count of 0 or above the maximum, or a hop seq of 0, is refused', () => {
    const slot = encodeRecord(relayed, limits.slotBytes);
    for (const hops of [0, originHopsMax + 1, 255]) {
      const copy = slot.slice();
      copy[trailAt] = hops;
      expect(check(copy), `hops ${hops}`).toBe(RecordVerdict.badLength);
    }
    // a seq of 0 in hop 1, resealed: the field check after the CRC refuses it
    const zero = encodeRecord({ ...relayed, origin: [trail[0] as OriginHop] }, limits.slotBytes);
    const view = new DataView(zero.buffer);
    view.setUint32(trailAt + 9, 0, true);
    const resealed = recordBuffer(zero);
    const length = view.getUint16(12, true);
    view.setUint32(8, resealed.crc(12, length - 12), true);
    expect(check(zero)).toBe(RecordVerdict.badField);
  });

  test('a bad hop count is badLength whatever recordBytes claims, even resealed', () => {
    const slot = encodeRecord(relayed, limits.slotBytes);
    const view = new DataView(slot.buffer);
    const length = view.getUint16(12, true);
    const withoutTrail = length - originBytes(2);
    // recordBytes made to fit a trail of -1 or of 1 byte (what a bad count could be taken for)
    for (const claimed of [withoutTrail - 1, withoutTrail + 1]) {
      const copy = slot.slice();
      const copyView = new DataView(copy.buffer);
      copy[trailAt] = 0;
      copyView.setUint16(12, claimed, true);
      copyView.setUint32(8, recordBuffer(copy).crc(12, claimed - 12), true);
      expect(check(copy), `recordBytes ${claimed}`).toBe(RecordVerdict.badLength);
    }
  });

  test('a trail that does not fit the slot is refused before anything is written', () => {
    const length = new DataView(encodeRecord(relayed, limits.slotBytes).buffer).getUint16(12, true);
    const short = Math.floor((length - 1) / 8) * 8; // slots are whole 8-byte words
    expect(() => encodeRecord(relayed, short)).toThrow(AssertionError);
  });

  test('the hop count is read only where a trail can start: none at or past the end', () => {
    const bytes = new Uint8Array([2, 0, 0]);
    expect(originHopsAt(bytes, 0, 3)).toBe(2);
    expect(originHopsAt(bytes, 3, 3)).toBe(0);
    expect(originHopsAt(bytes, 0, 0)).toBe(0);
    expect(originHopsAt(new Uint8Array([9]), 0, 1)).toBe(0); // above the maximum of 8
    expect(originHopsAt(new Uint8Array([originHopsMax]), 0, 1)).toBe(originHopsMax);
  });

  test('hop seqs are valid from 1 to seqMax, each hop checked', () => {
    const seqs = (values: number[]): boolean => {
      const bytes = new Uint8Array(originBytes(values.length));
      const view = new DataView(bytes.buffer);
      values.forEach((seq, k) => {
        view.setUint32(1 + 16 * k + 8, seq % 2 ** 32, true);
        view.setUint32(1 + 16 * k + 12, Math.floor(seq / 2 ** 32), true);
      });
      return originSeqsValid(view, 0, values.length);
    };
    expect(seqs([1, seqMax])).toBe(true);
    expect(seqs([1, 0])).toBe(false);
    expect(seqs([seqMax + 1, 1])).toBe(false);
  });

  test('the trail as operators read it: node:seq, first hop first, joined by >', () => {
    expect(formatOrigin(trail)).toBe(`00000000000000ff:7>fedcba9876543210:${seqMax}`);
  });

  test('the trail counts against detailsBytesMax', () => {
    const full = { ...relayed, details: new Uint8Array(detailsBytesMax - originBytes(2)) };
    expect(check(encodeRecord(full, limits.slotBytes))).toBe(RecordVerdict.valid);
    const over = { ...relayed, details: new Uint8Array(detailsBytesMax - originBytes(2) + 1) };
    expect(check(encodeRecord(over, limits.slotBytes + 64))).toBe(RecordVerdict.badLength);
  });

  test('encodeOrigin refuses bad hops with BAD_ARGUMENT', () => {
    const bad: OriginHop[][] = [
      [],
      Array.from({ length: originHopsMax + 1 }, () => trail[0] as OriginHop),
      [{ node: 'FF00000000000000', seq: 1 }],
      [{ node: 'ff', seq: 1 }],
      [{ node: '00000000000000ff', seq: 0 }],
      [{ node: '00000000000000ff', seq: seqMax + 1 }],
      // not a string, though it prints as a node id
      [{ node: { toString: () => '00000000000000ff' } as unknown as string, seq: 1 }],
    ];
    for (const hops of bad)
      expect(() => encodeOrigin(hops), JSON.stringify(hops)).toThrow(
        expect.objectContaining({ code: 'BAD_ARGUMENT' }),
      );
    // the bounds themselves are accepted: originHopsMax hops, a seq of 1
    const longest = Array.from({ length: originHopsMax }, () => ({
      node: '00000000000000ff',
      seq: 1,
    }));
    expect(encodeOrigin(longest)[0]).toBe(originHopsMax);
  });
});

describe('a node records a relayed event with its trail', () => {
  test('emitRelayed: the view shows the trail, and it survives a reboot', () => {
    const { node, device } = bootNode();
    const seen: OriginHop[][] = [];
    node.registerRecipient('r0', {}, (event) => seen.push(event.origin()));
    node.start();
    const details = new Uint8Array([9, 9]);
    void node.producer('raid').emitRelayed('disk.failed', 'err', details, trail);
    node.drainUntilIdle();
    expect(seen).toEqual([trail]);
    node.close();
    const again = bootNode(rebootDurable(device)).node;
    const replayed: OriginHop[][] = [];
    again.registerRecipient('r0', {}, (event, r) => {
      replayed.push(event.origin());
      r.confirm(event.seq);
    });
    again.start();
    again.drainUntilIdle();
    expect(replayed).toEqual([trail]);
  });

  test('details plus trail above detailsBytesMax: EVENT_TOO_LARGE, counted, nothing recorded', async () => {
    const { node } = bootNode();
    node.start();
    const producer = node.producer('raid');
    const fits = new Uint8Array((smallLimits.detailsBytesMax ?? 0) - originBytes(2));
    let refusal: unknown = null;
    try {
      void producer.emitRelayed('disk.failed', 'err', new Uint8Array(fits.length + 1), trail);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(NodeError);
    expect(refusal).toMatchObject({ code: 'EVENT_TOO_LARGE' });
    expect(node.stats().counters.rejectedTooLarge).toBe(1);
    expect(node.stats().counters.emitted).toBe(0);
    const seq = producer.emitRelayed('disk.failed', 'err', fits, trail);
    node.commit();
    expect(await seq).toBeGreaterThan(0);
  });

  test('a dead letter re-delivered by an operator keeps its trail', () => {
    const { node, clock } = bootNode(undefined, { retry: { timeoutMs: 10, attemptsMax: 1 } });
    const seen: { origin: OriginHop[]; originalSeq: number }[] = [];
    let confirming = false;
    node.registerRecipient('r0', {}, (event, r) => {
      seen.push({ origin: event.origin(), originalSeq: event.originalSeq });
      if (confirming) r.confirm(event.seq);
    });
    node.start();
    void node.producer('raid').emitRelayed('disk.failed', 'err', null, trail);
    node.drainUntilIdle();
    clock.advance(20);
    node.drainUntilIdle();
    expect(node.deadLetterList()).toHaveLength(1);
    expect(node.deadLetterList()[0]?.record.origin).toEqual(trail);
    confirming = true;
    expect(node.redeliverDeadLetters()).toBe(1);
    node.drainUntilIdle();
    const first = seen[0];
    expect(seen).toEqual([first, { origin: trail, originalSeq: expect.any(Number) as number }]);
    expect(seen[1]?.originalSeq).toBeGreaterThan(0);
  });
});
