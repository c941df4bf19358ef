/**
 * The node's device layout: which sections an nvrelay node needs, how big, and the control
 * block that records the format-time limits (so a boot never guesses them).
 *
 * Sections, in device order:
 * | section | holds | size |
 * |---|---|---|
 * | `control` | control block + the seq lease word | 1 page |
 * | `recipients` | persistent recipient names by id | recipientsMax x 64 bytes |
 * | `boot-fifo` | the boot pool's FIFO [130, 191] | 256 + bootSlots x slotBytes |
 * | `runtime-fifo` | the runtime pool's FIFO [120, 192] | 256 + runtimeSlots x slotBytes |
 * | `dead-letter` | dead letters | 64 + deadLetterSlots x (64 + slotBytes) |
 *
 * Control block (section `control`):
 * | off | size | field | |
 * |---:|---:|---|---|
 * | 0 | 8 | magic | ASCII `NVRNODE1` |
 * | 8 | 4 | version | 2 |
 * | 12 | 4 | recipientsMax | 1..56 |
 * | 16 | 4 | detailsBytesMax | |
 * | 20 | 4 | slotBytes | |
 * | 24 | 4 | bootSlots | |
 * | 28 | 4 | runtimeSlots | |
 * | 32 | 4 | deadLetterSlots | |
 * | 36 | 4 | crc32c | over [0, 36) |
 * | 64 | 8 | seq lease | every seq issued so far is below it (SPEC 4.5); a checked word; own line |
 */
import {
  bootSlotsDefault,
  deadLetterSlotsDefault,
  detailsBytesLimit,
  detailsBytesMaxDefault,
  deviceHeaderBytes,
  fifoSlotsMax,
  pageBytes,
  recipientsMax as recipientsLimit,
  runtimeSlotsDefault,
} from '../constants.js';
import { deadLetterSectionBytes, DeadLetterStore } from '../engine/dead-letter.js';
import { recipientTableBytes } from '../engine/recipient-table.js';
import { crc32c } from '../events/crc32c.js';
import { NodeError, badArgument } from '../events/errors.js';
import { PersistentFifo } from '../fifo/fifo.js';
import { fifoSectionBytes, slotBytesFor, type FifoGeometry } from '../fifo/layout.js';
import type { NvramDevice } from '../nvram/device.js';
import { SeqLease } from './seq-lease.js';

export const sectionNames = Object.freeze({
  control: 'control',
  recipients: 'recipients',
  bootFifo: 'boot-fifo',
  runtimeFifo: 'runtime-fifo',
  deadLetter: 'dead-letter',
});

export const controlMagic = 'NVRNODE1';
export const controlVersion = 2;
const controlBytes = 40;
export const leaseOffset = 64;

/** Format-time limits; every field optional (defaults in src/constants.ts). */
export interface NodeLimits {
  detailsBytesMax?: number;
  bootSlots?: number;
  runtimeSlots?: number;
  deadLetterSlots?: number;
  recipientsMax?: number;
}

export interface NodeGeometry {
  recipientsMax: number;
  detailsBytesMax: number;
  slotBytes: number;
  bootSlots: number;
  runtimeSlots: number;
  deadLetterSlots: number;
}

export interface NodeLayout {
  geometry: NodeGeometry;
  sections: { name: string; length: number }[];
  /** The smallest device that holds them (header page + sections). */
  sizeBytes: number;
}

function limit(
  name: string,
  value: number | undefined,
  fallback: number,
  low: number,
  high: number,
): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen < low || chosen > high) {
    badArgument(`${name} must be an integer in [${low}, ${high}], got ${String(value)}`);
  }
  return chosen;
}

/** Limits with defaults filled in. A NodeGeometry passes through (its slotBytes is derived). */
export function nodeGeometry(limits: NodeLimits | NodeGeometry = {}): NodeGeometry {
  const known = [
    'detailsBytesMax',
    'bootSlots',
    'runtimeSlots',
    'deadLetterSlots',
    'recipientsMax',
    'slotBytes',
  ];
  for (const key of Object.keys(limits)) {
    if (!known.includes(key)) badArgument(`unknown limit '${key}' (known: ${known.join(', ')})`);
  }
  const detailsBytesMax = limit(
    'detailsBytesMax',
    limits.detailsBytesMax,
    detailsBytesMaxDefault,
    0,
    detailsBytesLimit,
  );
  if ('slotBytes' in limits && limits.slotBytes !== slotBytesFor(detailsBytesMax)) {
    badArgument(`slotBytes ${limits.slotBytes} does not match detailsBytesMax ${detailsBytesMax}`);
  }
  return {
    recipientsMax: limit(
      'recipientsMax',
      limits.recipientsMax,
      recipientsLimit,
      1,
      recipientsLimit,
    ),
    detailsBytesMax,
    slotBytes: slotBytesFor(detailsBytesMax),
    bootSlots: limit('bootSlots', limits.bootSlots, bootSlotsDefault, 1, fifoSlotsMax),
    runtimeSlots: limit('runtimeSlots', limits.runtimeSlots, runtimeSlotsDefault, 1, fifoSlotsMax),
    deadLetterSlots: limit(
      'deadLetterSlots',
      limits.deadLetterSlots,
      deadLetterSlotsDefault,
      1,
      fifoSlotsMax,
    ),
  };
}

export function fifoGeometry(geometry: NodeGeometry, slotCount: number): FifoGeometry {
  return {
    slotBytes: geometry.slotBytes,
    slotCount,
    detailsBytesMax: geometry.detailsBytesMax,
    recipientsMax: geometry.recipientsMax,
  };
}

export function deadLetterGeometry(geometry: NodeGeometry) {
  return {
    entryCount: geometry.deadLetterSlots,
    slotBytes: geometry.slotBytes,
    detailsBytesMax: geometry.detailsBytesMax,
    recipientsMax: geometry.recipientsMax,
  };
}

/** A node's two FIFOs, boot first (the node's FIFO order), for tools that read them. */
export function nodeFifos(device: NvramDevice, geometry: NodeGeometry): PersistentFifo[] {
  return [
    new PersistentFifo(device, sectionNames.bootFifo, fifoGeometry(geometry, geometry.bootSlots)),
    new PersistentFifo(
      device,
      sectionNames.runtimeFifo,
      fifoGeometry(geometry, geometry.runtimeSlots),
    ),
  ];
}

/** The sections (and device size) a node with these limits needs. */
export function nodeLayout(limits: NodeLimits | NodeGeometry = {}): NodeLayout {
  const geometry = nodeGeometry(limits);
  const sections = [
    { name: sectionNames.control, length: pageBytes },
    { name: sectionNames.recipients, length: recipientTableBytes(geometry.recipientsMax) },
    {
      name: sectionNames.bootFifo,
      length: fifoSectionBytes(fifoGeometry(geometry, geometry.bootSlots)),
    },
    {
      name: sectionNames.runtimeFifo,
      length: fifoSectionBytes(fifoGeometry(geometry, geometry.runtimeSlots)),
    },
    { name: sectionNames.deadLetter, length: deadLetterSectionBytes(deadLetterGeometry(geometry)) },
  ];
  const sizeBytes = sections.reduce((total, section) => total + section.length, deviceHeaderBytes);
  return { geometry, sections, sizeBytes };
}

function encodeControl(geometry: NodeGeometry): Uint8Array {
  const bytes = new Uint8Array(controlBytes);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < controlMagic.length; i++) bytes[i] = controlMagic.charCodeAt(i);
  view.setUint32(8, controlVersion, true);
  view.setUint32(12, geometry.recipientsMax, true);
  view.setUint32(16, geometry.detailsBytesMax, true);
  view.setUint32(20, geometry.slotBytes, true);
  view.setUint32(24, geometry.bootSlots, true);
  view.setUint32(28, geometry.runtimeSlots, true);
  view.setUint32(32, geometry.deadLetterSlots, true);
  view.setUint32(36, crc32c(bytes, 0, 36), true);
  return bytes;
}

/**
 * Formats a node on a device that has the sections of nodeLayout(limits): every section's
 * descriptor first, the control block last, so a cut during format leaves NODE_UNFORMATTED.
 */
export function formatNode(
  device: NvramDevice,
  limits: NodeLimits | NodeGeometry = {},
): NodeGeometry {
  const geometry = nodeGeometry(limits);
  const control = device.section(sectionNames.control);
  new PersistentFifo(device, sectionNames.bootFifo, fifoGeometry(geometry, geometry.bootSlots));
  new PersistentFifo(
    device,
    sectionNames.runtimeFifo,
    fifoGeometry(geometry, geometry.runtimeSlots),
  );
  PersistentFifo.format(device, sectionNames.bootFifo, fifoGeometry(geometry, geometry.bootSlots));
  PersistentFifo.format(
    device,
    sectionNames.runtimeFifo,
    fifoGeometry(geometry, geometry.runtimeSlots),
  );
  new DeadLetterStore(device, sectionNames.deadLetter, deadLetterGeometry(geometry));
  DeadLetterStore.format(device, sectionNames.deadLetter, deadLetterGeometry(geometry));
  SeqLease.format(device, control.offset + leaseOffset);
  device.storeBytes(control.offset, encodeControl(geometry));
  device.persist(control.offset, controlBytes);
  return geometry;
}

/** Reads and validates the control block (rows C1, C2 of the recovery decision table). */
export function readNodeGeometry(device: NvramDevice): NodeGeometry {
  const control = device.section(sectionNames.control);
  const bytes = new Uint8Array(controlBytes);
  device.loadBytes(control.offset, bytes);
  if (bytes.every((byte) => byte === 0)) {
    // C1: a format that never completed writes the control block last; nothing is an event
    throw new NodeError(
      'NODE_UNFORMATTED',
      'nvrelay: the device has no node control block (run formatNode)',
    );
  }
  // C2: magic, CRC, version, then the slot size agreeing with the limits
  const view = new DataView(bytes.buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== controlMagic || view.getUint32(36, true) !== crc32c(bytes, 0, 36)) {
    throw new NodeError(
      'NODE_CORRUPT',
      'nvrelay: the node control block is damaged (bad magic or checksum)',
    );
  }
  if (view.getUint32(8, true) !== controlVersion) {
    throw new NodeError(
      'NODE_CORRUPT',
      `nvrelay: node format version ${view.getUint32(8, true)} is not supported`,
    );
  }
  const geometry = storedGeometry(view);
  if (geometry.slotBytes !== view.getUint32(20, true)) {
    throw new NodeError(
      'NODE_CORRUPT',
      'nvrelay: the control block slot size disagrees with its limits',
    );
  }
  return geometry;
}

/**
 * C2: the limits the control block records. They passed its CRC, so limits out of range are
 * damaged media or a foreign writer, never a caller's mistake: NODE_CORRUPT, not BAD_ARGUMENT.
 */
function storedGeometry(view: DataView): NodeGeometry {
  try {
    return nodeGeometry({
      recipientsMax: view.getUint32(12, true),
      detailsBytesMax: view.getUint32(16, true),
      bootSlots: view.getUint32(24, true),
      runtimeSlots: view.getUint32(28, true),
      deadLetterSlots: view.getUint32(32, true),
    });
  } catch (error) {
    if (!(error instanceof NodeError) || error.code !== 'BAD_ARGUMENT') throw error;
    const reason = error.message.replace(/^nvrelay: /, '');
    throw new NodeError(
      'NODE_CORRUPT',
      `nvrelay: the control block's limits are invalid: ${reason}`,
    );
  }
}
