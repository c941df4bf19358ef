/**
 * Pipelined group commit (NodeOptions.pipelinedFence): a group's fence issued asynchronously,
 * the next group assembled while it runs. Every emit resolves, in seq order of groups, only
 * after its group's fence completed; a synchronous commit (drain without pipelining, close)
 * settles a fence in flight; an error of the asynchronous fence fails the node (fail-stop) and
 * rejects the emits of its group.
 */
import { describe, expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { NvramError } from '../../src/nvram/errors.js';
import { Node } from '../../src/node/node.js';
import { bootNode, freshDevice, rebootDurable } from '../engine/harness.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('pipelined group commit', () => {
  test('auto scheduling: every emit resolves and is delivered once; the next group waits for the fence', async () => {
    const device = freshDevice();
    const node = Node.boot(device, { pipelinedFence: true, checksum: 'typescript' });
    const delivered: number[] = [];
    node.registerRecipient('r', {}, (event, recipient) => {
      delivered.push(event.seq);
      recipient.confirm(event.seq);
    });
    node.start();
    const p = node.producer('p');
    const resolved: number[] = [];
    const emits: Promise<number>[] = [];
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k < 2; k++)
        emits.push(p.emitAsync('disk.failed', 'err').then((seq) => (resolved.push(seq), seq)));
      await Promise.resolve(); // the same turn: no fence has completed yet
    }
    const seqs = await Promise.all(emits);
    for (let k = 0; k < 20 && delivered.length < seqs.length; k++) await settle();
    expect(resolved).toEqual([...seqs].sort((a, b) => a - b));
    expect(delivered).toEqual(seqs);
    node.close();
  });

  test('manual scheduling: commit issues, the completion publishes; close settles a fence in flight', async () => {
    const { node, device } = bootNode(freshDevice(), { pipelinedFence: true });
    const delivered: number[] = [];
    node.registerRecipient('r', {}, (event) => delivered.push(event.seq));
    node.start();
    const p = node.producer('p');
    const first = p.emitAsync('disk.failed', 'err');
    node.commit(); // issued
    const second = p.emitAsync('disk.failed', 'err'); // stored while the fence runs
    node.drain();
    expect(delivered).toEqual([]); // nothing published before the completion
    expect(node.recorder.groupOpen).toBe(true);
    const a = await first; // the completion (next turn) published it
    node.drain();
    expect(delivered).toEqual([a]);
    node.commit();
    node.close(); // settles the second group's fence synchronously
    const b = await second;
    const again = bootNode(rebootDurable(device)).node;
    const replayed: number[] = [];
    again.registerRecipient('r', {}, (event) => replayed.push(event.seq));
    again.start();
    again.drainUntilIdle();
    expect(replayed).toContain(b);
  });

  test('an error of the asynchronous fence fails the node and rejects its group', async () => {
    const device = freshDevice();
    const { node } = bootNode(device, { pipelinedFence: true });
    node.registerRecipient('r', {}, () => {});
    node.start();
    device.fenceAsync = (onComplete) =>
      setImmediate(() => onComplete(new NvramError('NVRAM_IO', 'msync: EIO (injected)')));
    const emit = node.producer('p').emitAsync('disk.failed', 'err');
    node.commit();
    await expect(emit).rejects.toBeInstanceOf(NodeError);
    expect(node.phase).toBe('failed');
    expect(() => node.producer('p').emit('disk.failed', 'err')).toThrow(NodeError);
    expect(node.failure?.message).toMatch(/EIO \(injected\)/);
  });
});
