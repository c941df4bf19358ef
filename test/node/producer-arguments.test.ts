/**
 * What a producer [110] accepts before it records an event [212]: a type that is not a string
 * is BAD_ARGUMENT from emit, emitAsync and emitRelayed alike, even as a producer's first call,
 * and the node keeps running (a caller's mistake is not a device error: no fail-stop); a
 * mirrored node refuses emit (MIRROR_UNAVAILABLE) and records nothing; a remote producer's
 * counter is accepted up to seqMax; emitRelayed's `except` ids [193] must lie in
 * [0, recipientsMax), and exactly the recipients they name, below and above 32, are left out
 * of the event's delivery [215].
 */
import { describe, expect, test } from 'vitest';
import { recipientsMax, seqMax } from '../../src/constants.js';
import { NodeError } from '../../src/events/errors.js';
import type { Node } from '../../src/node/node.js';
import { bootNode, freshDevice, smallLimits } from '../engine/harness.js';

function expectRefused(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(NodeError);
  expect((thrown as NodeError).code).toBe(code);
}

/** One recorded event reaches the recipients it is meant for. */
async function deliveredOnce(node: Node, emitted: Promise<number>): Promise<number> {
  node.commit();
  const seq = await emitted;
  node.drainUntilIdle();
  return seq;
}

describe('the event type', () => {
  test('not a string: BAD_ARGUMENT from each emit, first call or not; the node keeps running', async () => {
    const { node } = bootNode();
    const seen: string[] = [];
    node.registerRecipient('r0', {}, (event, r) => {
      seen.push(event.type);
      r.confirm(event.seq);
    });
    node.start();
    for (const bad of [null, undefined, 7]) {
      expectRefused(() => node.producer('raid').emit(bad as never, 'err'), 'BAD_ARGUMENT');
      expectRefused(() => void node.producer('fan').emitAsync(bad as never, 'err'), 'BAD_ARGUMENT');
      expectRefused(
        () => void node.producer('psu').emitRelayed(bad as never, 'err', null, []),
        'BAD_ARGUMENT',
      );
    }
    expect(node.stats().counters.emitted).toBe(0);
    node.producer('raid').emit('disk.failed', 'err');
    expect(await deliveredOnce(node, node.producer('fan').emitAsync('fan.stopped', 'err'))).toBe(2);
    node.drainUntilIdle();
    expect(seen).toEqual(['disk.failed', 'fan.stopped']);
  });
});

describe('a mirrored node', () => {
  test('emit is MIRROR_UNAVAILABLE and records nothing', () => {
    const { node } = bootNode();
    node.start();
    node.recorder.acknowledgesLater = true;
    expectRefused(() => node.producer('raid').emit('disk.failed', 'err'), 'MIRROR_UNAVAILABLE');
    expect(node.stats().counters.emitted).toBe(0);
  });
});

describe('the counter of emitAsync', () => {
  test('seqMax is accepted, seqMax + 1 is BAD_ARGUMENT', async () => {
    const { node } = bootNode();
    node.start();
    const producer = node.producer('raid');
    expectRefused(
      () => void producer.emitAsync('disk.failed', 'err', null, seqMax + 1),
      'BAD_ARGUMENT',
    );
    expectRefused(() => void producer.emitAsync('disk.failed', 'err', null, -1), 'BAD_ARGUMENT');
    expect(await deliveredOnce(node, producer.emitAsync('disk.failed', 'err', null, seqMax))).toBe(
      1,
    );
    expect(node.stats().counters.emitted).toBe(1);
  });
});

describe('the except ids of emitRelayed', () => {
  const registered = 41;
  const upstream = [{ node: '00000000000000ff', seq: 1 }];

  function relayingNode(): { node: Node; seen: Set<number> } {
    const { node } = bootNode(freshDevice({ ...smallLimits, recipientsMax }));
    const seen = new Set<number>();
    for (let id = 0; id < registered; id++) {
      const recipient = node.registerRecipient(`r${id}`, {}, (event, r) => {
        seen.add(recipient.id);
        r.confirm(event.seq);
      });
      expect(recipient.id).toBe(id);
    }
    node.start();
    return { node, seen };
  }

  test.each([[[]], [[0]], [[1, 31]], [[32]], [[1, 31, 32, 40]], [[0, 33, 40]]])(
    'except %j: every other recipient gets the event',
    async (except) => {
      const { node, seen } = relayingNode();
      await deliveredOnce(
        node,
        node.producer('mux').emitRelayed('disk.failed', 'err', null, upstream, except),
      );
      const expected = Array.from({ length: registered }, (_, id) => id).filter(
        (id) => !except.includes(id),
      );
      expect([...seen].sort((a, b) => a - b)).toEqual(expected);
    },
  );

  test('0 and recipientsMax - 1 are ids; -1, recipientsMax, 1.5 and NaN are BAD_ARGUMENT', async () => {
    const { node } = relayingNode();
    const producer = node.producer('mux');
    for (const bad of [-1, recipientsMax, 1.5, Number.NaN])
      expectRefused(
        () => void producer.emitRelayed('disk.failed', 'err', null, upstream, [bad]),
        'BAD_ARGUMENT',
      );
    expect(node.stats().counters.emitted).toBe(0);
    const seq = producer.emitRelayed('disk.failed', 'err', null, upstream, [
      0,
      5,
      recipientsMax - 1,
    ]);
    expect(await deliveredOnce(node, seq)).toBe(1);
  });
});
