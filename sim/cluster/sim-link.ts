/**
 * The in-memory connection between an upstream node and its multiplexing recipient in a cluster
 * run (./cluster.ts): what `nvrelay serve` and its client do over a socket, with frames the
 * explorer moves, holds back or loses. Deliveries go down (the upstream's recipient handler
 * queues them), durable confirmations go up and their CONFIRMED answers come down. A lost
 * connection loses every frame in flight; the reconnect does what the daemon and the client do:
 * the upstream delivers again what the mux had not confirmed (its recipient detached and
 * attached again), and the mux's side sends again the confirmations still unanswered.
 */
import type { Recipient } from '../../src/engine/recipient.js';
import type { RelayedEvent, UpstreamConfirmer } from '../../src/mux/upstream-link.js';

export type DownFrame =
  { kind: 'deliver'; event: RelayedEvent } | { kind: 'confirmed'; seq: number };

export class SimLink {
  /** Node indexes: the upstream and the mux. */
  readonly upstream: number;
  readonly mux: number;
  readonly down: DownFrame[] = [];
  readonly up: number[] = [];
  connected = false;
  /** Frames lost with dropped connections (and power cuts), for the run's counters. */
  lost = 0;
  /** The mux's unanswered durable confirmations, by upstream seq (cleared when the mux dies). */
  readonly #pending = new Map<number, (() => void)[]>();

  constructor(upstream: number, mux: number) {
    this.upstream = upstream;
    this.mux = mux;
  }

  /** What the mux's UpstreamLink confirms through. */
  readonly confirmer: UpstreamConfirmer = {
    confirmDurable: (seq) =>
      new Promise<void>((resolve) => {
        const waiters = this.#pending.get(seq);
        if (waiters !== undefined) waiters.push(resolve);
        else {
          this.#pending.set(seq, [resolve]);
          if (this.connected) this.up.push(seq);
        }
      }),
  };

  /** The connection is (re-)established: the mux's unanswered confirmations go again. */
  connect(): void {
    this.connected = true;
    for (const seq of this.#pending.keys()) this.up.push(seq);
  }

  /** The connection is lost: everything in flight with it. */
  disconnect(): void {
    this.connected = false;
    this.lost += this.down.length + this.up.length;
    this.down.length = 0;
    this.up.length = 0;
  }

  /** The mux lost power: its promises are gone with it. */
  muxDied(): void {
    this.#pending.clear();
  }

  /** The upstream's recipient handler: one delivery, copied (the view is reused). */
  deliver(event: RelayedEvent): void {
    if (this.connected) this.down.push({ kind: 'deliver', event });
  }

  /** CONFIRMED arrived at the mux. */
  answered(seq: number): void {
    const waiters = this.#pending.get(seq);
    this.#pending.delete(seq);
    for (const resolve of waiters ?? []) resolve();
  }

  /** At the upstream: the confirmations in flight, applied; returns their seqs. */
  confirmAt(recipient: Recipient, count: number): number[] {
    const seqs = this.up.splice(0, count);
    for (const seq of seqs) recipient.confirm(seq); // an unknown or repeated seq is ignored
    return seqs;
  }
}
