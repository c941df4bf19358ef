/**
 * Retiring a damaged recipient entry by its id (row T1): `#ID`, as inspect and pump show an
 * entry whose name is gone. A damaged entry that events are still owed to (quarantined at boot)
 * is retired with them dead-lettered; one that nothing is owed to is retired with none; both
 * free the id. Only the whole name `#` + one or two digits is an id: `x#3`, `#3x` and `#003`
 * are names (RECIPIENT_UNKNOWN, none in the table); an id whose entry is free, named or beyond
 * the table is RECIPIENT_UNKNOWN, and nothing is retired.
 */
import { describe, expect, test } from 'vitest';
import { recipientEntryBytes } from '../../src/engine/recipient-table.js';
import { NodeError } from '../../src/events/errors.js';
import type { Node } from '../../src/node/node.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { bootNode, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';

/** Recipients r0..r10 (ids 0-10) on a 16-id table; r5 takes only fan.* events. */
const recipientIds = 11;
const damagedIds = [3, 5, 10];

/**
 * A node booted from a device whose entries of r3, r5 and r10 had their state word overwritten.
 * `owed`: r3 and r10 never confirmed the one event, so it is pending at boot and every damaged
 * entry is quarantined; otherwise all confirmed it and the entries are just damaged.
 */
function nodeWithDamagedEntries(owed: boolean): Node {
  const { node, device } = bootNode(freshDevice({ ...smallLimits, recipientsMax: 16 }));
  for (let id = 0; id < recipientIds; id++) {
    node.registerRecipient(`r${id}`, id === 5 ? { prefixes: ['fan.'] } : {}, (event, r) => {
      if (!owed || (id !== 3 && id !== 10)) r.confirm(event.seq);
    });
  }
  node.start();
  node.producer('raid').emit('disk.failed', 'err');
  node.drainUntilIdle();
  node.persistConfirmations();
  const entries = device.section('recipients').offset;
  node.close();
  for (const id of damagedIds) damage(device, entries + id * recipientEntryBytes);
  const booted = bootNode(rebootDurable(device)).node;
  for (let id = 0; id < recipientIds; id++) {
    if (!damagedIds.includes(id)) booted.registerRecipient(`r${id}`, {}, () => {});
  }
  booted.start();
  return booted;
}

/** The states of ids 0-10, the damaged ones as given. */
function statesWith(damaged: string): string[] {
  return Array.from({ length: recipientIds }, (_, id) =>
    damagedIds.includes(id) ? damaged : 'named',
  );
}

function damage(device: TracedNvram, at: number): void {
  device.storeBytes(at, new Uint8Array([0x5a, 0xa5, 0x5a, 0xa5]));
  device.persist(at, 4);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NodeError);
    return (error as NodeError).code;
  }
  return undefined;
}

describe('retireRecipient by a damaged entry id', () => {
  test('quarantined, owed events: dead-lettered, the id freed (then unknown)', () => {
    const node = nodeWithDamagedEntries(true);
    expect(node.recipientTable.states.slice(0, recipientIds)).toEqual(statesWith('quarantined'));
    expect(node.retireRecipient('#3')).toEqual({ deadLettered: 1 });
    expect(node.retireRecipient('#10')).toEqual({ deadLettered: 1 });
    expect(node.retireRecipient('#5')).toEqual({ deadLettered: 0 });
    expect(node.deadLetterList()).toHaveLength(2);
    expect(node.recipientTable.states.slice(0, recipientIds)).toEqual(
      statesWith('named').map((state, id) => (damagedIds.includes(id) ? 'free' : state)),
    );
    expect(codeOf(() => node.retireRecipient('#3'))).toBe('RECIPIENT_UNKNOWN');
  });

  test('damaged, nothing owed: retired with none dead-lettered, the id freed', () => {
    const node = nodeWithDamagedEntries(false);
    expect(node.recipientTable.states.slice(0, recipientIds)).toEqual(statesWith('damaged'));
    expect(node.retireRecipient('#3')).toEqual({ deadLettered: 0 });
    expect(node.retireRecipient('#10')).toEqual({ deadLettered: 0 });
    expect(node.recipientTable.states[3]).toBe('free');
    expect(node.recipientTable.states[10]).toBe('free');
    expect(node.recipientTable.states[5]).toBe('damaged');
  });

  test.each([true, false])(
    'owed %s: only "#" and one or two digits is an id; free, named and out-of-table ids are unknown',
    (owed) => {
      const node = nodeWithDamagedEntries(owed);
      for (const name of ['x#3', '#3x', '#03x', '#003', '#5 ', 'x#10', '#11', '#12', '#0', '#99'])
        expect(
          codeOf(() => node.retireRecipient(name)),
          name,
        ).toBe('RECIPIENT_UNKNOWN');
      expect(node.deadLetterList()).toEqual([]);
      expect(node.recipientTable.states.slice(0, recipientIds)).toEqual(
        statesWith(owed ? 'quarantined' : 'damaged'),
      );
    },
  );
});
