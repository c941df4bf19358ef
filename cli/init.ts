/**
 * `nvrelay init <device> [--size 64M] [limits] [--force]`: format a file as a node device,
 * ready for `pump`, `demo` and library users: the node's sections and control block, laid out
 * for the limits given (the runtime FIFO as large as the size allows unless --runtime-slots).
 *
 * `nvrelay init <device> --bare --size 64M [--sections name:size,...] [--force]`: a bare
 * NVRAM device with the sections given (for code written against `NvramDevice` itself).
 */
import { existsSync, unlinkSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  detailsBytesLimit,
  detailsBytesMaxDefault,
  fifoSlotsMax,
  recipientsMax,
} from '../src/constants.js';
import { NodeError } from '../src/events/errors.js';
import { formatLimits, formatNodeDevice, nodeDeviceBytesDefault } from '../src/node/device-file.js';
import { nodeLayout, type NodeGeometry, type NodeLimits } from '../src/node/layout.js';
import {
  DirectNvram,
  inspectDeviceFile,
  NvramError,
  type HeaderInfo,
  type SectionSpec,
} from '../src/nvram/index.js';
import { formatSize, parseSections, parseSize } from './arguments.js';

interface InitOptions {
  size: number;
  bare?: boolean;
  sections?: SectionSpec[];
  force?: boolean;
  json?: boolean;
  detailsBytesMax?: number;
  runtimeSlots?: number;
  bootSlots?: number;
  deadLetterSlots?: number;
  recipientsMax?: number;
}

/** The smallest runtime FIFO init chooses by itself (formatLimits' smallest). */
const runtimeSlotsMin = 16;

/** The node's limits as options: [flag, NodeLimits key, low, high, what]. */
const limitOptions = [
  ['--details-bytes-max', 'detailsBytesMax', 0, detailsBytesLimit, 'largest details of an event'],
  ['--runtime-slots', 'runtimeSlots', 1, fifoSlotsMax, 'slots of the runtime FIFO'],
  ['--boot-slots', 'bootSlots', 1, fifoSlotsMax, 'slots of the boot FIFO'],
  ['--dead-letter-slots', 'deadLetterSlots', 1, fifoSlotsMax, 'dead letters kept'],
  ['--recipients-max', 'recipientsMax', 1, recipientsMax, 'recipients the node can register'],
] as const satisfies ReadonlyArray<readonly [string, keyof NodeLimits, number, number, string]>;

export function registerInit(program: Command): void {
  const command = program
    .command('init')
    .description('format a file as a node device (or, with --bare, a bare NVRAM device), mode 0600')
    .argument('<device>', 'path of the device file')
    .addOption(
      new Option('--size <size>', 'device size, a multiple of 4096 (suffixes K, M, G)')
        .argParser(parseSize)
        .default(nodeDeviceBytesDefault, formatSize(nodeDeviceBytesDefault)),
    )
    .option('--force', 'replace an existing file')
    .option('--json', 'print the layout made as one JSON object');
  for (const [flag, , low, high, what] of limitOptions) {
    command.addOption(
      new Option(`${flag} <n>`, `${what}, in [${low}, ${high}] (node device)`)
        .argParser(integerIn(low, high))
        .conflicts('bare'),
    );
  }
  command
    .option('--bare', 'a bare NVRAM device: only the sections given by --sections')
    .option(
      '--sections <list>',
      'with --bare: sections laid out in order, e.g. events:1M,boot:64K',
      parseSections,
    )
    .action((device: string, options: InitOptions, self: Command) => {
      if (options.bare === true) {
        report(initBare(device, options), options);
        return;
      }
      if (options.sections !== undefined) {
        self.error(
          "error: option '--sections <list>' lays out a bare device: add --bare " +
            '(a node device lays out its own sections)',
          { exitCode: 2, code: 'nvrelay.sectionsWithoutBare' },
        );
      }
      report(initNode(device, options), options);
    });
}

/** What init made: the device, its sections, and for a node device the node's limits. */
export interface InitReport {
  path: string;
  kind: 'node' | 'bare';
  sizeBytes: number;
  deviceId: string;
  sections: { name: string; offset: number; length: number }[];
  geometry?: NodeGeometry;
}

function initReport(path: string, header: HeaderInfo, geometry?: NodeGeometry): InitReport {
  return {
    path,
    kind: geometry === undefined ? 'bare' : 'node',
    sizeBytes: header.sizeBytes,
    deviceId: deviceIdText(header.deviceId),
    sections: header.sections.map(({ name, offset, length }) => ({ name, offset, length })),
    ...(geometry === undefined ? {} : { geometry }),
  };
}

function report(made: InitReport, options: InitOptions): void {
  if (options.json === true) {
    console.log(JSON.stringify(made, null, 2));
    return;
  }
  const count = made.sections.length;
  const kind = made.geometry === undefined ? '' : 'node device, ';
  console.log(
    `formatted ${made.path}: ${kind}${formatSize(made.sizeBytes)}, ${count} section${count === 1 ? '' : 's'}, device id ${made.deviceId}`,
  );
  for (const line of sectionLines(made.sections)) console.log(`  ${line}`);
  if (made.geometry !== undefined)
    for (const line of geometryLines(made.geometry)) console.log(`  ${line}`);
}

/** The section table as a small table: name, offset, length. */
function sectionLines(sections: InitReport['sections']): string[] {
  if (sections.length === 0) return [];
  const width = Math.max(7, ...sections.map((section) => section.name.length));
  return [
    `${'section'.padEnd(width)}  ${'offset'.padStart(10)}  ${'length'.padStart(10)}`,
    ...sections.map(
      ({ name, offset, length }) =>
        `${name.padEnd(width)}  ${String(offset).padStart(10)}  ${String(length).padStart(10)}  ${formatSize(length)}`,
    ),
  ];
}

function integerIn(low: number, high: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < low || value > high)
      throw new InvalidArgumentError(`expected an integer in [${low}, ${high}], got '${text}'`);
    return value;
  };
}

function initBare(device: string, options: InitOptions): InitReport {
  const header = DirectNvram.format(device, {
    sizeBytes: options.size,
    sections: options.sections ?? [],
    force: options.force === true,
  });
  return initReport(device, header);
}

function initNode(device: string, options: InitOptions): InitReport {
  const limits = nodeLimits(device, options);
  const exists = (): NvramError =>
    new NvramError(
      'NVRAM_FILE_EXISTS',
      `${device}: file exists (init refuses to overwrite it; --force replaces it)`,
    );
  const force = options.force === true;
  if (!force && existsSync(device)) throw exists();
  // formatNodeDevice publishes a finished device, never a half-formatted one; it returns false
  // (and leaves the file) if one is at `device`: then only --force removes it and formats again.
  let published: unknown = formatNodeDevice(device, options.size, limits);
  if (published === false && force) {
    removeIfPresent(device);
    published = formatNodeDevice(device, options.size, limits);
  }
  if (published === false) throw exists();
  return initReport(device, inspectDeviceFile(device), nodeLayout(limits).geometry);
}

/**
 * The limits asked for, defaults filled in; without --runtime-slots, the runtime FIFO a
 * formatting `pump` would give (formatLimits), halved until the other limits fit too.
 */
function nodeLimits(device: string, options: InitOptions): NodeLimits {
  const limits: NodeLimits = {
    detailsBytesMax: options.detailsBytesMax ?? detailsBytesMaxDefault,
  };
  for (const [, key] of limitOptions) {
    const value = options[key];
    if (value !== undefined) limits[key] = value;
  }
  const fits = (candidate: NodeLimits) => nodeLayout(candidate).sizeBytes <= options.size;
  if (options.runtimeSlots === undefined) {
    let runtimeSlots = runtimeSlotsMin;
    try {
      runtimeSlots =
        formatLimits(options.size, limits.detailsBytesMax as number).runtimeSlots ??
        runtimeSlotsMin;
    } catch (error) {
      if (!(error instanceof NodeError)) throw error; // too small even so: reported below
    }
    while (runtimeSlots > runtimeSlotsMin && !fits({ ...limits, runtimeSlots })) runtimeSlots /= 2;
    limits.runtimeSlots = runtimeSlots;
  }
  if (!fits(limits)) {
    throw new NodeError(
      'NODE_BAD_LAYOUT',
      `${device}: ${formatSize(options.size)} cannot hold a node with these limits ` +
        `(it needs ${formatSize(nodeLayout(limits).sizeBytes)}; give a larger --size or smaller limits)`,
    );
  }
  return limits;
}

function geometryLines(geometry: NodeGeometry): string[] {
  return [
    `runtime FIFO   ${geometry.runtimeSlots} slots`,
    `boot FIFO      ${geometry.bootSlots} slots`,
    `dead letters   ${geometry.deadLetterSlots} slots`,
    `slot size      ${formatSize(geometry.slotBytes)} (details up to ${geometry.detailsBytesMax} bytes)`,
    `recipients     up to ${geometry.recipientsMax}`,
  ];
}

function deviceIdText(id: bigint): string {
  return id.toString(16).padStart(16, '0');
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
