/**
 * Test fixtures for the event core: a node on an in-memory traced device, with manual
 * scheduling and a clock the test moves by hand.
 */
import { NodeError } from '../../src/events/errors.js';
import { Node, type NodeOptions } from '../../src/node/node.js';
import { formatNode, nodeLayout, type NodeLimits } from '../../src/node/layout.js';
import { TracedNvram } from '../../src/nvram/index.js';

export class ManualClock {
  time = 1_000_000;
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export const smallLimits: NodeLimits = {
  detailsBytesMax: 64,
  bootSlots: 8,
  runtimeSlots: 16,
  deadLetterSlots: 4,
  recipientsMax: 8,
};

/** A freshly formatted traced device holding a node with these limits. */
export function freshDevice(limits: NodeLimits = smallLimits): TracedNvram {
  const layout = nodeLayout(limits);
  const device = TracedNvram.format(layout.sizeBytes, layout.sections);
  formatNode(device, limits);
  return device;
}

export interface TestNode {
  device: TracedNvram;
  node: Node;
  clock: ManualClock;
}

export function bootNode(
  device: TracedNvram = freshDevice(),
  options: NodeOptions = {},
  clock = new ManualClock(),
): TestNode {
  const node = Node.boot(device, { scheduling: 'manual', clock, ...options });
  return { device, node, clock };
}

/** Power off with only durable state and boot a new device from it (a clean power cut). */
export function rebootDurable(device: TracedNvram): TracedNvram {
  return TracedNvram.fromImage(device.buildDurableImage());
}

export const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

/** The code of the NodeError `run` throws, or 'accepted'. */
export function outcome(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof NodeError) return error.code;
    throw error;
  }
  return 'accepted';
}

/** The instructions a traced device ran since `from`: [kind, offset, length] (0 store, 1 flush, 2 fence). */
export function instructions(nvram: TracedNvram, from: number): [number, number, number][] {
  const trace = nvram.exportTrace();
  const out: [number, number, number][] = [];
  for (let i = from; i < trace.kinds.length; i++)
    out.push([trace.kinds[i] as number, trace.offsets[i] as number, trace.lengths[i] as number]);
  return out;
}
