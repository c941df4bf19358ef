/**
 * The cluster of the `mux` workload (docs/ARCHITECTURE.md, "The crash lab for several
 * devices"): an origin node, a multiplexing recipient of it in custody mode, and a second
 * multiplexing recipient of the first in end-to-end mode (a tree of depth 2), each on its own
 * traced device, with leaf recipients on both muxes.
 */
import type { RelayMode } from '../../src/mux/upstream-link.js';
import type { NodeLimits } from '../../src/node/layout.js';

export interface LeafSpec {
  name: string;
  prefixes: readonly string[];
  severityMax: number;
  /** Confirms on a later drain instead of at once. */
  late: boolean;
}

export interface NodeSpec {
  name: string;
  /** Its device id, which is its node id in origin trails. */
  deviceId: bigint;
  /** The node it is a multiplexing recipient of, or null (the origin). */
  upstream: number | null;
  mode: RelayMode;
  leaves: readonly LeafSpec[];
  /**
   * A mux's detailsBytesMax is its upstream's plus 17 (a hop of the origin trail and the hop
   * count, docs/CONFIG.md): anything its upstream holds, its own reports included, fits.
   */
  detailsBytesMax: number;
}

export const clusterNodes: readonly NodeSpec[] = [
  {
    name: 'origin',
    deviceId: 0xa1n,
    upstream: null,
    mode: 'custody',
    leaves: [],
    detailsBytesMax: 64,
  },
  {
    name: 'mux-1',
    deviceId: 0xb2n,
    upstream: 0,
    mode: 'custody',
    leaves: [{ name: 'pager', prefixes: ['disk.'], severityMax: 3, late: false }],
    detailsBytesMax: 64 + 17,
  },
  {
    name: 'mux-2',
    deviceId: 0xc3n,
    upstream: 1,
    mode: 'end-to-end',
    leaves: [
      { name: 'audit', prefixes: [''], severityMax: 7, late: false },
      { name: 'disk', prefixes: ['disk.'], severityMax: 7, late: true },
    ],
    detailsBytesMax: 64 + 17 + 17,
  },
];

/** Small devices: every slot and word is exercised, and a run stays short. */
export const clusterLimits: Omit<NodeLimits, 'detailsBytesMax'> = {
  bootSlots: 8,
  runtimeSlots: 32,
  deadLetterSlots: 4,
  recipientsMax: 8,
};

export const eventTypes = ['disk.failed', 'fan.slow', 'disk.rebuilt'] as const;

/** The leaves an event of this type and level must reach, as `node/leaf`. */
export function intendedLeaves(type: string, level: number): string[] {
  const leaves: string[] = [];
  for (const spec of clusterNodes)
    for (const leaf of spec.leaves)
      if (level <= leaf.severityMax && leaf.prefixes.some((prefix) => type.startsWith(prefix)))
        leaves.push(`${spec.name}/${leaf.name}`);
  return leaves;
}

export function nodeIdOf(spec: NodeSpec): string {
  return spec.deviceId.toString(16).padStart(16, '0');
}
