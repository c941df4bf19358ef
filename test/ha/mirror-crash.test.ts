/**
 * Persist order H in the crash lab: the partner mirror applying a real node's updates (records,
 * confirmations, head moves, slot reuse round the ring, a resynchronisation) is cut at every
 * instruction, under each persistency model, and recovered: every record the mirror had
 * acknowledged and the partner had not finished is still pending, intact, and nothing is
 * pending that the partner did not send.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { crashTest } from '../../sim/harness/index.js';
import { pairLayout } from '../../src/ha/layout.js';
import { MirrorSource } from '../../src/ha/mirror-source.js';
import type { MirrorUpdate } from '../../src/ha/mirror-update.js';
import { PartnerMirror } from '../../src/ha/partner-mirror.js';
import { formatNode, readNodeGeometry } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import { ManualClock, smallLimits } from '../engine/harness.js';
import { LocalPort, nodeA, nodeB, openMirror, pairDevice, settle } from './pair.js';

/** The updates a node sends while it emits 30 events, confirms most, and reconnects once. */
async function recordUpdates(): Promise<MirrorUpdate[]> {
  const a = Node.boot(pairDevice(nodeA), { scheduling: 'manual', clock: new ManualClock() });
  const owed: number[] = [];
  const audit = a.registerRecipient('audit', {}, (event, recipient) => {
    if (event.seq % 5 !== 0) recipient.confirm(event.seq);
    else owed.push(event.seq); // every fifth stays owed a while: out-of-order confirmations
  });
  const port = new LocalPort(openMirror(pairDevice(nodeB)));
  const source = new MirrorSource(a, { mode: 'preferred' });
  a.start();
  await source.connected(port);
  for (let k = 0; k < 30; k++) {
    if (k === 18) port.down = true; // two events unmirrored, then a resync from the head
    if (k === 20) {
      port.down = false;
      await source.connected(port);
    }
    const acked = a.producer('p').emitAsync(k % 3 === 0 ? 'disk.failed' : 'fan.slow', 'info');
    a.commit();
    await settle();
    await acked;
    a.drain();
    if (k % 4 === 3) await source.syncState();
    if (k % 7 === 6) for (const seq of owed.splice(0)) audit.confirm(seq);
    a.drain();
  }
  await source.syncState();
  source.close();
  return port.updates;
}

interface Recovered {
  pending: { seq: number; bytes: string }[];
}

let updates: MirrorUpdate[] = [];
beforeAll(async () => {
  updates = await recordUpdates();
});

/**
 * `ackAtSend`: the mutant that acknowledges an emit once its update is sent, before the mirror
 * made it durable.
 */
function spec(ackAtSend = false) {
  const layout = pairLayout(smallLimits);
  return {
    name: 'partner-mirror',
    format: { sizeBytes: layout.sizeBytes, sections: layout.sections, deviceId: nodeB },
    prepare(device: NvramDevice) {
      formatNode(device, smallLimits);
    },
    workload(device: NvramDevice, context: { mark(value: number[]): void }, input: MirrorUpdate[]) {
      const mirror = new PartnerMirror(device, readNodeGeometry(device));
      for (const update of input) {
        const seqs = update.fifos.flatMap((part) => part.records.map((r) => seqOf(r)));
        if (ackAtSend) context.mark(seqs);
        mirror.apply(update);
        if (!ackAtSend) context.mark(seqs);
      }
    },
    recover(device: NvramDevice): Recovered {
      const mirror = new PartnerMirror(device, readNodeGeometry(device));
      return {
        pending: mirror.pending().map((event) => ({
          seq: event.record.seq,
          bytes: `${event.record.type}:${event.record.position}`,
        })),
      };
    },
    check(outcome: { recovered: Recovered; marks: readonly number[][] }, input: MirrorUpdate[]) {
      const findings: string[] = [];
      const sent = new Map<number, string>();
      for (const update of input)
        for (const part of update.fifos)
          part.records.forEach((record, k) => sent.set(seqOf(record), `${part.from + k}`));
      const pending = new Set(outcome.recovered.pending.map((event) => event.seq));
      for (const event of outcome.recovered.pending) {
        const position = sent.get(event.seq);
        if (position === undefined || !event.bytes.endsWith(`:${position}`))
          findings.push(`pending seq ${event.seq} was never sent at that position`);
      }
      const seqs = outcome.recovered.pending.map((event) => event.seq);
      const finished = finishedSeqs(input);
      for (const seq of outcome.marks.flat())
        if (!pending.has(seq) && !finished.has(seq))
          findings.push(`acknowledged seq ${seq} is lost`);
      if (new Set(seqs).size !== seqs.length) findings.push('a seq is pending twice');
      return findings;
    },
  };
}

function seqOf(record: Uint8Array): number {
  return Number(new DataView(record.buffer, record.byteOffset).getBigUint64(24, true));
}

/**
 * Seqs the partner finished: passed by a head it sent, or fully confirmed in a word or record it
 * sent (a mirror that keeps them pending only makes a takeover deliver them again).
 */
function finishedSeqs(input: MirrorUpdate[]): Set<number> {
  const seqAt = new Map<string, number>();
  const finished = new Set<number>();
  for (const update of input) {
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

describe('the partner mirror under power cuts (persist order H)', () => {
  test('the recorded updates exercise the ring, confirmations, head moves and a resync', () => {
    const runtime = updates.flatMap((update) => update.fifos.filter((part) => part.fifo === 1));
    const records = runtime.reduce((n, part) => n + part.records.length, 0);
    expect(records).toBeGreaterThan(smallLimits.runtimeSlots as number); // wraps the ring
    expect(runtime.some((part) => part.confirmations.length > 0)).toBe(true);
    expect(new Set(runtime.map((part) => part.head)).size).toBeGreaterThan(2);
    // the resync sends again from the head: some update starts below the previous one's end
    expect(runtime.some((part, k) => k > 0 && part.from < (runtime[k - 1]?.from ?? 0))).toBe(true);
  });

  test('an emit acknowledged when its update is sent, not applied, is caught losing events', () => {
    const result = crashTest(spec(true), { input: updates, model: 'px86', imagesPerCut: 4 });
    expect(result.violations.length).toBeGreaterThan(0);
    expect(result.violations[0]?.message).toMatch(/acknowledged seq \d+ is lost/);
  });

  for (const model of ['px86', 'relaxed', 'eadr'] as const) {
    test(`every cut under ${model}: nothing acknowledged is lost, nothing pending is garbage`, () => {
      const result = crashTest(spec(), { input: updates, model, imagesPerCut: 16 });
      expect(result.violations.map((violation) => violation.message)).toEqual([]);
      expect(result.coverage.cutsVisited).toBe(result.coverage.cutPoints);
    });
  }
});
