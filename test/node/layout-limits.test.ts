/**
 * The node's limits and control block (src/node/layout.ts) refusing what they cannot take: a
 * limit they do not know, a slot size that disagrees with the details it must hold, and a
 * control block of a format version this code does not read (its checksum valid).
 */
import { describe, expect, test } from 'vitest';
import { crc32c } from '../../src/events/crc32c.js';
import { controlVersion, nodeGeometry, readNodeGeometry } from '../../src/node/layout.js';
import { freshDevice } from '../engine/harness.js';

describe('the node layout', () => {
  test('an unknown limit is BAD_ARGUMENT naming it and the known ones', () => {
    expect(() => nodeGeometry({ detailsBytesMax: 64, fifoSlots: 8 } as never)).toThrow(
      expect.objectContaining({
        code: 'BAD_ARGUMENT',
        message: expect.stringContaining(
          "unknown limit 'fifoSlots' (known: detailsBytesMax, bootSlots, runtimeSlots, deadLetterSlots, recipientsMax, slotBytes)",
        ),
      }),
    );
  });

  test('a slot size that disagrees with detailsBytesMax is BAD_ARGUMENT; the matching one passes through', () => {
    const geometry = nodeGeometry({ detailsBytesMax: 64 });
    expect(nodeGeometry(geometry)).toEqual(geometry);
    expect(() => nodeGeometry({ ...geometry, slotBytes: geometry.slotBytes + 8 })).toThrow(
      expect.objectContaining({
        code: 'BAD_ARGUMENT',
        message: expect.stringContaining(
          `slotBytes ${geometry.slotBytes + 8} does not match detailsBytesMax 64`,
        ),
      }),
    );
  });

  test('a control block of another format version, its checksum valid, is NODE_CORRUPT naming the version', () => {
    const device = freshDevice();
    const control = device.section('control').offset;
    const block = new Uint8Array(40);
    device.loadBytes(control, block);
    const view = new DataView(block.buffer);
    expect(view.getUint32(8, true)).toBe(controlVersion);
    view.setUint32(8, controlVersion + 1, true);
    view.setUint32(36, crc32c(block, 0, 36), true);
    device.storeBytes(control, block);
    device.persist(control, 40);
    expect(() => readNodeGeometry(device)).toThrow(
      expect.objectContaining({
        code: 'NODE_CORRUPT',
        message: `nvrelay: node format version ${controlVersion + 1} is not supported`,
      }),
    );
  });
});
