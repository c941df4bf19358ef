/**
 * The coordinator of an HA pair in the simulation [193]: one lease per stream (a node's own
 * events), granted with a fencing token that only grows, and lost when not renewed before it
 * expires. A node delivers its stream only while it holds the lease (self-fence); the survivor
 * takes its partner's stream over only under a lease of its own on that stream, and every
 * delivery of a taken-over event carries that grant's token (./ha-check.ts checks both).
 *
 * `LeaseCoordinator` is the shape the pair relies on; `SimCoordinator` implements it on the
 * simulation's clock, so an adversarial clock jump expires leases at any step.
 */

export interface LeaseGrant {
  stream: string;
  holder: string;
  /** Strictly increasing over every grant of the coordinator. */
  token: bigint;
}

export interface LeaseCoordinator {
  /** A new grant if the stream has no live one (or the holder's own earlier one), else null. */
  acquire(stream: string, holder: string): LeaseGrant | null;
  /** Extends a grant that is still the stream's live one; false if it expired or was replaced. */
  renew(grant: LeaseGrant): boolean;
  /** Gives a live grant up at once (giveback). */
  release(grant: LeaseGrant): void;
  /** The stream's live grant, or null (none, or expired). */
  current(stream: string): LeaseGrant | null;
  /** The last grant ever made on the stream (survives expiry and release). */
  last(stream: string): LeaseGrant | null;
}

interface Held {
  grant: LeaseGrant;
  expires: number;
  released: boolean;
}

export class SimCoordinator implements LeaseCoordinator {
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #streams = new Map<string, Held>();
  /** Every grant made, in order (the checker's record of who held which token). */
  readonly grants: LeaseGrant[] = [];
  #token = 0n;

  constructor(now: () => number, ttlMs: number) {
    this.#now = now;
    this.ttlMs = ttlMs;
  }

  acquire(stream: string, holder: string): LeaseGrant | null {
    const live = this.current(stream);
    if (live !== null && live.holder !== holder) return null;
    const grant = { stream, holder, token: ++this.#token };
    this.#streams.set(stream, { grant, expires: this.#now() + this.ttlMs, released: false });
    this.grants.push(grant);
    return grant;
  }

  renew(grant: LeaseGrant): boolean {
    const held = this.#streams.get(grant.stream);
    if (held === undefined || held.grant.token !== grant.token || !this.#live(held)) return false;
    held.expires = this.#now() + this.ttlMs;
    return true;
  }

  release(grant: LeaseGrant): void {
    const held = this.#streams.get(grant.stream);
    if (held !== undefined && held.grant.token === grant.token) held.released = true;
  }

  current(stream: string): LeaseGrant | null {
    const held = this.#streams.get(stream);
    return held !== undefined && this.#live(held) ? held.grant : null;
  }

  last(stream: string): LeaseGrant | null {
    return this.#streams.get(stream)?.grant ?? null;
  }

  /** True while `grant` is its stream's live grant. */
  holds(grant: LeaseGrant | null): boolean {
    return grant !== null && this.current(grant.stream)?.token === grant.token;
  }

  #live(held: Held): boolean {
    return !held.released && this.#now() < held.expires;
  }
}
