/**
 * The simulated HA pair's returns and takeovers [193] (sim/ha/ha-pair.ts), driven step by step:
 * A emits two events mirrored to B, A stops, B takes A's stream over once A's lease runs out.
 * A power cut in the middle of a boot or of a giveback leaves the node down, and its next
 * return completes the giveback before the boot; an error that is not a cut is not taken for
 * one; a damaged control block is a refused boot. A partner that lost its NVRAM while holding
 * the stream has no mirror to give back: the node waits out that lease and replays its own
 * events. A takeover whose lease ran out is stopped and its lease given up. Each history ends
 * checked by sim/ha/ha-check.ts.
 */
import { describe, expect, test } from 'vitest';
import { checkHa } from '../../sim/ha/ha-check.js';
import { HaPair, leaseTtlMs } from '../../sim/ha/ha-pair.js';
import type { PairNode } from '../../sim/ha/pair-node.js';
import { pairProtocol, type PairProtocol } from '../../sim/ha/pair-protocol.js';
import { sectionNames } from '../../src/node/layout.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function pairOf(protocol: PairProtocol = pairProtocol) {
  const pair = new HaPair({ seed: 1, events: 0, model: 'px86', imagesPerCut: 4, protocol });
  const [a, b] = pair.nodes as [PairNode, PairNode];
  return { pair, a, b };
}

/** Every frame moved both ways until none is left (updates applied, acknowledgements back). */
async function mirrorAll(pair: HaPair): Promise<void> {
  for (let round = 0; round < 4; round++) {
    for (const channel of pair.channels)
      while (channel.move({ lose: false, duplicate: false }) !== 'none');
    await turn();
  }
}

/** An emit on `sim` as ha-run.ts marks it: acknowledged once the partner's mirror holds it. */
async function emit(pair: HaPair, sim: PairNode, type: string, k: number): Promise<void> {
  const details = new Uint8Array(8);
  new DataView(details.buffer).setUint32(0, k, true);
  const key = Buffer.from(details).toString('hex');
  const intended = type.startsWith('disk.') ? ['pager', 'audit'] : ['audit'];
  pair.marks.push({ kind: 'attempt', key, node: sim.name, id: sim.id, type, intended });
  void sim.node
    ?.producer('ctl')
    .emitAsync(type, 'err', details)
    .then((seq) => pair.marks.push({ kind: 'acked', key, seq }));
  sim.node?.commit();
  await turn();
  await mirrorAll(pair);
}

/** Distribution passes until every recipient (the late audit too) confirmed. */
async function drain(sim: PairNode): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    for (const { recipient, seq } of sim.late.splice(0)) recipient.confirm(seq);
    sim.node?.drain();
    sim.node?.commit();
    await turn();
  }
}

/** Both up; A's disk.failed and fan.slow acknowledged; A fenced; B takes A's stream over. */
async function takenOver(protocol?: PairProtocol) {
  const { pair, a, b } = pairOf(protocol);
  expect(pair.comeBack(a) && pair.comeBack(b)).toBe(true);
  await turn();
  await emit(pair, a, 'disk.failed', 1);
  await emit(pair, a, 'fan.slow', 2);
  expect(pair.marks.filter((mark) => mark.kind === 'acked')).toHaveLength(2);
  pair.fence(a);
  // A's lease runs out, B's is renewed in between
  pair.clock.time += leaseTtlMs - 100;
  expect(pair.coordinator.renew(b.grant as NonNullable<PairNode['grant']>)).toBe(true);
  pair.clock.time += 200;
  pair.takeOver(b);
  expect(b.takeover?.grant).toMatchObject({ stream: 'A', holder: 'B' });
  return { pair, a, b };
}

const kinds = (pair: HaPair, kind: string) => pair.marks.filter((mark) => mark.kind === kind);
const findings = (pair: HaPair) =>
  checkHa(pair.marks, pair.coordinator.grants).findings.map((f) => f.invariant);

describe('returns of a node of the simulated pair', () => {
  test('a cut during the boot leaves the node down on a crash image; the next return boots it', () => {
    const { pair, a } = pairOf();
    a.device.setPowerCut(a.device.instructionCount + 3);
    expect(pair.comeBack(a)).toBe(true);
    expect(a.up).toBe(false);
    expect(pair.marks).toEqual([
      { kind: 'boot', node: 'A', id: a.id, epoch: 0 },
      { kind: 'fault', node: 'A', what: 'cut' },
    ]);
    expect(a.rebootIn).toBeGreaterThan(0);
    expect(pair.comeBack(a)).toBe(true);
    expect(a.up).toBe(true);
    expect(pair.marks.at(-1)).toEqual({ kind: 'boot', node: 'A', id: a.id, epoch: 1 });
  });

  test('a damaged control block: the boot is refused, a recovery finding', () => {
    const { pair, a } = pairOf();
    const control = a.device.section(sectionNames.control);
    a.device.storeBytes(control.offset, new Uint8Array(16).fill(0x5a));
    a.device.persist(control.offset, 16);
    expect(pair.comeBack(a)).toBe(true);
    expect(a.up).toBe(false);
    const refused = pair.marks.at(-1);
    expect(refused).toMatchObject({ kind: 'refused', node: 'A' });
    expect(checkHa(pair.marks, pair.coordinator.grants).findings).toEqual([
      {
        invariant: 'recovery',
        message: `A refused to boot: ${(refused as { code: string }).code}`,
      },
    ]);
  });

  test('B delivers what it took over; A returns behind a giveback and delivers none of it again', async () => {
    const { pair, a, b } = await takenOver();
    await drain(b);
    expect(b.takeover?.done).toBe(true);
    expect(kinds(pair, 'delivered')).toHaveLength(3); // disk.failed twice, fan.slow once
    expect(pair.comeBack(a)).toBe(true);
    expect(b.takeover).toBeNull();
    expect(kinds(pair, 'giveback')).toEqual([
      { kind: 'giveback', node: 'A', id: a.id, seqs: [1, 2] },
    ]);
    await drain(a);
    expect(kinds(pair, 'delivered')).toHaveLength(3);
    expect(findings(pair)).toEqual([]);
  });

  test('a cut during the giveback: A stays down, and gives back before its next boot', async () => {
    const { pair, a, b } = await takenOver();
    await drain(b);
    a.device.setPowerCut(a.device.instructionCount + 1);
    expect(pair.comeBack(a)).toBe(true);
    expect(a.up).toBe(false);
    expect(pair.marks.at(-1)).toEqual({ kind: 'fault', node: 'A', what: 'cut' });
    expect(kinds(pair, 'giveback')).toEqual([]);
    expect(b.takeover).toBeNull(); // stopped, its lease released, before the heads were read
    expect(pair.coordinator.current('A')).toBeNull();
    expect(pair.comeBack(a)).toBe(true);
    expect(a.up).toBe(true);
    const [giveback] = kinds(pair, 'giveback');
    expect(giveback).toMatchObject({ node: 'A' });
    expect(pair.marks.indexOf(giveback!)).toBeLessThan(pair.marks.length - 1);
    expect(pair.marks.at(-1)).toMatchObject({ kind: 'boot', node: 'A' });
    await drain(a);
    expect(kinds(pair, 'delivered')).toHaveLength(3);
    expect(findings(pair)).toEqual([]);
  });

  test('an error of the giveback that is not a power cut is thrown, the node stays down', async () => {
    const refusing: PairProtocol = {
      ...pairProtocol,
      giveBack: () => {
        throw new Error('handover refused');
      },
    };
    const { pair, a, b } = await takenOver(refusing);
    await drain(b);
    expect(() => pair.comeBack(a)).toThrow('handover refused');
    expect(a.up).toBe(false);
    expect(kinds(pair, 'giveback')).toEqual([]);
  });

  test("B lost its NVRAM while holding A's stream: A waits out that lease, then replays its own events", async () => {
    const { pair, a, b } = await takenOver();
    pair.loseNvram(b);
    expect(pair.coordinator.current('A')?.holder).toBe('B');
    expect(pair.comeBack(a)).toBe(false);
    expect(a.up).toBe(false);
    pair.clock.time += leaseTtlMs;
    expect(pair.comeBack(a)).toBe(true);
    expect(a.up).toBe(true);
    expect(kinds(pair, 'giveback')).toEqual([]);
    await drain(a);
    const delivered = kinds(pair, 'delivered');
    expect(delivered.map((mark) => mark.kind === 'delivered' && [mark.by, mark.takenOver])).toEqual(
      [
        ['A', false],
        ['A', false],
        ['A', false],
      ],
    );
    expect(findings(pair)).toEqual([]);
  });
});

describe('a takeover of the simulated pair', () => {
  test('whose lease ran out before it was done: stopped at the next check, the lease given up', async () => {
    const { pair, b } = await takenOver();
    expect(b.takeover?.done).toBe(false);
    const first = b.takeover?.grant.token;
    pair.clock.time += leaseTtlMs;
    pair.takeOver(b);
    expect(b.takeover).toBeNull();
    expect(pair.coordinator.current('A')).toBeNull();
    // the next check takes the stream over again, under a new grant
    pair.takeOver(b);
    expect(b.takeover?.grant.token).toBeGreaterThan(first ?? 0n);
    expect(kinds(pair, 'fault').map((mark) => mark.kind === 'fault' && mark.what)).toEqual([
      'fenced',
      'takeover of A',
      'takeover of A',
    ]);
  });

  test('that finds its grant not held takes nothing, never counts as done, and is stopped', async () => {
    const unheld: PairProtocol = {
      ...pairProtocol,
      takeoverGrant: (coordinator, stream, holder) => {
        const grant = coordinator.acquire(stream, holder);
        return grant === null ? null : { grant, held: () => false };
      },
    };
    const { pair, b } = await takenOver(unheld);
    await drain(b);
    expect(kinds(pair, 'delivered')).toEqual([]);
    expect(b.takeover?.done).toBe(false);
    pair.takeOver(b);
    expect(b.takeover).toBeNull();
    expect(pair.coordinator.current('A')).toBeNull();
  });
});
