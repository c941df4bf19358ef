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

/** Event types with their intended-recipient masks, one per severity level. */
export class TypeTable extends NameTable {
  readonly masksLo = new Int32Array(typesMax * 8);
  readonly masksHi = new Int32Array(typesMax * 8);

  constructor() {
    super('type', typesMax);
  }

  /** 1 once a type's masks are computed; replay interns names without resolving them. */
  readonly #resolved = new Uint8Array(typesMax);

  /**
   * The id of `name` with its masks computed. A type first seen in a replayed record was
   * interned without masks (replay delivers to the record's stored intended set), so "new
   * name" is not the test: "never resolved" is. Otherwise its next emit would reach nobody.
   */
  internResolved(name: string, subscribers: readonly (Subscriber | undefined)[]): number {
    const id = this.intern(name);
    if (this.#resolved[id] === 0) this.resolve(id, subscribers);
    return id;
  }

  /** Recomputes every type's masks (a recipient registered or changed its subscription). */
  resolveAll(subscribers: readonly (Subscriber | undefined)[]): void {
    for (let id = 0; id < this.names.length; id++) this.resolve(id, subscribers);
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
    this.#resolved[id] = 1;
  }
}
