/**
 * Fixtures for the HA pair in one process: two nodes on traced devices with partner sections,
 * a mirror link between them that the test can take down or hold, and the log lines a pair's
 * parts write.
 */
import pino, { type Logger } from 'pino';
import { PartnerMirror } from '../../src/ha/partner-mirror.js';
import { pairLayout } from '../../src/ha/layout.js';
import { MirrorSource, type MirrorPort } from '../../src/ha/mirror-source.js';
import type { MirrorAck, MirrorUpdate } from '../../src/ha/mirror-update.js';
import type { LeaseGrant, LeaseRecord, StreamLeases } from '../../src/ha/lease.js';
import { formatNode, readNodeGeometry } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import { TracedNvram } from '../../src/nvram/index.js';
import { ManualClock, smallLimits } from '../engine/harness.js';

export const nodeA = 0xa1n;
export const nodeB = 0xb2n;
export const idOf = (id: bigint): string => id.toString(16).padStart(16, '0');

/** A formatted node device with partner sections. */
export function pairDevice(deviceId: bigint): TracedNvram {
  const layout = pairLayout(smallLimits);
  const device = TracedNvram.format(layout.sizeBytes, layout.sections, { deviceId });
  formatNode(device, smallLimits);
  return device;
}

export function openMirror(device: TracedNvram): PartnerMirror {
  return new PartnerMirror(device, readNodeGeometry(device));
}

/** The mirror link in one process: updates applied at once, unless down or held. */
export class LocalPort implements MirrorPort {
  mirror: PartnerMirror;
  down = false;
  held: (() => void)[] = [];
  hold = false;
  readonly updates: MirrorUpdate[] = [];

  constructor(mirror: PartnerMirror) {
    this.mirror = mirror;
  }

  send(update: MirrorUpdate): Promise<MirrorAck> {
    if (this.down) return Promise.reject(new Error('mirror link down'));
    this.updates.push(update);
    if (!this.hold) return Promise.resolve(this.mirror.apply(update));
    return new Promise((resolve) => this.held.push(() => resolve(this.mirror.apply(update))));
  }

  release(): void {
    for (const go of this.held.splice(0)) go();
  }
}

/** Lets promise callbacks run (several turns of the microtask queue and one macrotask). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One line of the pair's log, as pino wrote it. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger whose lines (debug and up) are kept in `lines`, parsed. */
export function keptLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'debug' },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  return { log, lines };
}

/** Waits until `condition` holds, polling every 10 ms; fails naming `what` after `ms`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const give = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > give) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Node A emits `types` (recipient `pager` registered, never confirming) while it mirrors into a
 * fresh device of node B: both stay pending, on A and in B's mirror. A's node is closed after.
 */
export async function mirroredEvents(
  types: readonly string[],
): Promise<{ aDevice: TracedNvram; bDevice: TracedNvram; seqs: number[] }> {
  const aDevice = pairDevice(nodeA);
  const bDevice = pairDevice(nodeB);
  const a = Node.boot(aDevice, { scheduling: 'manual', clock: new ManualClock() });
  a.registerRecipient('pager', {}, () => {});
  const source = new MirrorSource(a);
  a.start();
  await source.connected(new LocalPort(openMirror(bDevice)));
  const seqs: number[] = [];
  for (const type of types) {
    const acked = a.producer('raid').emitAsync(type, 'err');
    a.commit();
    await settle();
    seqs.push(await acked);
  }
  source.close();
  a.close();
  return { aDevice, bDevice, seqs };
}

/** A coordinator passing every call to `inner`: a test overrides the calls it makes misbehave. */
export class LeasesThrough implements StreamLeases {
  readonly inner: StreamLeases;
  constructor(inner: StreamLeases) {
    this.inner = inner;
  }
  get ttlMs(): number {
    return this.inner.ttlMs;
  }
  acquire(stream: string, holder: string): Promise<LeaseGrant | null> {
    return this.inner.acquire(stream, holder);
  }
  renew(grant: LeaseGrant): Promise<boolean> {
    return this.inner.renew(grant);
  }
  release(grant: LeaseGrant): Promise<void> {
    return this.inner.release(grant);
  }
  current(stream: string): Promise<LeaseRecord | null> {
    return this.inner.current(stream);
  }
  last(stream: string): Promise<LeaseRecord | null> {
    return this.inner.last(stream);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
