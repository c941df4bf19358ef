/**
 * The four authoritative words outside every record's CRC (docs/ARCHITECTURE.md, "Checked
 * words"): a FIFO's head and tail words, the seq lease and a slot's confirmation word. Every
 * single-bit media fault in each is detected and reported at boot, and never silently skips,
 * replays or renumbers an event: flips aimed at every bit of each word, one at a time.
 */
import { describe, expect, test } from 'vitest';
import type { EventCopy } from '../../src/engine/event-view.js';
import {
  WordRole,
  checkedValueMax,
  confirmationCheck,
  confirmationWordIntact,
  decodeCounterWord,
  encodeCounterWord,
  wordDamaged,
} from '../../src/events/checked-word.js';
import { fifoOffsets, slotBytesFor } from '../../src/fifo/layout.js';
import { leaseOffset } from '../../src/node/layout.js';
import type { Node } from '../../src/node/node.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { bootNode, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';

const limits = { ...smallLimits, runtimeSlots: 128 };

/** Flips one bit of the 8-byte word at `offset`, in the durable image (a media fault). */
function flipBit(device: TracedNvram, offset: number, bit: number): void {
  const word = new Uint8Array(8);
  device.loadBytes(offset, word);
  word[bit >> 3] = (word[bit >> 3] as number) ^ (1 << (bit & 7));
  device.storeBytes(offset, word);
  device.persist(offset, 8);
}

/**
 * Five events: the first two confirmed by both recipients (retired), the third confirmed by
 * `a` alone out of order (its confirmation word stored, the head not past it), the last three
 * pending. Closed, so every pointer word is durable.
 */
function deviceWithHistory(): { device: TracedNvram; seqs: number[]; stored: number } {
  const { node, device } = bootNode(freshDevice(limits));
  const held: number[] = [];
  const a = node.registerRecipient('a', {}, (event) => held.push(event.seq));
  const b = node.registerRecipient('b', {}, () => {});
  node.start();
  const p = node.producer('p');
  const seqs = [1, 2, 3, 4, 5].map((k) => p.emit('disk.failed', 'err', new Uint8Array([k])));
  node.drain();
  for (const seq of seqs.slice(0, 2)) {
    a.confirm(seq);
    b.confirm(seq);
  }
  a.confirm(seqs[3] as number); // out of order: position 3's word is stored
  node.drain();
  node.close();
  return { device: rebootDurable(device), seqs, stored: 3 };
}

/** Boots, delivers to confirming recipients, and returns what each received. */
function recoverAll(device: TracedNvram): { node: Node; a: EventCopy[]; b: EventCopy[] } {
  const { node } = bootNode(device);
  const a: EventCopy[] = [];
  const b: EventCopy[] = [];
  node.registerRecipient(
    'a',
    {},
    (event, r) => void (a.push(event.toJSON()), r.confirm(event.seq)),
  );
  node.registerRecipient(
    'b',
    {},
    (event, r) => void (b.push(event.toJSON()), r.confirm(event.seq)),
  );
  node.start();
  node.drainUntilIdle();
  return { node, a, b };
}

const userSeqs = (events: EventCopy[]): number[] =>
  events.filter((e) => e.source !== 'nvrelay').map((e) => e.seq);
const reported = (node: Node, type: string): Record<string, unknown>[] =>
  node.recovery.events.filter((e) => e.type === type).map((e) => e.details);

describe('checked words', () => {
  test('every one- and two-bit fault in a counter word fails its check, for every role', () => {
    const word = new Uint8Array(8);
    for (const value of [0, 1, 65_537, checkedValueMax]) {
      for (const role of Object.values(WordRole)) {
        encodeCounterWord(value, role, word);
        expect(decodeCounterWord(word, role)).toBe(value);
        for (let i = 0; i < 64; i++) {
          for (let j = i; j < 64; j++) {
            const damaged = word.slice();
            damaged[i >> 3] = (damaged[i >> 3] as number) ^ (1 << (i & 7));
            if (j !== i) damaged[j >> 3] = (damaged[j >> 3] as number) ^ (1 << (j & 7));
            expect(decodeCounterWord(damaged, role), `${value} bits ${i},${j}`).toBe(wordDamaged);
          }
        }
      }
    }
  });

  test('a counter word read in another word’s place, or never written, fails its check', () => {
    const word = new Uint8Array(8);
    encodeCounterWord(7, WordRole.head, word);
    expect(decodeCounterWord(word, WordRole.tail)).toBe(wordDamaged);
    expect(decodeCounterWord(new Uint8Array(8), WordRole.lease)).toBe(wordDamaged);
  });

  test('every one-, two- and three-bit fault in a confirmation word fails its check', () => {
    for (const [low, high] of [
      [0, 0],
      [1, 0],
      [0x80000001, 0x00800000],
    ] as const) {
      const stored = [low >>> 0, (high | (confirmationCheck(low, high) << 24)) >>> 0] as const;
      expect(confirmationWordIntact(stored[0], stored[1])).toBe(true);
      const flip = (bit: number, words: number[]): void => {
        words[bit >> 5] = ((words[bit >> 5] as number) ^ (1 << (bit & 31))) >>> 0;
      };
      for (let i = 0; i < 64; i++) {
        for (let j = i + 1; j <= 64; j++) {
          for (let k = j + 1; k <= 65; k++) {
            const words = [stored[0], stored[1]];
            flip(i, words);
            if (j < 64) flip(j, words);
            if (k < 64) flip(k, words);
            expect(confirmationWordIntact(words[0] as number, words[1] as number)).toBe(false);
          }
        }
      }
    }
  });
});

describe('a media fault in an authoritative word, at every bit', () => {
  test('the head word: reported, every pending event delivered', () => {
    const { device, seqs } = deviceWithHistory();
    const offset = device.section('runtime-fifo').offset + fifoOffsets.head;
    for (let bit = 0; bit < 64; bit++) {
      const image = rebootDurable(device);
      flipBit(image, offset, bit);
      const { node, a, b } = recoverAll(image);
      const salvaged = reported(node, 'nvrelay.fifo.salvaged');
      expect(salvaged, `bit ${bit}`).toHaveLength(1);
      expect(salvaged[0]?.['damagedWords']).toEqual(['head']);
      // the retired events may come again (reported: the head is unknown); the pending never miss
      expect(userSeqs(b)).toEqual(expect.arrayContaining(seqs.slice(2)));
      expect(userSeqs(a)).toEqual(expect.arrayContaining([seqs[2], seqs[4]]));
      expect(node.idle()).toBe(true);
    }
  });

  test('the tail word: reported, every pending event delivered, none replayed twice', () => {
    const { device, seqs } = deviceWithHistory();
    const offset = device.section('runtime-fifo').offset + fifoOffsets.tail;
    for (let bit = 0; bit < 64; bit++) {
      const image = rebootDurable(device);
      flipBit(image, offset, bit);
      const { node, b } = recoverAll(image);
      const salvaged = reported(node, 'nvrelay.fifo.salvaged');
      expect(salvaged, `bit ${bit}`).toHaveLength(1);
      expect(salvaged[0]?.['damagedWords']).toEqual(['tail']);
      expect(userSeqs(b)).toEqual(seqs.slice(2)); // the intact head word bounds the salvage
    }
  });

  test('the seq lease: reported, and no seq is issued twice', () => {
    const { device, seqs } = deviceWithHistory();
    const offset = device.section('control').offset + leaseOffset;
    for (let bit = 0; bit < 64; bit++) {
      const image = rebootDurable(device);
      flipBit(image, offset, bit);
      const { node } = recoverAll(image);
      expect(reported(node, 'nvrelay.lease.repaired'), `bit ${bit}`).toHaveLength(1);
      expect(node.producer('p').emit('disk.failed', 'err')).toBeGreaterThan(Math.max(...seqs));
    }
  });

  test('a lease word intact but behind the newest record (row L2): moved past it, reported', () => {
    const { device, seqs } = deviceWithHistory();
    const offset = device.section('control').offset + leaseOffset;
    const word = new Uint8Array(8);
    encodeCounterWord(2, WordRole.lease, word); // as if the last extensions never landed
    device.storeBytes(offset, word);
    device.persist(offset, 8);
    const { node } = recoverAll(device);
    expect(reported(node, 'nvrelay.lease.repaired')).toEqual([
      { stored: 2, seqSeen: Math.max(...seqs) },
    ]);
    expect(node.producer('p').emit('disk.failed', 'err')).toBeGreaterThan(Math.max(...seqs));
  });

  test('a stored confirmation word: reported, the event goes again to every intended recipient', () => {
    const { device, seqs, stored } = deviceWithHistory();
    const fifo = device.section('runtime-fifo');
    const offset =
      fifo.offset + fifoOffsets.slots + slotBytesFor(limits.detailsBytesMax ?? 0) * stored;
    for (let bit = 0; bit < 64; bit++) {
      const image = rebootDurable(device);
      flipBit(image, offset, bit);
      const { node, a, b } = recoverAll(image);
      expect(reported(node, 'nvrelay.confirmation.damaged'), `bit ${bit}`).toEqual([
        { section: 'runtime-fifo', damaged: 1, positions: [stored] },
      ]);
      // a's durable confirmation can no longer be trusted: it gets the event again
      expect(userSeqs(a)).toEqual([seqs[2], seqs[3], seqs[4]]);
      expect(userSeqs(b)).toEqual(seqs.slice(2));
    }
  });

  test('without a fault, a stored confirmation word is trusted: no report, no redelivery', () => {
    const { device, seqs } = deviceWithHistory();
    const { node, a, b } = recoverAll(device);
    expect(reported(node, 'nvrelay.confirmation.damaged')).toEqual([]);
    expect(userSeqs(a)).toEqual([seqs[2], seqs[4]]);
    expect(userSeqs(b)).toEqual(seqs.slice(2));
  });
});
