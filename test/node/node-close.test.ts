/**
 * What start, close and persistConfirmations make durable (ARCHITECTURE row D4, SPEC 4): start
 * commits a group emitted while booting [130]; close commits an open group and persists the
 * pointers once, and a second close (or a close after a failure) writes nothing; a confirmation
 * received outside a pass is durable after persistConfirmations, so a reboot does not deliver
 * it again [216]. A device error under a recipient's refusal fails the node with that error as
 * the cause.
 */
import { describe, expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { NvramError } from '../../src/nvram/index.js';
import { bootNode, rebootDurable } from '../engine/harness.js';

const ioError = (): NvramError => new NvramError('NVRAM_IO', 'msync: EIO (injected)');

describe('start and close commit an open group', () => {
  test('a group emitted while booting is durable once start returns', async () => {
    const { node, device } = bootNode();
    const group = node.producer('raid').emitAsync('disk.failed', 'err');
    node.start();
    expect(node.recorder.groupOpen).toBe(false);
    expect(await group).toBe(1);
    const again = bootNode(rebootDurable(device)).node;
    expect(again.recovery.replayed).toBe(1);
  });

  test('close commits an open group: it resolves and a reboot replays it', async () => {
    const { node, device } = bootNode();
    node.start();
    const group = node.producer('raid').emitAsync('disk.failed', 'err');
    node.close();
    expect(await group).toBe(1);
    const again = bootNode(rebootDurable(device)).node;
    expect(again.recovery.replayed).toBe(1);
  });

  test('a second close writes nothing', () => {
    const { node, device } = bootNode();
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    node.close();
    const written = device.instructionCount;
    node.close();
    expect(device.instructionCount).toBe(written);
    expect(node.phase).toBe('closed');
  });

  test('a close after a failure writes nothing and leaves the node failed', () => {
    const { node, device } = bootNode();
    node.start();
    const raid = node.producer('raid');
    device.fence = () => {
      throw ioError();
    };
    expect(() => raid.emit('disk.failed', 'err')).toThrow(NodeError);
    const written = device.instructionCount;
    node.close();
    expect(device.instructionCount).toBe(written);
    expect(node.phase).toBe('failed');
    expect(node.failure?.code).toBe('NODE_FAILED');
  });
});

describe('confirmations received outside a pass', () => {
  test('persistConfirmations makes them durable: a reboot does not deliver the event again', () => {
    const { node, device } = bootNode();
    const audit = node.registerRecipient('audit', {}, () => {});
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    node.drain(); // delivered, not confirmed
    expect(audit.confirm(1)).toBe(true);
    node.persistConfirmations();
    const again = bootNode(rebootDurable(device)).node;
    const delivered: number[] = [];
    again.registerRecipient('audit', {}, (event) => delivered.push(event.seq));
    again.start();
    again.drainUntilIdle();
    expect(delivered).toEqual([]);
  });

  test('a device error under a refusal fails the node with the device error as its cause', () => {
    const { node, device } = bootNode();
    const sink = node.registerRecipient('sink', {}, () => {});
    node.start();
    node.producer('raid').emit('disk.failed', 'err');
    node.drain();
    device.fence = () => {
      throw ioError();
    };
    let thrown: unknown = null;
    try {
      sink.refuse(1, 5);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(NodeError);
    expect((thrown as NodeError).code).toBe('NODE_FAILED');
    expect(node.phase).toBe('failed');
    expect(node.failure?.cause).toBeInstanceOf(NvramError);
  });
});
