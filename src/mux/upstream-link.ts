/**
 * One upstream node of a multiplexing recipient [251]: what the transport (a client connection,
 * ./remote-upstream.ts; or the crash lab's in-memory link) hands it, recorded here once [252],
 * and the confirmations it sends back [253, 256]. Transport-agnostic: `connected` gives it the
 * upstream's node id and a way to confirm durably, `receive` each delivery.
 */
import { originHopsMax, type OriginHop } from '../events/origin.js';
import type { Severity } from '../events/severity.js';
import type { Holding } from './origin-index.js';
import type { Multiplexer } from './multiplexer.js';

/**
 * `custody`: confirm upstream once the event is durable here (step 253). `end-to-end`: once
 * every recipient of this node it is meant for confirmed it (step 256).
 */
export type RelayMode = 'custody' | 'end-to-end';

/** An event as an upstream delivers it. */
export interface RelayedEvent {
  seq: number;
  severity: Severity;
  source: string;
  type: string;
  details: Uint8Array;
  /** Its path before the upstream (empty if the upstream recorded it first). */
  origin: readonly OriginHop[];
  /**
   * Names of this node's recipients it is not meant for: a partner's event taken over [193]
   * that they had confirmed on the partner. Absent from the wire.
   */
  except?: readonly string[];
}

/** The upstream's side: a confirmation that resolves once the upstream made it durable. */
export interface UpstreamConfirmer {
  confirmDurable(seq: number): Promise<void>;
}

export class UpstreamLink {
  readonly name: string;
  readonly mode: RelayMode;
  /** The upstream's node id (its device id) once connected. */
  node: string | null = null;
  protected readonly mux: Multiplexer;
  #confirmer: UpstreamConfirmer | null = null;

  constructor(mux: Multiplexer, name: string, mode: RelayMode) {
    this.mux = mux;
    this.name = name;
    this.mode = mode;
  }

  get up(): boolean {
    return this.#confirmer !== null;
  }

  /** The transport is up: the upstream's node id, and how to confirm to it. */
  connected(nodeId: string, confirmer: UpstreamConfirmer): void {
    this.node = nodeId;
    this.#confirmer = confirmer;
    this.mux.adopt(this, nodeId); // events held for this node are confirmed when ready
  }

  /**
   * The transport is down: nothing is confirmed until it is up again (confirmations already sent
   * are the transport's to send again: the client does after its reconnect).
   */
  disconnected(): void {
    this.#confirmer = null;
  }

  /** Step 251: one delivery from the upstream. */
  receive(event: RelayedEvent): void {
    const node = this.node;
    if (node === null) throw new Error(`upstream '${this.name}': a delivery before connected()`);
    const counters = this.mux.counters;
    counters.received++;
    if (this.holds(node, event.seq)) {
      counters.duplicates++; // a re-send of an event recorded here: its confirmation comes
      return;
    }
    if (event.origin.length >= originHopsMax) {
      this.#refused(event.seq, new Error(`an origin trail deeper than ${originHopsMax} hops`));
      return;
    }
    const hop: OriginHop = { node, seq: event.seq };
    let durable: Promise<number>;
    try {
      // step 252: the event, its trail and this hop, recorded in this node's FIFO
      durable = this.mux.node
        .producer(event.source)
        .emitRelayed(
          event.type,
          event.severity,
          event.details,
          [...event.origin, hop],
          this.#excepted(event.except),
        );
    } catch (error) {
      this.#refused(event.seq, error); // QueueFull or too large: the upstream sends it again
      return;
    }
    const holding = this.mux.index.add(hop, 0, 'recording');
    this.recording(holding);
    durable
      .then(
        (muxSeq) => {
          if (holding.muxSeq === 0) holding.muxSeq = muxSeq;
          if (holding.state === 'recording') holding.state = 'held';
          counters.recorded++;
          this.mux.advance(holding);
        },
        (error: unknown) => {
          if ((error as { code?: string }).code === 'MIRROR_UNAVAILABLE') {
            // durable here, only not mirrored [193]: held, so a re-send is not recorded again
            if (holding.state === 'recording') holding.state = 'held';
            counters.recorded++;
            return;
          }
          this.mux.index.delete(holding); // never recorded (a failed node): nothing is held
          this.#refused(event.seq, error);
        },
      )
      .catch(this.mux.onError);
  }

  /** Steps 253/256: the confirmation upstream, durable there before the event is released. */
  confirmUpstream(holding: Holding): void {
    const confirmer = this.#confirmer;
    if (confirmer === null) return;
    holding.state = 'confirming';
    confirmer
      .confirmDurable(holding.seq)
      .then(
        () => this.released(holding),
        () => {
          if (holding.state === 'confirming') holding.state = 'held'; // the transport closed
        },
      )
      .catch(this.mux.onError);
  }

  /** True if this mux holds (upstream node, seq): a re-send (a mutant forgets). */
  protected holds(node: string, seq: number): boolean {
    return this.mux.index.find(node, seq) !== undefined;
  }

  /** The record is in a group commit, not durable yet (a mutant confirms upstream here). */
  protected recording(_holding: Holding): void {}

  /** CONFIRMED arrived (a mutant releases earlier). */
  protected released(holding: Holding): void {
    this.mux.release(holding);
  }

  /** The ids of the named recipients this node knows (one it does not know is not subscribed). */
  #excepted(names: readonly string[] | undefined): number[] {
    if (names === undefined) return [];
    const table = this.mux.node.recipientTable;
    return names.map((name) => table.find(name)).filter((id) => id >= 0);
  }

  #refused(seq: number, error: unknown): void {
    this.mux.counters.refused++;
    this.mux.onRefused(this, seq, error);
  }
}
