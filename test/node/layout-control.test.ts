/**
 * The node's limits and its control block, rows C1 and C2 of the recovery decision table: a
 * limit outside its range (or not an integer) is BAD_ARGUMENT at format time, each bound itself
 * accepted; a control block whose magic or checksum fails, or whose slot size disagrees with its
 * limits though its checksum holds, or whose stored limits are out of range, is NODE_CORRUPT.
 */
import { describe, expect, test } from 'vitest';
import { fifoSlotsMax, recipientsMax } from '../../src/constants.js';
import { crc32c } from '../../src/events/crc32c.js';
import { nodeGeometry, readNodeGeometry, type NodeLimits } from '../../src/node/layout.js';
import { freshDevice, outcome, smallLimits } from '../engine/harness.js';

/** Rewrites the persisted control block; `sealed` recomputes its checksum afterwards. */
function rewriteControl(edit: (view: DataView, block: Uint8Array) => void, sealed: boolean) {
  const device = freshDevice();
  const control = device.section('control').offset;
  const block = new Uint8Array(40);
  device.loadBytes(control, block);
  const view = new DataView(block.buffer);
  edit(view, block);
  if (sealed) view.setUint32(36, crc32c(block, 0, 36), true);
  device.storeBytes(control, block);
  device.persist(control, 40);
  return device;
}

describe('node limits', () => {
  test.each<[NodeLimits, string]>([
    [{ bootSlots: 1 }, 'accepted'],
    [{ bootSlots: 0 }, 'BAD_ARGUMENT'],
    [{ bootSlots: 1.5 }, 'BAD_ARGUMENT'],
    [{ bootSlots: Number.NaN }, 'BAD_ARGUMENT'],
    [{ runtimeSlots: fifoSlotsMax }, 'accepted'],
    [{ runtimeSlots: fifoSlotsMax + 1 }, 'BAD_ARGUMENT'],
    [{ recipientsMax: recipientsMax }, 'accepted'],
    [{ recipientsMax: recipientsMax + 1 }, 'BAD_ARGUMENT'],
    [{ recipientsMax: 0 }, 'BAD_ARGUMENT'],
    [{ deadLetterSlots: 2.25 }, 'BAD_ARGUMENT'],
    [{ detailsBytesMax: -1 }, 'BAD_ARGUMENT'],
  ])('%j: %s', (limits, expected) => {
    expect(outcome(() => nodeGeometry(limits))).toBe(expected);
  });
});

describe('the control block (row C2)', () => {
  test('as formatted it reads back the limits', () => {
    expect(readNodeGeometry(rewriteControl(() => {}, false))).toEqual(nodeGeometry(smallLimits));
  });

  test('a magic that is not NVRNODE1, its checksum valid, is NODE_CORRUPT', () => {
    const device = rewriteControl((_, block) => {
      block[7] = '2'.charCodeAt(0);
    }, true);
    expect(outcome(() => readNodeGeometry(device))).toBe('NODE_CORRUPT');
  });

  test('a checksum that fails, the fields intact, is NODE_CORRUPT', () => {
    const device = rewriteControl((view) => {
      view.setUint32(36, view.getUint32(36, true) ^ 1, true);
    }, false);
    expect(outcome(() => readNodeGeometry(device))).toBe('NODE_CORRUPT');
  });

  test('a slot size that disagrees with the stored detailsBytesMax, checksum valid, is NODE_CORRUPT', () => {
    const device = rewriteControl((view) => {
      view.setUint32(20, view.getUint32(20, true) + 64, true);
    }, true);
    expect(outcome(() => readNodeGeometry(device))).toBe('NODE_CORRUPT');
  });

  test('stored limits out of range, checksum valid, are NODE_CORRUPT (not BAD_ARGUMENT)', () => {
    const device = rewriteControl((view) => {
      view.setUint32(24, 0, true); // bootSlots
    }, true);
    expect(outcome(() => readNodeGeometry(device))).toBe('NODE_CORRUPT');
  });
});
