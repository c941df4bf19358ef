/**
 * The persistent recipient table [170] entry by entry: its size, the entries a load reads (its
 * recipientsMax entries, and only a state word 1 with an intact body is named), the device
 * instructions a release runs (one persisted state word at the id's own entry, none for an id
 * that is free or past the table), and that a damaged id 0 is handed out before free ids.
 */
import { describe, expect, test } from 'vitest';
import {
  RecipientTable,
  recipientEntryBytes,
  recipientTableBytes,
} from '../../src/engine/recipient-table.js';
import { TracedNvram } from '../../src/nvram/index.js';
import { instructions } from './harness.js';

const recipientsMax = 4;

function device(): TracedNvram {
  return TracedNvram.format(2 * 4096, [{ name: 'recipients', length: 4096 }], { record: true });
}

const entryAt = (nvram: TracedNvram, id: number): number =>
  nvram.section('recipients').offset + id * recipientEntryBytes;

function loaded(nvram: TracedNvram, max = recipientsMax): RecipientTable {
  const table = new RecipientTable(nvram, 'recipients', max);
  table.load();
  return table;
}

const traced = (nvram: TracedNvram): number => nvram.exportTrace().kinds.length;

describe('the recipient table', () => {
  test('takes recipientsMax entries of 64 bytes, rounded up to whole pages', () => {
    expect(recipientTableBytes(0)).toBe(0);
    expect(recipientTableBytes(1)).toBe(4096);
    expect(recipientTableBytes(64)).toBe(4096);
    expect(recipientTableBytes(65)).toBe(8192);
  });

  test('fits a section of exactly recipientsMax entries', () => {
    const table = new RecipientTable(device(), 'recipients', 64);
    expect(table.states).toHaveLength(64);
  });

  test('a load reads recipientsMax entries, not the bytes after them', () => {
    const nvram = device();
    new RecipientTable(nvram, 'recipients', recipientsMax).register('audit');
    nvram.storeU64(entryAt(nvram, recipientsMax), 1);
    nvram.persist(entryAt(nvram, recipientsMax), 8);
    const table = loaded(nvram);
    expect(table.states).toEqual(['named', 'free', 'free', 'free']);
    expect(table.names).toEqual(['audit', null, null, null]);
  });

  test('an intact entry whose state word is neither free nor named loads as damaged', () => {
    const nvram = device();
    const table = new RecipientTable(nvram, 'recipients', recipientsMax);
    table.register('audit');
    table.register('pager');
    nvram.storeU64(entryAt(nvram, 1), 2);
    nvram.persist(entryAt(nvram, 1), 8);
    const again = loaded(nvram);
    expect(again.states).toEqual(['named', 'damaged', 'free', 'free']);
    expect(again.find('pager')).toBe(-1);
  });

  test('a damaged id 0 is the one a new name takes', () => {
    const nvram = device();
    new RecipientTable(nvram, 'recipients', recipientsMax).register('audit');
    nvram.storeBytes(entryAt(nvram, 0) + 16, new Uint8Array([0x41])); // name changes under its crc
    const again = loaded(nvram);
    expect(again.states).toEqual(['damaged', 'free', 'free', 'free']);
    expect(again.register('pager')).toBe(0);
    expect(loaded(nvram).names).toEqual(['pager', null, null, null]);
  });
});

describe('release', () => {
  test('stores and persists the state word of its own entry only', () => {
    const nvram = device();
    const table = new RecipientTable(nvram, 'recipients', recipientsMax);
    table.register('audit');
    table.register('pager');
    table.register('disks');
    const from = traced(nvram);
    table.release(1);
    expect(instructions(nvram, from)).toEqual([
      [0, entryAt(nvram, 1), 8],
      [1, entryAt(nvram, 1), 8],
      [2, 0, 0],
    ]);
    expect(loaded(nvram).states).toEqual(['named', 'free', 'named', 'free']);
    expect(table.find('pager')).toBe(-1);
    expect(table.find('disks')).toBe(2);
  });

  test('of a free id, or of an id past the table, runs no instruction and changes nothing', () => {
    const nvram = device();
    const table = new RecipientTable(nvram, 'recipients', recipientsMax);
    table.register('audit');
    const from = traced(nvram);
    table.release(3);
    table.release(recipientsMax);
    table.release(100);
    expect(instructions(nvram, from)).toEqual([]);
    expect(table.states).toEqual(['named', 'free', 'free', 'free']);
    expect(table.names).toEqual(['audit', null, null, null]);
  });

  test('of a damaged id frees it on the device', () => {
    const nvram = device();
    new RecipientTable(nvram, 'recipients', recipientsMax).register('audit');
    nvram.storeU64(entryAt(nvram, 0), 2);
    nvram.persist(entryAt(nvram, 0), 8);
    const table = loaded(nvram);
    expect(table.states[0]).toBe('damaged');
    table.release(0);
    expect(table.states[0]).toBe('free');
    expect(loaded(nvram).states).toEqual(['free', 'free', 'free', 'free']);
  });
});
