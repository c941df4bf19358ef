/**
 * One node of the simulated HA pair [193] (./ha-run.ts): its traced device (pairLayout: its own
 * sections and its partner's mirror), and while it is up its Node, PartnerMirror, MirrorSource
 * (sending through the interconnect), Multiplexer (the takeover's path), its own stream's lease
 * grant and, while it holds its partner's stream, the Takeover. The same leaf recipients are
 * registered on both nodes; they record what they receive as marks for ./ha-check.ts.
 */
import type { Recipient } from '../../src/engine/recipient.js';
import { pairLayout, partnerSectionNames } from '../../src/ha/layout.js';
import { MirrorSource } from '../../src/ha/mirror-source.js';
import { PartnerMirror } from '../../src/ha/partner-mirror.js';
import type { Takeover } from '../../src/ha/takeover.js';
import type { Handover } from '../../src/ha/mirror-update.js';
import { decodeRecord } from '../../src/events/record.js';
import { PersistentFifo, SlotVerdict } from '../../src/fifo/fifo.js';
import type { Multiplexer } from '../../src/mux/multiplexer.js';
import {
  fifoGeometry,
  formatNode,
  readNodeGeometry,
  sectionNames,
  type NodeLimits,
} from '../../src/node/layout.js';
import type { Node } from '../../src/node/node.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import type { LeaseGrant } from './coordinator.js';

/** Both nodes alike (a mirror is a copy slot for slot); room for three hops of origin trail. */
export const pairLimits: NodeLimits = {
  detailsBytesMax: 64 + 3 * 17,
  bootSlots: 8,
  runtimeSlots: 32,
  deadLetterSlots: 4,
  recipientsMax: 8,
};

export interface LeafSpec {
  name: string;
  prefixes: readonly string[];
  /** Confirms on the node's next drain instead of at once. */
  late: boolean;
}

export const leaves: readonly LeafSpec[] = [
  { name: 'pager', prefixes: ['disk.'], late: false },
  { name: 'audit', prefixes: [''], late: true },
];

export const eventTypes = ['disk.failed', 'fan.slow', 'disk.rebuilt'] as const;

export function intendedLeaves(type: string): string[] {
  return leaves
    .filter((leaf) => leaf.prefixes.some((prefix) => type.startsWith(prefix)))
    .map((leaf) => leaf.name);
}

/** A freshly formatted pair device (a node's first, or one that replaced lost NVRAM). */
export function formattedPairImage(deviceId: bigint): Uint8Array {
  const layout = pairLayout(pairLimits);
  const device = TracedNvram.format(layout.sizeBytes, layout.sections, { deviceId });
  formatNode(device, pairLimits);
  const image = device.buildDurableImage();
  device.close();
  return image;
}

export interface RunningTakeover {
  run: Takeover;
  grant: LeaseGrant;
  held: () => boolean;
  done: boolean;
  /** The multiplexer's refusals when it started. */
  refused: number;
}

export class PairNode {
  /** 'A' or 'B': the node's name and its stream's. */
  readonly name: string;
  readonly index: number;
  deviceId: bigint;
  device: TracedNvram;
  incarnation = 0;
  node: Node | null = null;
  mirror: PartnerMirror | null = null;
  source: MirrorSource | null = null;
  mux: Multiplexer | null = null;
  /** The lease on its own stream while it is up. */
  grant: LeaseGrant | null = null;
  takeover: RunningTakeover | null = null;
  /** Releasing what an earlier takeover recorded, before a giveback (Takeover.releasing). */
  releasing: Takeover | null = null;
  readonly late: { recipient: Recipient; seq: number }[] = [];
  /** Steps left before a node that is down tries to come back (-1: it is up). */
  rebootIn = -1;
  /** Its NVRAM was replaced: it may return only once the partner took its stream over. */
  nvramLost = false;
  /** Devices it has had (a replaced NVRAM is a new node id). */
  generation = 0;

  constructor(name: string, index: number, deviceId: bigint) {
    this.name = name;
    this.index = index;
    this.deviceId = deviceId;
    this.device = TracedNvram.fromImage(formattedPairImage(deviceId), { boot: false });
  }

  get up(): boolean {
    return this.node !== null;
  }

  get id(): string {
    return this.deviceId.toString(16).padStart(16, '0');
  }

  /** Everything volatile is gone (the device stays as the caller leaves it). */
  forget(): void {
    this.source?.close();
    this.takeover?.run.stop();
    this.releasing?.stop();
    this.releasing = null;
    this.node = null;
    this.mirror = null;
    this.source = null;
    this.mux = null;
    this.grant = null;
    this.takeover = null;
    this.late.length = 0;
  }

  /** The NVRAM is replaced by a freshly formatted one: a new node id. */
  replaceDevice(): void {
    this.generation++;
    this.deviceId = BigInt(0xa1 + this.index * 0x11) + BigInt(this.generation) * 0x100n;
    this.device = TracedNvram.fromImage(formattedPairImage(this.deviceId), { boot: false });
  }
}

/**
 * The seqs of this node's own records the partner's handover covers (before its heads, or handed
 * back by position), pending here: what a giveback retires unreplayed. Reads only.
 */
export function takenOverSeqs(device: TracedNvram, handover: Handover): number[] {
  const geometry = readNodeGeometry(device);
  const seqs: number[] = [];
  [sectionNames.bootFifo, sectionNames.runtimeFifo].forEach((name, k) => {
    const slots = k === 0 ? geometry.bootSlots : geometry.runtimeSlots;
    const fifo = new PersistentFifo(device, name, fifoGeometry(geometry, slots));
    const { head, tail, verdicts } = fifo.recover({ repair: false });
    const end = Math.min(handover.heads[k] ?? 0, tail);
    const taken = new Set(
      handover.taken.filter((t) => t.fifo === k).map((t) => `${t.position}:${t.seq}`),
    );
    for (let position = head; position < tail; position++) {
      if (verdicts[position - head] !== SlotVerdict.valid) continue;
      const seq = decodeRecord(fifo.shadow, fifo.slotBase(position)).seq;
      if (position < end || taken.has(`${position}:${seq}`)) seqs.push(seq);
    }
  });
  return seqs;
}

/** The operator's reset of a mirror whose partner's NVRAM was replaced: formatted again. */
export function resetMirror(device: TracedNvram): void {
  for (const name of Object.values(partnerSectionNames)) {
    const section = device.section(name);
    device.storeBytes(section.offset, new Uint8Array(section.length));
    device.persist(section.offset, section.length);
  }
}
