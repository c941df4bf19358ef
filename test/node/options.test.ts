/**
 * src/node/options.ts: every option of Node.boot and of a recipient is checked when given,
 * and a wrong one is BAD_ARGUMENT naming it, before the node touches the device.
 */
import { describe, expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { Node, type NodeOptions } from '../../src/node/node.js';
import { bootNode, freshDevice } from '../engine/harness.js';

/** The BAD_ARGUMENT message `run` throws. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof NodeError && error.code === 'BAD_ARGUMENT') return error.message;
    throw error;
  }
  return 'accepted';
}

const boot = (options: unknown) => () => Node.boot(freshDevice(), options as NodeOptions);

describe('Node.boot options', () => {
  test('options that are not an object', () => {
    expect(refusal(boot(null))).toBe('nvrelay: options must be an object');
    expect(refusal(boot('manual'))).toBe('nvrelay: options must be an object');
  });

  test.each([
    [{ scheduling: 'eager' }, "nvrelay: scheduling must be 'auto' or 'manual', got eager"],
    [{ checksum: 'md5' }, "nvrelay: checksum must be 'webassembly' or 'typescript', got md5"],
    [{ onFailure: 'log' }, 'nvrelay: onFailure must be a function'],
    [{ clock: { time: () => 0 } }, 'nvrelay: clock must have a now() method'],
    [
      { absentRecipientGraceMs: Infinity },
      'nvrelay: absentRecipientGraceMs must be a finite number >= 0, got Infinity',
    ],
    [{ retry: { timeoutMs: 0 } }, 'nvrelay: retry: need 0 < timeoutMs <= timeoutMaxMs'],
    [
      { retry: { timeoutMs: 50, timeoutMaxMs: 10 } },
      'nvrelay: retry: need 0 < timeoutMs <= timeoutMaxMs',
    ],
    [{ retry: { backoffFactor: 0.5 } }, 'nvrelay: retry.backoffFactor must be >= 1'],
    [{ retry: { attemptsMax: 0 } }, 'nvrelay: retry.attemptsMax must be an integer in [1, '],
    [{ inFlightMax: 0 }, 'nvrelay: inFlightMax must be an integer in [1, '],
  ])('%j: BAD_ARGUMENT', (options, message) => {
    expect(refusal(boot({ scheduling: 'manual', ...options }))).toContain(message);
  });
});

describe('a recipient', () => {
  test('a handler that is not a function, a subscription that is not an object', () => {
    const { node } = bootNode();
    expect(refusal(() => node.registerRecipient('r', {}, 'log' as never))).toBe(
      'nvrelay: handler must be a function',
    );
    expect(refusal(() => node.registerRecipient('r', null as never, () => {}))).toBe(
      'nvrelay: subscription must be an object',
    );
    expect(refusal(() => node.registerRecipient('r', { window: 2 } as never, () => {}))).toBe(
      "nvrelay: unknown subscription field 'window'",
    );
    expect(refusal(() => node.registerRecipient('r', { prefixes: ['disk/'] }, () => {}))).toMatch(
      /^nvrelay: subscription prefix must be a string of/,
    );
  });

  test('an emit whose type is not a string', () => {
    const { node } = bootNode();
    node.start();
    expect(refusal(() => node.producer('p').emit(7 as never, 'info'))).toBe(
      'nvrelay: type must be a string, got number',
    );
  });
});
