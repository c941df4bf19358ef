/**
 * The persistent recipient table [170]: recipient names by id, so that the ids in the intended
 * and confirmation masks of stored events mean the same recipients after a reboot.
 *
 * | off | size | field | |
 * |---:|---:|---|---|
 * | 64 i + 0 | 4 | crc32c | over [4, 64) of the entry |
 * | 64 i + 4 | 1 | nameBytes | 1..48 |
 * | 64 i + 5 | 3 | reserved | 0 |
 * | 64 i + 8 | 56 | name | ASCII, zero-padded |
 *
 * An all-zero entry is free. An entry that is not zero and fails its check was torn while being
 * registered (it was persisted before any event used its id, so no event names it) or damaged;
 * it is reused, unless recovery found pending events that name its id (then it is quarantined).
 */
import { pageBytes } from '../constants.js';
import { crc32c } from '../events/crc32c.js';
import { NodeError } from '../events/errors.js';
import { decodeName, encodeName } from '../events/names.js';
import type { NvramDevice } from '../nvram/device.js';

export const recipientEntryBytes = 64;

export function recipientTableBytes(recipientsMax: number): number {
  return Math.ceil((recipientsMax * recipientEntryBytes) / pageBytes) * pageBytes;
}

export type RecipientEntryState = 'free' | 'named' | 'damaged' | 'quarantined';

export class RecipientTable {
  readonly device: NvramDevice;
  readonly sectionName: string;
  readonly offset: number;
  readonly recipientsMax: number;
  readonly names: (string | null)[];
  readonly states: RecipientEntryState[];
  readonly #byName = new Map<string, number>();

  constructor(device: NvramDevice, sectionName: string, recipientsMax: number) {
    const section = device.section(sectionName);
    if (section.length < recipientsMax * recipientEntryBytes) {
      throw new NodeError(
        'NODE_BAD_LAYOUT',
        `nvrelay: section '${sectionName}' is too small for ${recipientsMax} recipients`,
      );
    }
    this.device = device;
    this.sectionName = sectionName;
    this.offset = section.offset;
    this.recipientsMax = recipientsMax;
    this.names = new Array<string | null>(recipientsMax).fill(null);
    this.states = new Array<RecipientEntryState>(recipientsMax).fill('free');
  }

  /** Reads and validates every entry (never trusted). Read-only. */
  load(): void {
    const entry = new Uint8Array(recipientEntryBytes);
    const view = new DataView(entry.buffer);
    for (let id = 0; id < this.recipientsMax; id++) {
      this.device.loadBytes(this.offset + id * recipientEntryBytes, entry);
      if (entry.every((byte) => byte === 0)) continue;
      const name =
        view.getUint32(0, true) === crc32c(entry, 4, recipientEntryBytes - 4)
          ? decodeName('recipient', entry, 8, entry[4] as number)
          : null;
      if (name === null || this.#byName.has(name)) {
        this.states[id] = 'damaged';
        continue;
      }
      this.names[id] = name;
      this.states[id] = 'named';
      this.#byName.set(name, id);
    }
  }

  find(name: string): number {
    return this.#byName.get(name) ?? -1;
  }

  /** A damaged id that pending events still name is never handed out again this boot. */
  quarantine(id: number): void {
    if (this.states[id] === 'damaged' || this.states[id] === 'free')
      this.states[id] = 'quarantined';
  }

  /** The id of `name`, persisting a new entry (before any event can use the id) if needed. */
  register(name: string): number {
    const known = this.#byName.get(name);
    if (known !== undefined) return known;
    const encoded = encodeName('recipient', name);
    let id = this.states.indexOf('free');
    if (id < 0) id = this.states.indexOf('damaged');
    if (id < 0) {
      throw new NodeError(
        'RECIPIENTS_FULL',
        `nvrelay: all ${this.recipientsMax} recipient ids are taken; cannot register '${name}'`,
      );
    }
    const entry = new Uint8Array(recipientEntryBytes);
    entry[4] = encoded.length;
    entry.set(encoded, 8);
    new DataView(entry.buffer).setUint32(0, crc32c(entry, 4, recipientEntryBytes - 4), true);
    const offset = this.offset + id * recipientEntryBytes;
    this.device.storeBytes(offset, entry);
    this.device.persist(offset, recipientEntryBytes);
    this.names[id] = name;
    this.states[id] = 'named';
    this.#byName.set(name, id);
    return id;
  }
}
