/**
 * The multiplexing recipient [171, 172, 180, 181], steps 250-280: a node with NVRAM of its own
 * that is a recipient of one or more upstream nodes. Not a second implementation: it records
 * what it receives as events of its own (the same pools, FIFO, engine and replay), so its own
 * recipients subscribe to it exactly as to any node, and after its own crash it replays what
 * it had not finished [270-280].
 *
 * Per upstream event (docs/ARCHITECTURE.md, "The multiplexing recipient", persist order M):
 *
 *   251  received from the upstream (an UpstreamLink);
 *        an (upstream node, seq) this mux holds is a re-send: not recorded again;
 *   252  recorded in this node's FIFO with its origin trail, the custodian's bit intended;
 *   253  custody: once durable, the custodian (a recipient of this node) is delivered it and
 *        confirms it upstream, asking for CONFIRMED;
 *   254-255  filtered by this node's subscriptions and delivered to its recipients as any event;
 *   256  end-to-end instead: the custodian confirms upstream only once every other intended
 *        recipient confirmed it (or had it dead-lettered); an event no subscription matched is
 *        confirmed upstream at once, and counted (`unmatched`);
 *        CONFIRMED (the upstream's confirmation is durable: it will not send the event again):
 *        the custodian confirms its own bit, and the record may retire.
 *
 * The custodian's unconfirmed bit is what makes recording exactly-once across re-sends: until
 * the upstream's confirmation is durable, the record stays pending, and a boot rebuilds the
 * index of held events from it (./origin-index.ts).
 */
import type { Recipient } from '../engine/recipient.js';
import type { EventView } from '../engine/event-view.js';
import type { Node } from '../node/node.js';
import { OriginIndex, type Holding } from './origin-index.js';
import { UpstreamLink, type RelayMode } from './upstream-link.js';

/** The custodian's recipient name in this node's persistent table. */
export const custodianName = 'mux:custody';

/**
 * The custodian never times out: an event waits for its upstream (which may be down for long)
 * or for its downstream recipients, and is never dead-lettered on the custodian's account.
 */
const custodianTimeoutMs = 2 ** 31 - 1;

export interface MultiplexerCounters {
  /** Events received from upstreams (re-sends included). */
  received: number;
  /** Recorded in this node (step 252). */
  recorded: number;
  /** Re-sends of an event this mux holds, not recorded again. */
  duplicates: number;
  /** Refused by this node (QueueFull, too large): not confirmed, so the upstream sends it again. */
  refused: number;
  /** Confirmed upstream and released (CONFIRMED received). */
  released: number;
  /** Matched no subscription of this node: confirmed upstream at once. */
  unmatched: number;
}

export interface MultiplexerOptions {
  /** Events the custodian holds at once (its in-flight window; default 4096). */
  custodianWindow?: number;
  /** A refused or undeliverable event, for the log. */
  onRefused?: (link: UpstreamLink, seq: number, error: unknown) => void;
  /**
   * An error thrown where nobody waits for it (a promise callback): a device error has already
   * failed the node (fail-stop); anything else is a defect. Default: rethrown on the next turn.
   */
  onError?: (error: unknown) => void;
}

export class Multiplexer {
  readonly node: Node;
  readonly custodian: Recipient;
  readonly index: OriginIndex;
  readonly counters: MultiplexerCounters = {
    received: 0,
    recorded: 0,
    duplicates: 0,
    refused: 0,
    released: 0,
    unmatched: 0,
  };
  readonly onRefused: (link: UpstreamLink, seq: number, error: unknown) => void;
  readonly onError: (error: unknown) => void;
  readonly #links = new Map<string, UpstreamLink>();
  readonly #byNode = new Map<string, UpstreamLink>();
  /** End-to-end: events waiting for this node's own recipients (step 256). */
  readonly #waiting = new Set<Holding>();
  #sweep: NodeJS.Timeout | null = null;
  #settling = false;

  /** Registers the custodian and rebuilds the index of held events: before `node.start()`. */
  constructor(node: Node, options: MultiplexerOptions = {}) {
    this.node = node;
    this.onRefused = options.onRefused ?? (() => {});
    this.onError =
      options.onError ??
      ((error) =>
        setImmediate(() => {
          throw error;
        }));
    this.custodian = node.registerRecipient(
      custodianName,
      { prefixes: [''], severityMax: 'debug' },
      (event, recipient) => this.#custody(event, recipient),
      {
        retry: {
          timeoutMs: custodianTimeoutMs,
          timeoutMaxMs: custodianTimeoutMs,
          backoffFactor: 1,
          attemptsMax: 1_000,
        },
        inFlightMax: options.custodianWindow ?? 4096,
      },
    );
    this.index = OriginIndex.recover(node, this.custodian.id);
    // end-to-end: a confirmation or a dead letter downstream may complete a waiting event
    const confirmed = node.engine.onConfirmed;
    node.engine.onConfirmed = () => {
      confirmed();
      this.#settleSoon();
    };
    const deadLetter = node.engine.onDeadLetter;
    node.engine.onDeadLetter = (recipient, seq) => {
      deadLetter(recipient, seq);
      this.#settleSoon();
    };
  }

  /** A link to one upstream node (one per name). */
  link(name: string, mode: RelayMode): UpstreamLink {
    let link = this.#links.get(name);
    if (link === undefined) {
      link = this.createLink(name, mode);
      this.#links.set(name, link);
    }
    return link;
  }

  /** @internal (a mutant overrides it) */
  protected createLink(name: string, mode: RelayMode): UpstreamLink {
    return new UpstreamLink(this, name, mode);
  }

  /** Events held: recorded and not yet released by their upstream's CONFIRMED. */
  get held(): number {
    return this.index.size;
  }

  /** End-to-end events still waiting for this node's recipients. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** @internal A link learned its upstream's node id: the events of that node are its own. */
  adopt(link: UpstreamLink, nodeId: string): void {
    const previous = this.#byNode.get(nodeId);
    if (previous !== undefined && previous !== link)
      throw new Error(`upstreams '${previous.name}' and '${link.name}' are one node, ${nodeId}`);
    this.#byNode.set(nodeId, link);
    for (const holding of this.index.values()) if (holding.node === nodeId) this.advance(holding);
  }

  /** Step 253 (or 256): the custodian is delivered a record of this node. */
  #custody(event: EventView, recipient: Recipient): void {
    const last = event.origin().at(-1);
    if (last === undefined) {
      recipient.confirm(event.seq); // recorded here first: nothing upstream to confirm
      return;
    }
    const holding = this.index.find(last.node, last.seq) ?? this.index.add(last, event.seq, 'held');
    holding.muxSeq = event.seq;
    holding.delivered = true;
    if (holding.state === 'recording') holding.state = 'held';
    this.advance(holding);
  }

  /** Confirms a held event upstream once its link is up and, end-to-end, once it is handled. */
  advance(holding: Holding): void {
    if (holding.state !== 'held' || !holding.delivered) return;
    const link = this.#byNode.get(holding.node);
    if (link === undefined || !link.up) return; // its link adopts it when it connects
    const others = this.node.engine.othersHandled(this.custodian, holding.muxSeq);
    if (others === null) return; // not in the custodian's window (cannot be: it was delivered)
    if (link.mode === 'end-to-end' && !others.handled) {
      this.#waiting.add(holding); // step 256: waits for this node's recipients
      this.#settleLater();
      return;
    }
    this.#waiting.delete(holding);
    if (!others.others) this.counters.unmatched++;
    link.confirmUpstream(holding);
  }

  /** @internal CONFIRMED: the upstream will not send it again; the record may retire. */
  release(holding: Holding): void {
    this.index.delete(holding);
    this.#waiting.delete(holding);
    if (this.node.phase !== 'running') return;
    this.custodian.confirm(holding.muxSeq);
    this.counters.released++;
  }

  /** End-to-end: re-examines every waiting event (manual scheduling calls it after a drain). */
  settle(): void {
    for (const holding of [...this.#waiting]) {
      this.#waiting.delete(holding);
      this.advance(holding);
    }
  }

  /** One settle on the next turn for any number of confirmations in this one. */
  #settleSoon(): void {
    if (this.#waiting.size === 0 || this.node.scheduling === 'manual' || this.#settling) return;
    this.#settling = true;
    setImmediate(() => {
      this.#settling = false;
      if (this.node.phase === 'running') this.settle();
    });
  }

  /**
   * A confirmation given inside a drain pass does not call onConfirmed: while events wait, they
   * are looked at again every 20 ms as well.
   */
  #settleLater(): void {
    if (this.#sweep !== null || this.node.scheduling === 'manual') return;
    this.#sweep = setTimeout(() => {
      this.#sweep = null;
      if (this.node.phase !== 'running') return;
      this.settle();
      if (this.#waiting.size > 0) this.#settleLater();
    }, 20);
    this.#sweep.unref();
  }

  /** Stops the sweep (the node is closing). */
  close(): void {
    if (this.#sweep !== null) clearTimeout(this.#sweep);
    this.#sweep = null;
    for (const link of this.#links.values()) link.disconnected();
  }
}
