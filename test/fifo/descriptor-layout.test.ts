/**
 * The FIFO descriptor's bytes (src/fifo/layout.ts; docs/ARCHITECTURE.md lays them out): magic,
 * version and geometry as little-endian u32 at fixed offsets, then their CRC32C, and the check
 * recovery's row D1 makes of them.
 */
import { describe, expect, test } from 'vitest';
import { crc32c } from '../../src/events/crc32c.js';
import {
  describeDescriptorFault,
  encodeFifoDescriptor,
  fifoDescriptorBytes,
  fifoMagic,
  fifoOffsets,
  fifoSectionBytes,
  fifoVersion,
  slotBytesFor,
  type FifoGeometry,
} from '../../src/fifo/layout.js';

const geometry: FifoGeometry = {
  slotBytes: 0x01020340,
  slotCount: 0x05060708,
  detailsBytesMax: 0x090a0b0c,
  recipientsMax: 0x0d0e0f10,
};

const u32le = (value: number) => [
  value & 0xff,
  (value >>> 8) & 0xff,
  (value >>> 16) & 0xff,
  value >>> 24,
];

describe('encodeFifoDescriptor', () => {
  test('lays out magic, version and geometry little-endian, then their CRC32C', () => {
    const bytes = encodeFifoDescriptor(geometry);
    expect(bytes).toHaveLength(fifoDescriptorBytes);
    expect(String.fromCharCode(...bytes.subarray(0, 8))).toBe(fifoMagic);
    expect([...bytes.subarray(fifoOffsets.version, fifoOffsets.version + 4)]).toEqual(
      u32le(fifoVersion),
    );
    expect([...bytes.subarray(12, 28)]).toEqual([
      ...u32le(geometry.slotBytes),
      ...u32le(geometry.slotCount),
      ...u32le(geometry.detailsBytesMax),
      ...u32le(geometry.recipientsMax),
    ]);
    expect([...bytes.subarray(fifoOffsets.crc, fifoOffsets.crc + 4)]).toEqual(
      u32le(crc32c(bytes, 0, fifoOffsets.crc)),
    );
  });
});

describe('describeDescriptorFault', () => {
  test('an intact descriptor of this geometry has none', () => {
    expect(describeDescriptorFault(encodeFifoDescriptor(geometry), geometry)).toBeNull();
  });

  test('an intact descriptor of another geometry is a fault, whichever field differs', () => {
    for (const field of ['slotBytes', 'slotCount', 'detailsBytesMax', 'recipientsMax'] as const) {
      const other = { ...geometry, [field]: geometry[field] + 1 };
      expect(describeDescriptorFault(encodeFifoDescriptor(other), geometry), field).not.toBeNull();
    }
  });

  test('a wrong magic, version or checksum is a fault, even with the checksum made to agree', () => {
    const faults: [string, (bytes: Uint8Array) => void][] = [
      ['magic', (bytes) => (bytes[7] = 0x32)],
      ['version', (bytes) => (bytes[fifoOffsets.version] = fifoVersion + 1)],
      ['checksum', (bytes) => (bytes[fifoOffsets.crc] = (bytes[fifoOffsets.crc] as number) ^ 1)],
    ];
    for (const [name, damage] of faults) {
      const bytes = encodeFifoDescriptor(geometry);
      damage(bytes);
      expect(describeDescriptorFault(bytes, geometry), name).not.toBeNull();
      if (name === 'checksum') continue;
      new DataView(bytes.buffer).setUint32(
        fifoOffsets.crc,
        crc32c(bytes, 0, fifoOffsets.crc),
        true,
      );
      expect(describeDescriptorFault(bytes, geometry), `${name}, resealed`).not.toBeNull();
    }
  });
});

test('slots are whole lines; a section is whole pages', () => {
  expect(slotBytesFor(0) % 64).toBe(0);
  expect(slotBytesFor(64)).toBe(256); // header 64, source 32, type 64, details 64: 224 bytes
  expect(slotBytesFor(96)).toBe(256);
  expect(slotBytesFor(97)).toBe(320);
  const small = { slotBytes: 256, slotCount: 15, detailsBytesMax: 64, recipientsMax: 8 };
  expect(fifoSectionBytes(small)).toBe(4096); // 256 + 15 * 256
  expect(fifoSectionBytes({ ...small, slotCount: 16 })).toBe(8192);
});
