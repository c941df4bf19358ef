/**
 * src/engine/recipient-table.ts on a device of its own: entries are never trusted at load (a
 * bad checksum or a name used twice is damaged), damaged ids are handed out first, a full
 * table is RECIPIENTS_FULL, and only a named id is released.
 */
import { describe, expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { RecipientTable, recipientEntryBytes } from '../../src/engine/recipient-table.js';
import { TracedNvram } from '../../src/nvram/index.js';

const recipientsMax = 4;

function device(): TracedNvram {
  return TracedNvram.format(2 * 4096, [{ name: 'recipients', length: 4096 }]);
}

/** The table on `nvram` loaded again from the device, as a boot would. */
function reloaded(nvram: TracedNvram): RecipientTable {
  const table = new RecipientTable(nvram, 'recipients', recipientsMax);
  table.load();
  return table;
}

describe('RecipientTable', () => {
  test('a section too small for the table is NODE_BAD_LAYOUT', () => {
    // 65 entries of 64 bytes do not fit a 4096-byte section
    expect(() => new RecipientTable(device(), 'recipients', 65)).toThrow(
      expect.objectContaining({ code: 'NODE_BAD_LAYOUT' }),
    );
  });

  test('an entry whose checksum fails, or that repeats a name, loads as damaged', () => {
    const nvram = device();
    const table = new RecipientTable(nvram, 'recipients', recipientsMax);
    expect([table.register('audit'), table.register('pager'), table.register('disks')]).toEqual([
      0, 1, 2,
    ]);
    const offset = nvram.section('recipients').offset;
    // entry 1 becomes a copy of entry 0 (the same name, a valid checksum)
    const first = new Uint8Array(recipientEntryBytes);
    nvram.loadBytes(offset, first);
    nvram.storeBytes(offset + recipientEntryBytes, first);
    // a byte of entry 2's name changes under its checksum
    nvram.storeBytes(offset + 2 * recipientEntryBytes + 16, new Uint8Array([0x78]));
    const loaded = reloaded(nvram);
    expect(loaded.states).toEqual(['named', 'damaged', 'damaged', 'free']);
    expect(loaded.find('audit')).toBe(0);
    expect(loaded.find('disks')).toBe(-1);
    // damaged ids are reused before free ones
    expect(loaded.register('net')).toBe(1);
  });

  test('a full table is RECIPIENTS_FULL; a quarantined id is not handed out', () => {
    const nvram = device();
    const table = new RecipientTable(nvram, 'recipients', recipientsMax);
    table.register('a');
    table.register('b');
    table.register('c');
    table.quarantine(3); // free, but pending events name it
    expect(table.states[3]).toBe('quarantined');
    table.quarantine(0); // a named id stays named
    expect(table.states[0]).toBe('named');
    let error: unknown;
    try {
      table.register('d');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NodeError);
    expect((error as NodeError).code).toBe('RECIPIENTS_FULL');
  });

  test('release frees a named id only, and the free id is persisted', () => {
    const nvram = device();
    const table = new RecipientTable(nvram, 'recipients', recipientsMax);
    table.register('a');
    table.release(2); // free: nothing to do
    table.release(0);
    expect(table.states[0]).toBe('free');
    expect(table.find('a')).toBe(-1);
    expect(reloaded(nvram).states[0]).toBe('free');
    expect(table.register('b')).toBe(0);
  });
});
