/**
 * The `ha` workload: persist order H [193] in the crash lab. A real node (on a traced
 * device, manual scheduling) emits seeded events with a recipient that confirms most of them at
 * once and the rest later, out of order, and its interconnect goes down once (a resync from its
 * head follows); the updates its MirrorSource sends are recorded once, then applied by the
 * partner's mirror on the device under test, which is cut at every instruction.
 *
 * Checked after each recovery: every record the mirror acknowledged whose event the partner had
 * not finished is still pending, at the position it was sent at (no loss, SPEC 4.1); nothing is
 * pending that the partner did not send (no garbage); no seq is pending twice.
 */
import { pairLayout } from '../../src/ha/layout.js';
import { MirrorSource, type MirrorPort } from '../../src/ha/mirror-source.js';
import type { MirrorAck, MirrorUpdate } from '../../src/ha/mirror-update.js';
import { PartnerMirror } from '../../src/ha/partner-mirror.js';
import { formatNode, readNodeGeometry, type NodeLimits } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { Prng } from '../prng.js';
import type { CrashSubject, StageContext } from '../subject.js';

export const haMirrorLimits: NodeLimits = {
  detailsBytesMax: 64,
  bootSlots: 8,
  runtimeSlots: 16,
  deadLetterSlots: 4,
  recipientsMax: 8,
};

const partnerId = 0xa1n;
const mirrorId = 0xb2n;

/** A port that records each update and answers at once (what the mirror holds is not read). */
class RecordingPort implements MirrorPort {
  readonly updates: MirrorUpdate[] = [];
  down = false;
  send(update: MirrorUpdate): Promise<MirrorAck> {
    if (this.down) return Promise.reject(new Error('mirror link down'));
    this.updates.push(update);
    return Promise.resolve({ tails: [] });
  }
}

function pairDevice(deviceId: bigint): TracedNvram {
  const layout = pairLayout(haMirrorLimits);
  const device = TracedNvram.format(layout.sizeBytes, layout.sections, { deviceId });
  formatNode(device, haMirrorLimits);
  return device;
}

/**
 * The updates a node sends while it emits `events` seeded events (synchronous: a group's update
 * is collected and sent when the group commits; nothing here awaits an acknowledgement).
 */
export function haMirrorUpdates(seed: number, events: number): MirrorUpdate[] {
  const prng = new Prng(seed);
  const clock = { time: 1_000_000, now: () => clock.time };
  const node = Node.boot(pairDevice(partnerId), { scheduling: 'manual', clock });
  const owed: number[] = [];
  const audit = node.registerRecipient('audit', {}, (event, recipient) => {
    if (prng.below(5) === 0)
      owed.push(event.seq); // confirmed later, out of order
    else recipient.confirm(event.seq);
  });
  const port = new RecordingPort();
  const source = new MirrorSource(node, { mode: 'preferred' });
  node.start();
  void source.connected(port);
  const outage = Math.floor(events / 2);
  for (let k = 0; k < events; k++) {
    if (k === outage) port.down = true; // two events unmirrored, then a resync from the head
    if (k === outage + 2) {
      port.down = false;
      void source.connected(port);
    }
    const type = prng.below(3) === 0 ? 'disk.failed' : 'fan.slow';
    node
      .producer('p')
      .emitAsync(type, 'info')
      .catch(() => {});
    node.commit();
    node.drain();
    if (prng.below(4) === 0) void source.syncState();
    if (prng.below(6) === 0) for (const seq of owed.splice(0)) audit.confirm(seq);
    node.drain();
  }
  void source.syncState();
  source.close();
  return port.updates;
}

export interface MirrorRecovered {
  pending: { seq: number; at: string }[];
}

function seqOf(record: Uint8Array): number {
  return Number(new DataView(record.buffer, record.byteOffset).getBigUint64(24, true));
}

/**
 * Seqs the partner finished: passed by a head it sent, or fully confirmed in a word or record it
 * sent (a mirror that keeps them pending only makes a takeover deliver them again).
 */
function finishedSeqs(updates: readonly MirrorUpdate[]): Set<number> {
  const seqAt = new Map<string, number>();
  const finished = new Set<number>();
  for (const update of updates) {
    for (const part of update.fifos) {
      part.records.forEach((record, k) => {
        seqAt.set(`${part.fifo}:${part.from + k}`, seqOf(record));
        const view = new DataView(record.buffer, record.byteOffset);
        if (view.getUint32(0, true) !== 0 || (view.getUint32(4, true) & 0xffffff) !== 0)
          finished.add(seqOf(record));
      });
      for (let i = 0; i + 2 < part.confirmations.length; i += 3) {
        const seq = seqAt.get(`${part.fifo}:${part.confirmations[i]}`);
        if (seq !== undefined) finished.add(seq);
      }
      for (const [key, seq] of seqAt) {
        const [fifo, position] = key.split(':').map(Number);
        if (fifo === part.fifo && (position as number) < part.head) finished.add(seq);
      }
    }
  }
  return finished;
}

function check(
  recovered: MirrorRecovered,
  marks: readonly number[][],
  updates: readonly MirrorUpdate[],
): string[] {
  const findings: string[] = [];
  const sent = new Map<number, string>();
  for (const update of updates)
    for (const part of update.fifos)
      part.records.forEach((record, k) => sent.set(seqOf(record), `${part.fifo}:${part.from + k}`));
  for (const event of recovered.pending)
    if (sent.get(event.seq) !== event.at)
      findings.push(`pending seq ${event.seq} at ${event.at} was never sent there`);
  const pending = new Set(recovered.pending.map((event) => event.seq));
  if (pending.size !== recovered.pending.length) findings.push('a seq is pending twice');
  const finished = finishedSeqs(updates);
  for (const seq of marks.flat())
    if (!pending.has(seq) && !finished.has(seq)) findings.push(`acknowledged seq ${seq} is lost`);
  return findings;
}

/**
 * The partner mirror applying `updates`; `ackAtSend`: the mutant that acknowledges an emit once
 * its update is sent, before the mirror made it durable.
 */
export function haMirrorSubject(
  updates: readonly MirrorUpdate[],
  ackAtSend = false,
): CrashSubject<MirrorRecovered, number[]> {
  const layout = pairLayout(haMirrorLimits);
  return {
    name: ackAtSend ? 'ha-ack-at-send' : 'ha',
    format: { sizeBytes: layout.sizeBytes, sections: layout.sections, deviceId: mirrorId },
    prepare(device: NvramDevice) {
      formatNode(device, haMirrorLimits);
    },
    workload(device: NvramDevice, context: StageContext<number[]>) {
      const mirror = new PartnerMirror(device, readNodeGeometry(device));
      for (const update of updates) {
        const seqs = update.fifos.flatMap((part) => part.records.map(seqOf));
        if (ackAtSend) context.mark(seqs);
        mirror.apply(update);
        if (!ackAtSend) context.mark(seqs);
      }
    },
    recover(device: NvramDevice): MirrorRecovered {
      const mirror = new PartnerMirror(device, readNodeGeometry(device));
      return {
        pending: mirror.pending().map((event) => ({
          seq: event.record.seq,
          at: `${event.fifo}:${event.position}`,
        })),
      };
    },
    check: (outcome) => check(outcome.recovered, outcome.marks, updates),
  };
}
