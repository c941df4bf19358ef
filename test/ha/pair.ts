/**
 * Fixtures for the HA pair in one process: two nodes on traced devices with partner sections,
 * and a mirror link between them that the test can take down or hold.
 */
import { PartnerMirror } from '../../src/ha/partner-mirror.js';
import { pairLayout } from '../../src/ha/layout.js';
import type { MirrorPort } from '../../src/ha/mirror-source.js';
import type { MirrorAck, MirrorUpdate } from '../../src/ha/mirror-update.js';
import { formatNode, readNodeGeometry } from '../../src/node/layout.js';
import { TracedNvram } from '../../src/nvram/index.js';
import { smallLimits } from '../engine/harness.js';

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
