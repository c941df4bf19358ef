/**
 * Interned names and resolved subscriptions. A recipient subscribes to type prefixes and a
 * severityMax [254]; the intended recipients of an event are fixed when it is emitted [160].
 * Resolving a type against every subscription per emit would cost a string scan per recipient,
 * so each interned type keeps one mask per severity level, recomputed when a recipient
 * registers. The emit path then reads two Int32Array cells.
 */
import { typesMax } from '../constants.js';
import { NodeError } from '../events/errors.js';
import { encodeName, typeMatches, type NameKind } from '../events/names.js';

/** What a subscription needs to know about a recipient. */
export interface Subscriber {
  readonly id: number;
  readonly prefixes: readonly string[];
  readonly severityMax: number;
}

/** Interned names of one kind, ids dense from 0, with their ASCII bytes pre-encoded. */
export class NameTable {
  readonly kind: NameKind;
  readonly max: number;
  readonly names: string[] = [];
  readonly bytes: Uint8Array[] = [];
  readonly #byName = new Map<string, number>();

  constructor(kind: NameKind, max: number) {
    this.kind = kind;
    this.max = max;
  }

  find(name: string): number {
    return this.#byName.get(name) ?? -1;
  }

  /** The id of `name`, interning it (validated) if new; TABLE_FULL past `max`. */
  intern(name: string): number {
    const known = this.#byName.get(name);
    if (known !== undefined) return known;
    const bytes = encodeName(this.kind, name);
    if (this.names.length >= this.max) {
      throw new NodeError(
        'TABLE_FULL',
        `nvrelay: more than ${this.max} distinct ${this.kind} names this boot`,
      );
    }
    const id = this.names.length;
    this.names.push(name);
    this.bytes.push(bytes);
    this.#byName.set(name, id);
    return id;
  }
}

/**
 * Event types with their intended-recipient masks, one per severity level. Every type is
 * resolved against the current subscribers when it is interned, whoever interns it (an emit,
 * or the engine naming a replayed record), and all again when a subscriber registers.
 */
export class TypeTable extends NameTable {
  readonly masksLo = new Int32Array(typesMax * 8);
  readonly masksHi = new Int32Array(typesMax * 8);
  /** The recipients by id (the engine's array, shared). */
  subscribers: readonly (Subscriber | undefined)[] = [];

  constructor() {
    super('type', typesMax);
  }

  override intern(name: string): number {
    const before = this.names.length;
    const id = super.intern(name);
    if (id === before) this.resolve(id, this.subscribers);
    return id;
  }

  /** Recomputes every type's masks (a recipient registered or changed its subscription). */
  resolveAll(): void {
    for (let id = 0; id < this.names.length; id++) this.resolve(id, this.subscribers);
  }

  resolve(id: number, subscribers: readonly (Subscriber | undefined)[]): void {
    const name = this.names[id] as string;
    for (let level = 0; level < 8; level++) {
      let low = 0;
      let high = 0;
      for (const subscriber of subscribers) {
        if (subscriber === undefined || level > subscriber.severityMax) continue;
        if (!subscriber.prefixes.some((prefix) => typeMatches(prefix, name))) continue;
        if (subscriber.id < 32) low |= 1 << subscriber.id;
        else high |= 1 << (subscriber.id - 32);
      }
      this.masksLo[id * 8 + level] = low;
      this.masksHi[id * 8 + level] = high;
    }
  }
}
