/**
 * What a giveback retires unreplayed [193] (takenOverSeqs, sim/ha/pair-node.ts): the returning
 * node's pending records before the partner's mirror heads (never past its own tail), and those
 * handed back by position whose seq matches; a handover without heads covers nothing by head.
 */
import { expect, test } from 'vitest';
import { HaPair } from '../../sim/ha/ha-pair.js';
import { takenOverSeqs, type PairNode } from '../../sim/ha/pair-node.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('records before the heads, and by position with a matching seq', async () => {
  const pair = new HaPair({ seed: 1, events: 0, model: 'px86', imagesPerCut: 4 });
  const [a, b] = pair.nodes as [PairNode, PairNode];
  expect(pair.comeBack(a) && pair.comeBack(b)).toBe(true);
  const seqs: number[] = [];
  for (const k of [1, 2]) {
    void a.node
      ?.producer('ctl')
      .emitAsync('fan.slow', 'err', new Uint8Array([k]))
      .then((seq) => seqs.push(seq));
    a.node?.commit();
    for (let round = 0; round < 4; round++) {
      while (pair.channels[0]?.move({ lose: false, duplicate: false }) !== 'none');
      await turn();
    }
  }
  expect(seqs).toHaveLength(2);
  pair.fence(a);
  // heads far past the tails: every pending record, nothing past the tail
  expect(takenOverSeqs(a.device, { heads: [1_000, 1_000], taken: [] })).toEqual(seqs);
  // no heads: nothing by head
  expect(takenOverSeqs(a.device, { heads: [], taken: [] })).toEqual([]);
  // the FIFO that holds them, and the position of the first: the smallest head covering it
  const fifo = takenOverSeqs(a.device, { heads: [1_000, 0], taken: [] }).length > 0 ? 0 : 1;
  const heads = [0, 0];
  let first = -1;
  for (let position = 0; position < 1_000 && first < 0; position++) {
    heads[fifo] = position + 1;
    if (takenOverSeqs(a.device, { heads, taken: [] }).length > 0) first = position;
  }
  expect(takenOverSeqs(a.device, { heads, taken: [] })).toEqual([seqs[0]]);
  // the second record handed back by position: only with its own seq
  const second = { fifo, position: first + 1 };
  expect(
    takenOverSeqs(a.device, { heads: [], taken: [{ ...second, seq: seqs[1] ?? -1 }] }),
  ).toEqual([seqs[1]]);
  expect(
    takenOverSeqs(a.device, { heads: [], taken: [{ ...second, seq: seqs[0] ?? -1 }] }),
  ).toEqual([]);
});
