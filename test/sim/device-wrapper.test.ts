/**
 * The device wrapper's asynchronous fence (sim/device-wrapper.ts): an injected error at the
 * issue reaches the completion callback on a later turn, never thrown; a power cut at the issue
 * is thrown, as by a plain fence, and nothing completes (the machine is off). A pipelined node
 * on a failing device fails (fail-stop) and rejects its group.
 */
import { describe, expect, test } from 'vitest';
import { FailingNvram } from '../../sim/device-errors.js';
import { NodeError } from '../../src/events/errors.js';
import { NvramError, PowerCutError } from '../../src/nvram/errors.js';
import { Node } from '../../src/node/node.js';
import { freshDevice } from '../engine/harness.js';

describe('DeviceWrapper.fenceAsync', () => {
  test('an injected fence error reaches the callback on a later turn', async () => {
    const device = new FailingNvram(freshDevice(), null);
    device.failNext('fence');
    let sync = true;
    const error = await new Promise<Error | null>((resolve) => {
      device.fenceAsync(resolve);
      sync = false;
    });
    expect(sync).toBe(false);
    expect(error).toBeInstanceOf(NvramError);
    expect((error as NvramError).code).toBe('NVRAM_IO');
  });

  test('a power cut at the issue is thrown and never completes', async () => {
    const inner = freshDevice();
    const device = new FailingNvram(inner, null);
    inner.setPowerCut(inner.instructionCount);
    let completed = false;
    expect(() => device.fenceAsync(() => (completed = true))).toThrow(PowerCutError);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(completed).toBe(false);
  });

  test('a pipelined node whose asynchronous fence fails stops and rejects the group', async () => {
    const device = new FailingNvram(freshDevice(), null);
    const node = Node.boot(device, { scheduling: 'manual', pipelinedFence: true });
    node.registerRecipient('r', {}, () => {});
    node.start();
    const emit = node.producer('p').emitAsync('disk.failed', 'err');
    device.failNext('fence');
    node.commit();
    await expect(emit).rejects.toBeInstanceOf(NodeError);
    expect(node.phase).toBe('failed');
  });
});
