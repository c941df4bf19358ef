/**
 * A node's phase and fail-stop on their own (src/node/lifecycle.ts): which phases accept work,
 * what `fail` returns and stops for each kind of error (a refusal, a NODE_FAILED from a part of
 * the node, a power cut, anything else thrown), that the stop happens once, and that an owner's
 * callback that throws does not escape.
 */
import { describe, expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { NodeLifecycle } from '../../src/node/lifecycle.js';
import { PowerCutError } from '../../src/nvram/errors.js';

function lifecycle(onFailure?: (error: NodeError) => void) {
  const halted: NodeError[] = [];
  const life = new NodeLifecycle(onFailure, (failure) => halted.push(failure));
  return { life, halted };
}

describe('the node lifecycle', () => {
  test('booting and running accept work; closed and failed do not, each saying why', () => {
    const { life } = lifecycle();
    expect(life.open).toBe(true);
    life.phase = 'running';
    expect(life.open).toBe(true);
    expect(() => life.checkOpen('emit')).not.toThrow();
    life.phase = 'closed';
    expect(life.open).toBe(false);
    expect(() => life.checkOpen('emit')).toThrow(
      expect.objectContaining({
        code: 'NODE_CLOSED',
        message: 'nvrelay: emit: the node is closed',
      }),
    );
    const failed = lifecycle().life;
    const eio = new Error('EIO');
    failed.fail(eio);
    expect(failed.open).toBe(false);
    expect(() => failed.checkOpen('drain')).toThrow(
      expect.objectContaining({
        code: 'NODE_FAILED',
        message: expect.stringMatching(
          /^nvrelay: drain: nvrelay: the node stopped after a device error \(EIO\)/,
        ),
        cause: eio, // the device error itself, as on the failure
      }),
    );
  });

  test('a refusal is returned as it is and the node goes on', () => {
    const { life, halted } = lifecycle();
    const refusal = new NodeError('QUEUE_FULL', 'nvrelay: full');
    expect(life.fail(refusal)).toBe(refusal);
    expect(life.phase).toBe('booting');
    expect(halted).toEqual([]);
  });

  test("a part's NODE_FAILED stops the node with that very error, once", () => {
    const told: NodeError[] = [];
    const { life, halted } = lifecycle((error) => told.push(error));
    const failure = new NodeError('NODE_FAILED', 'nvrelay: the engine could not confirm');
    expect(life.fail(failure)).toBe(failure);
    expect(life.phase).toBe('failed');
    expect(life.failure).toBe(failure);
    expect(life.fail(new Error('later'))).toBe(failure); // the first failure stays
    expect(halted).toEqual([failure]);
    expect(told).toEqual([failure]);
  });

  test('a power cut is returned as it is; the node fails with NODE_FAILED wrapping it', () => {
    const { life } = lifecycle();
    const cut = new PowerCutError('power cut at instruction 3', 3);
    expect(life.fail(cut)).toBe(cut);
    expect(life.failure).toMatchObject({ code: 'NODE_FAILED', cause: cut });
  });

  test('something thrown that is not an Error is named in the failure; a throwing callback does not escape', () => {
    const { life, halted } = lifecycle(() => {
      throw new Error('the owner is broken');
    });
    const returned = life.fail('disk on fire');
    expect(returned).toMatchObject({
      code: 'NODE_FAILED',
      message:
        'nvrelay: the node stopped after a device error (disk on fire); reopen the device to recover',
      cause: 'disk on fire',
    });
    expect(halted).toEqual([returned]);
    expect(life.phase).toBe('failed');
  });
});
