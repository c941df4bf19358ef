/**
 * The persistent recipient table [170]: recipient names by id, so that the ids in the intended
 * and confirmation masks of stored events mean the same recipients after a reboot.
 *
 * | off | size | field | |
 * |---:|---:|---|---|
 * | 64 i + 0 | 8 | state | 0 free, 1 named; one word, stored after the rest is durable |
 * | 64 i + 8 | 4 | crc32c | over [12, 64) of the entry |
 * | 64 i + 12 | 1 | nameBytes | 1..48 |
 * | 64 i + 13 | 3 | reserved | 0 |
 * | 64 i + 16 | 48 | name | ASCII, zero-padded |
 *
 * A registration torn by a power cut leaves state 0: free again. An entry with state 1 that
 * fails its check (or any other state) is damaged media: its id may be named by pending
 * events, so while events are pending it is quarantined, never handed to another name.
 * A retired recipient's entry goes back to state 0 (`release`), only once no event it was
 * intended for still needs its id (each is confirmed or dead-lettered, durably).
 */
import { pageBytes } from '../constants.js';
import { crc32c } from '../events/crc32c.js';
import { NodeError } from '../events/errors.js';
import { decodeName, encodeName } from '../events/names.js';
import type { NvramDevice } from '../nvram/device.js';

export const recipientEntryBytes = 64;
const stateFree = 0;
const stateNamed = 1;

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
      const state = this.device.loadU64(this.offset + id * recipientEntryBytes);
      if (state === stateFree) continue;
      this.device.loadBytes(this.offset + id * recipientEntryBytes, entry);
      const name =
        state === stateNamed &&
        view.getUint32(8, true) === crc32c(entry, 12, recipientEntryBytes - 12)
          ? decodeName('recipient', entry, 16, entry[12] as number)
          : null;
      if (name === null || this.#byName.has(name)) {
        this.states[id] = 'damaged'; // row T1: quarantined at boot if events are pending
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

  /**
   * Frees the id of a retired recipient (named, or a damaged entry's): its state word back to
   * free, persisted (one atomic word). The caller has made every event still owed to the id
   * durably handled first, so a recipient that takes the id later inherits nothing.
   */
  release(id: number): void {
    if (this.states[id] === 'free' || this.states[id] === undefined) return;
    const offset = this.offset + id * recipientEntryBytes;
    this.device.storeU64(offset, stateFree);
    this.device.persist(offset, 8);
    const name = this.names[id];
    if (name !== null && name !== undefined) this.#byName.delete(name);
    this.names[id] = null;
    this.states[id] = 'free';
  }

  /** The id of `name`, persisting a new entry (before any event can use the id) if needed. */
  register(name: string): number {
    const known = this.#byName.get(name);
    if (known !== undefined) return known;
    const encoded = encodeName('recipient', name);
    let id = this.states.indexOf('damaged'); // not quarantined: reuse damaged entries first
    if (id < 0) id = this.states.indexOf('free');
    if (id < 0) {
      throw new NodeError(
        'RECIPIENTS_FULL',
        `nvrelay: all ${this.recipientsMax} recipient ids are taken; cannot register '${name}'`,
      );
    }
    const entry = new Uint8Array(recipientEntryBytes - 8);
    entry[4] = encoded.length; // entry offsets minus the 8-byte state word
    entry.set(encoded, 8);
    new DataView(entry.buffer).setUint32(0, crc32c(entry, 4, entry.length - 4), true);
    const offset = this.offset + id * recipientEntryBytes;
    this.device.storeBytes(offset + 8, entry);
    this.device.persist(offset + 8, entry.length);
    this.device.storeU64(offset, stateNamed); // publish only a complete, durable entry
    this.device.persist(offset, 8);
    this.names[id] = name;
    this.states[id] = 'named';
    this.#byName.set(name, id);
    return id;
  }
}
