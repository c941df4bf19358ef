/**
 * A node on a device file: `openNodeDevice` opens it for writing, formatting it first if the
 * file does not exist. A format is built under a name of its own,
 * `<path>.formatting.<pid>.<random>`, and published with link(2), which never replaces a file:
 * of processes racing to create one device exactly one publishes it and the others open that
 * device, so no device that may already hold events is ever clobbered. The directory is fsynced
 * after publishing, so a power cut cannot take back a device that was handed out (and the
 * events acknowledged on it); a kill -9 during format leaves only the temporary file, which
 * later opens remove. The event commands (`pump`, `demo`, `redeliver`) and library users share it.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { detailsBytesMaxDefault, fifoSlotsMax } from '../constants.js';
import { assert } from '../events/assert.js';
import { NodeError } from '../events/errors.js';
import { DirectNvram, NvramError, TracedNvram, type Durability } from '../nvram/index.js';
import {
  formatNode,
  nodeLayout,
  readNodeGeometry,
  type NodeLayout,
  type NodeLimits,
} from './layout.js';

/** The sections of a device for the limits: a node's own (nodeLayout), or more (an HA pair's). */
export type LayoutOf = (limits: NodeLimits) => NodeLayout;

/** The size of a device file the commands format (SPEC 3: a multiple of 4096). */
export const nodeDeviceBytesDefault = 64 << 20;
/** Largest runtime FIFO a default format gets: recovery reads every slot at boot. */
const runtimeSlotsFormatMax = 1 << 16;
/** Between a device's name and the formatting process's id in its temporary name. */
const formattingTag = '.formatting.';
/** The part of a temporary name after `<path>.formatting.`: `<pid>.<16 hex digits>`. */
const formattingSuffix = /^([1-9][0-9]*)\.[0-9a-f]{16}$/;

export interface NodeDeviceOptions {
  durability: Durability;
  /** Used only when the file is formatted here. */
  detailsBytesMax?: number;
  sizeBytes?: number;
  /** The sections of a device formatted here (default nodeLayout). */
  layout?: LayoutOf;
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
export function formatLimits(
  sizeBytes: number,
  detailsBytesMax: number,
  layout: LayoutOf = nodeLayout,
): NodeLimits {
  for (let runtimeSlots = runtimeSlotsFormatMax; runtimeSlots >= 16; runtimeSlots /= 2) {
    const limits = { detailsBytesMax, runtimeSlots };
    if (layout(limits).sizeBytes <= sizeBytes) return limits;
  }
  throw new NodeError(
    'NODE_BAD_LAYOUT',
    `nvrelay: ${sizeBytes} bytes cannot hold a node with ${detailsBytesMax}-byte details`,
  );
}

/**
 * Formats a node device and publishes it at `path` unless a file is already there: the device
 * under a temporary name (preallocated, so a full file system fails here as NvramError NVRAM_IO
 * and not later as SIGBUS), the node's sections on an in-memory image of it (so formatting
 * counts no boot, like `nvrelay init`), written back and synced, then linked to `path` and the
 * directory synced. Returns true if this call published `path`; false if a file was already
 * there (another process won the race), which is left untouched. No temporary file outlives
 * the call.
 */
export function formatNodeDevice(
  path: string,
  sizeBytes: number,
  limits: NodeLimits,
  layoutOf: LayoutOf = nodeLayout,
): boolean {
  const layout = layoutOf(limits);
  assert(layout.geometry.runtimeSlots <= fifoSlotsMax, 'runtime FIFO too large');
  const building = `${path}${formattingTag}${process.pid}.${randomBytes(8).toString('hex')}`;
  let published = false;
  try {
    DirectNvram.format(building, { sizeBytes, sections: layout.sections });
    writeNodeSections(building, limits);
    published = publish(building, path);
  } finally {
    removeIfPresent(building);
  }
  if (published) syncDirectory(dirname(path));
  return published;
}

/** Formats the node on an in-memory image of the device at `building` and writes it back. */
function writeNodeSections(building: string, limits: NodeLimits): void {
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
}

/** Gives the finished device its name; false if `path` exists (link never replaces a file). */
function publish(building: string, path: string): boolean {
  try {
    linkSync(building, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** A new or removed name in `dir` survives a power cut only once the directory is fsynced. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Removes the temporary files of formats of `path` whose process is gone (killed mid-format,
 * or by a power cut): a preallocated device-sized file each. One whose process still runs may
 * be a format in progress and stays. Best effort: an unreadable directory is left for the
 * open or format that follows to report.
 */
function removeAbandonedFormats(path: string): void {
  const dir = dirname(path);
  const prefix = basename(path) + formattingTag;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = formattingSuffix.exec(name.slice(prefix.length))?.[1];
    if (pid !== undefined && !processRuns(Number(pid))) removeIfPresent(join(dir, name));
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // it exists, owned by another user
  }
}

/**
 * Opens the node device at `path` for writing (taking its lock, counting a boot), formatting
 * it first if the file does not exist; if another process publishes the device first, this
 * opens that one (`formatted` is false; NvramError NVRAM_LOCKED while the other holds it open).
 * A device whose sections are there but whose node control block is all zeros (a node format
 * that never completed, or `nvrelay init` with the node's sections) is formatted in place: the
 * control block is written last, so no event was ever recorded on it.
 */
/** How long the process that published a device waits out a racer's brief hold of its lock. */
const justFormattedLockWaitMs = 2_000;

/**
 * Opens the device this process has just published. Processes racing to create it open it as
 * soon as it exists, each for a moment: the one that formatted it waits for such a hold to end
 * (NVRAM_LOCKED for at most 2 s) instead of failing, so it still learns it formatted it. A
 * process that holds the device longer (a daemon) is NVRAM_LOCKED as before.
 */
function openJustFormatted(path: string, durability: NodeDeviceOptions['durability']): DirectNvram {
  const until = Date.now() + justFormattedLockWaitMs;
  for (;;) {
    try {
      return DirectNvram.open(path, { durability });
    } catch (error) {
      if (!(error instanceof NvramError) || error.code !== 'NVRAM_LOCKED' || Date.now() >= until)
        throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); // a synchronous 10 ms
    }
  }
}

export function openNodeDevice(path: string, options: NodeDeviceOptions): OpenedNodeDevice {
  const sizeBytes = options.sizeBytes ?? nodeDeviceBytesDefault;
  const detailsBytesMax = Math.max(detailsBytesMaxDefault, options.detailsBytesMax ?? 0);
  const limits = formatLimits(sizeBytes, detailsBytesMax, options.layout);
  removeAbandonedFormats(path);
  let formatted = false;
  if (!existsSync(path)) formatted = formatNodeDevice(path, sizeBytes, limits, options.layout);
  const device = formatted
    ? openJustFormatted(path, options.durability)
    : DirectNvram.open(path, { durability: options.durability });
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
