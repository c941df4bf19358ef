/**
 * A node on a device file: `openNodeDevice` opens it for writing, formatting it first if the
 * file does not exist. The format is built under a temporary name and renamed into place, so a
 * kill -9 during format never leaves a half-formatted device at `path` (the next open formats
 * again). The event commands (`pump`, `demo`, `redeliver`) and library users share it.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { detailsBytesMaxDefault, fifoSlotsMax } from '../constants.js';
import { assert } from '../events/assert.js';
import { NodeError } from '../events/errors.js';
import { DirectNvram, TracedNvram, type Durability } from '../nvram/index.js';
import { formatNode, nodeLayout, readNodeGeometry, type NodeLimits } from './layout.js';

/** The size of a device file the commands format (SPEC 3: a multiple of 4096). */
export const nodeDeviceBytesDefault = 64 << 20;
/** Largest runtime FIFO a default format gets: recovery reads every slot at boot. */
const runtimeSlotsFormatMax = 1 << 16;

export interface NodeDeviceOptions {
  durability: Durability;
  /** Used only when the file is formatted here. */
  detailsBytesMax?: number;
  sizeBytes?: number;
}

export interface OpenedNodeDevice {
  device: DirectNvram;
  /** True if this call created the file. */
  formatted: boolean;
}

/**
 * The limits of a device formatted here: the largest power-of-two runtime FIFO (up to
 * runtimeSlotsFormatMax) whose layout fits in `sizeBytes`.
 */
export function formatLimits(sizeBytes: number, detailsBytesMax: number): NodeLimits {
  for (let runtimeSlots = runtimeSlotsFormatMax; runtimeSlots >= 16; runtimeSlots /= 2) {
    const limits = { detailsBytesMax, runtimeSlots };
    if (nodeLayout(limits).sizeBytes <= sizeBytes) return limits;
  }
  throw new NodeError(
    'NODE_BAD_LAYOUT',
    `nvrelay: ${sizeBytes} bytes cannot hold a node with ${detailsBytesMax}-byte details`,
  );
}

/**
 * Formats `path` as a node device: the device under `<path>.formatting`, the node's sections
 * on an in-memory image of it (so formatting counts no boot, like `nvrelay init`), written
 * back and synced, then renamed into place.
 */
export function formatNodeDevice(path: string, sizeBytes: number, limits: NodeLimits): void {
  const layout = nodeLayout(limits);
  assert(layout.geometry.runtimeSlots <= fifoSlotsMax, 'runtime FIFO too large');
  const building = `${path}.formatting`;
  DirectNvram.format(building, { sizeBytes, sections: layout.sections, force: true });
  const image = TracedNvram.fromImage(new Uint8Array(readFileSync(building)), { boot: false });
  try {
    formatNode(image, limits);
    const fd = openSync(building, 'r+');
    try {
      const bytes = image.buildDurableImage();
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } finally {
    image.close();
  }
  renameSync(building, path);
}

/**
 * Opens the node device at `path` for writing (taking its lock, counting a boot), formatting
 * it first if the file does not exist. A device whose sections are there but whose node control
 * block is all zeros (a node format that never completed, or `nvrelay init` with the node's
 * sections) is formatted in place: the control block is written last, so no event was ever
 * recorded on it.
 */
export function openNodeDevice(path: string, options: NodeDeviceOptions): OpenedNodeDevice {
  const sizeBytes = options.sizeBytes ?? nodeDeviceBytesDefault;
  const detailsBytesMax = Math.max(detailsBytesMaxDefault, options.detailsBytesMax ?? 0);
  const limits = formatLimits(sizeBytes, detailsBytesMax);
  let formatted = false;
  if (!existsSync(path)) {
    formatNodeDevice(path, sizeBytes, limits);
    formatted = true;
  }
  const device = DirectNvram.open(path, { durability: options.durability });
  try {
    readNodeGeometry(device);
  } catch (error) {
    if (!(error instanceof NodeError) || error.code !== 'NODE_UNFORMATTED') {
      device.close();
      throw error;
    }
    formatNode(device, limits); // NODE_BAD_LAYOUT if its sections are too small for them
    formatted = true;
  }
  return { device, formatted };
}
