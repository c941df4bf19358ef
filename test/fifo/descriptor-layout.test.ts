/**
 * The FIFO descriptor's bytes (src/fifo/layout.ts; docs/ARCHITECTURE.md lays them out): magic,
 * version and geometry as little-endian u32 at fixed offsets, then their CRC32C, and the check
 * recovery's row D1 makes of them. The fault's reason is what an operator reads in the NODE_CORRUPT
 * error a boot or `nvrelay check` reports, so each reason is pinned word for word.
 */
import { describe, expect, test } from 'vitest';
import { crc32c } from '../../src/events/crc32c.js';
import { NodeError } from '../../src/events/errors.js';
import { PersistentFifo } from '../../src/fifo/fifo.js';
import { TracedNvram } from '../../src/nvram/index.js';
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

describe('the reason a descriptor is refused (row D1)', () => {
  const resealed = (damage: (bytes: Uint8Array) => void): Uint8Array => {
    const bytes = encodeFifoDescriptor(geometry);
    damage(bytes);
    new DataView(bytes.buffer).setUint32(fifoOffsets.crc, crc32c(bytes, 0, fifoOffsets.crc), true);
    return bytes;
  };

  test('each fault names itself, checked in the order magic, checksum, version, geometry', () => {
    const reasons = [
      resealed((bytes) => (bytes[0] = 0x6e)), // 'nVRFIFO1', checksum made to agree
      resealed((bytes) => (bytes[7] = 0x32)), // 'NVRFIFO2'
      (() => {
        const bytes = encodeFifoDescriptor(geometry);
        bytes[fifoOffsets.crc] = (bytes[fifoOffsets.crc] as number) ^ 1;
        return bytes;
      })(),
      resealed((bytes) => (bytes[fifoOffsets.version] = fifoVersion + 1)),
      encodeFifoDescriptor({ ...geometry, slotCount: geometry.slotCount + 1 }),
    ].map((bytes) => describeDescriptorFault(bytes, geometry));
    expect(reasons).toEqual([
      'bad magic (not formatted as a FIFO)',
      'bad magic (not formatted as a FIFO)',
      'descriptor checksum mismatch',
      'unsupported version',
      'geometry differs from the control block',
    ]);
  });

  test('a wrong magic is reported as such even when the checksum disagrees too', () => {
    const bytes = new Uint8Array(fifoDescriptorBytes).fill(0xa5);
    expect(describeDescriptorFault(bytes, geometry)).toBe('bad magic (not formatted as a FIFO)');
  });

  test('only the 32 descriptor bytes are judged, whatever follows them on the line', () => {
    const line = new Uint8Array(64).fill(0xff);
    line.set(encodeFifoDescriptor(geometry));
    expect(describeDescriptorFault(line, geometry)).toBeNull();
  });

  test('a boot stops with NODE_CORRUPT naming the reason', () => {
    const small: FifoGeometry = {
      slotBytes: 64,
      slotCount: 4,
      detailsBytesMax: 0,
      recipientsMax: 1,
    };
    const device = TracedNvram.format(8192, [{ name: 'fifo', length: 4096 }]);
    PersistentFifo.format(device, 'fifo', small);
    // the version changed without resealing: the checksum disagrees first
    device.storeU32(device.section('fifo').offset + fifoOffsets.version, fifoVersion + 1);
    let caught: unknown;
    try {
      new PersistentFifo(device, 'fifo', small).recover();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(NodeError);
    expect((caught as NodeError).code).toBe('NODE_CORRUPT');
    expect((caught as NodeError).message).toContain('descriptor checksum mismatch');
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
