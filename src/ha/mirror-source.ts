/**
 * The sending half of NVRAM mirroring [193]: a node of an HA pair sends every record it makes
 * durable to its partner's mirror, and returns an emit only once the mirror holds it too (the
 * NVRAM-mirroring practice: an acknowledged event survives the loss of either node). Its
 * confirmations and head moves follow in batches (every `stateSyncMs`): a lagging mirror can
 * only make a takeover deliver again what was confirmed meanwhile, never skip an event.
 *
 * Order per group commit (persist order H, the sender's side):
 *   213  the group's fence on this node (the records durable here: EventRecorder);
 *   H    the update (every record published since the last one, and this node's durable head)
 *        sent, applied by the partner (./partner-mirror.ts) and acknowledged;
 *        then the group's emitters are told. Groups are acknowledged in order.
 *
 * Without a partner (the link down): 'required' refuses the acknowledgement (MIRROR_UNAVAILABLE:
 * the event is durable here and will be delivered, but the producer is told it is not
 * mirrored, and sends it again); 'preferred' acknowledges at once and counts a degraded
 * acknowledgement. When the link comes back the mirror is resynchronised from this node's head.
 */
import { recipientEntryBytes } from '../engine/recipient-table.js';
import { NodeError } from '../events/errors.js';
import { checkRecord } from '../events/record.js';
import type { PersistentFifo } from '../fifo/fifo.js';
import type { GroupCommit } from '../node/group-commit.js';
import type { Node } from '../node/node.js';
import type { MirrorAck, MirrorFifoUpdate, MirrorUpdate } from './mirror-update.js';

export type MirrorMode = 'required' | 'preferred';

/** How updates reach the partner's mirror (in process, or the interconnect). */
export interface MirrorPort {
  /** Resolves once the partner's mirror holds the update durably; rejects if the link failed. */
  send(update: MirrorUpdate): Promise<MirrorAck>;
}

export interface MirrorSourceOptions {
  mode?: MirrorMode;
  /** Confirmations and head moves are sent at most this often (ms; default 20). */
  stateSyncMs?: number;
  /** The link went down or came back: `degraded` true while 'preferred' runs without a mirror. */
  onDegraded?: (degraded: boolean, reason: string) => void;
}

export interface MirrorSourceCounters {
  updates: number;
  recordsSent: number;
  /** Emits acknowledged without the mirror ('preferred' while the link is down). */
  degradedAcks: number;
  /** Emits whose acknowledgement was refused ('required' while the link is down). */
  refusedAcks: number;
  resyncs: number;
}

export class MirrorSource {
  readonly node: Node;
  readonly nodeId: string;
  readonly mode: MirrorMode;
  readonly counters: MirrorSourceCounters = {
    updates: 0,
    recordsSent: 0,
    degradedAcks: 0,
    refusedAcks: 0,
    resyncs: 0,
  };
  #port: MirrorPort | null = null;
  /** Per FIFO: the next position to send. */
  readonly #sentTail: number[];
  /** Per FIFO and slot: the confirmation mask last sent (low, high). */
  readonly #sentWords: Float64Array[];
  /** Recipient names as last sent, by id. */
  readonly #sentNames: (string | null)[];
  readonly #onDegraded: (degraded: boolean, reason: string) => void;
  readonly #stateSyncMs: number;
  #stateTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(node: Node, options: MirrorSourceOptions = {}) {
    this.node = node;
    this.nodeId = node.device.header.deviceId.toString(16).padStart(16, '0');
    this.mode = options.mode ?? 'required';
    this.#stateSyncMs = options.stateSyncMs ?? 20;
    this.#onDegraded = options.onDegraded ?? (() => {});
    this.#sentTail = node.fifos.map((fifo) => fifo.head);
    this.#sentWords = node.fifos.map((fifo) => new Float64Array(fifo.slotCount * 2));
    this.#sentNames = new Array<string | null>(node.geometry.recipientsMax).fill(null);
    node.recorder.acknowledgesLater = true;
    node.recorder.acknowledge = (group) => this.#acknowledge(group);
  }

  /** True while updates have somewhere to go. */
  get up(): boolean {
    return this.#port !== null;
  }

  /** The link is up: the mirror is brought up to date from this node's head, then followed. */
  connected(port: MirrorPort): Promise<void> {
    this.#port = port;
    this.counters.resyncs++;
    this.node.fifos.forEach((fifo, k) => {
      this.#sentTail[k] = fifo.head; // everything pending goes again, with its mask
      (this.#sentWords[k] as Float64Array).fill(0);
    });
    this.#sentNames.fill(null);
    this.#onDegraded(false, 'mirror link up');
    const synced = this.#send(true);
    this.#armStateSync();
    return synced.then(() => {});
  }

  /** The link is down. */
  disconnected(reason: string): void {
    if (this.#port === null) return;
    this.#port = null;
    if (this.mode === 'preferred') this.#onDegraded(true, reason);
  }

  /** Step H for one durable group: its emitters hear once the mirror holds it. */
  #acknowledge(group: GroupCommit): void {
    if (this.#port === null) {
      this.#acknowledgeWithout(group);
      return;
    }
    this.#send(false).then(
      () => group.resolve(),
      (error: unknown) => {
        this.disconnected(error instanceof Error ? error.message : String(error));
        this.#acknowledgeWithout(group);
      },
    );
  }

  #acknowledgeWithout(group: GroupCommit): void {
    if (this.mode === 'preferred') {
      this.counters.degradedAcks += group.count;
      group.resolve();
      return;
    }
    this.counters.refusedAcks += group.count;
    group.reject(
      new NodeError(
        'MIRROR_UNAVAILABLE',
        "nvrelay: the partner's mirror is unreachable: the event is durable here but not mirrored",
      ),
    );
  }

  /** One update with everything published since the last one; updates go out in order. */
  #send(words: boolean): Promise<MirrorAck> {
    const port = this.#port;
    if (port === null) return Promise.reject(new Error('mirror link down'));
    const update = this.#collect(words);
    this.counters.updates++;
    // sent at once, not after the last one's answer: the link keeps their order (a socket, or
    // an apply in the call), the mirror applies them in it, and the answers come back in it
    return port.send(update);
  }

  /** Builds an update: new records, the head, and (with `words`) changed confirmation words. */
  #collect(words: boolean): MirrorUpdate {
    const fifos: MirrorFifoUpdate[] = this.node.fifos.map((fifo, k) =>
      this.#collectFifo(fifo, k, words),
    );
    return { node: this.nodeId, recipients: this.#collectRecipients(), fifos };
  }

  #collectFifo(fifo: PersistentFifo, k: number, words: boolean): MirrorFifoUpdate {
    const from = Math.max(this.#sentTail[k] as number, fifo.head);
    const records: Uint8Array[] = [];
    const torn: number[] = [];
    for (let position = from; position < fifo.tail; position++) {
      // a record recovered at boot is in the shadow once examined (the engine does it lazily)
      while (!fifo.isExamined(position)) fifo.examineNext();
      records.push(fifo.slotView(position).slice());
      if (checkRecord(fifo.buffer, fifo.slotBase(position), position, fifo.limits) !== 0)
        torn.push(position);
      this.#remember(fifo, k, position);
    }
    this.#sentTail[k] = fifo.tail;
    this.counters.recordsSent += records.length;
    const confirmations: number[] = [];
    if (words) {
      for (let position = fifo.head; position < from; position++) {
        if (this.#changed(fifo, k, position)) {
          const base = fifo.slotBase(position);
          confirmations.push(
            position,
            fifo.shadowView.getUint32(base, true),
            fifo.shadowView.getUint32(base + 4, true) & 0xffffff,
          );
          this.#remember(fifo, k, position);
        }
      }
    }
    return { fifo: k, head: fifo.persistedHead, from, records, confirmations, torn };
  }

  #changed(fifo: PersistentFifo, k: number, position: number): boolean {
    const sent = this.#sentWords[k] as Float64Array;
    const slot = (position % fifo.slotCount) * 2;
    const base = fifo.slotBase(position);
    return (
      sent[slot] !== fifo.shadowView.getUint32(base, true) ||
      sent[slot + 1] !== (fifo.shadowView.getUint32(base + 4, true) & 0xffffff)
    );
  }

  #remember(fifo: PersistentFifo, k: number, position: number): void {
    const sent = this.#sentWords[k] as Float64Array;
    const slot = (position % fifo.slotCount) * 2;
    const base = fifo.slotBase(position);
    sent[slot] = fifo.shadowView.getUint32(base, true);
    sent[slot + 1] = fifo.shadowView.getUint32(base + 4, true) & 0xffffff;
  }

  /** Entries registered (or freed) since the last update, as the table stores them. */
  #collectRecipients(): MirrorUpdate['recipients'] {
    const table = this.node.recipientTable;
    const changed: MirrorUpdate['recipients'] = [];
    table.names.forEach((name, id) => {
      if (name === this.#sentNames[id]) return;
      const entry = new Uint8Array(recipientEntryBytes);
      this.node.device.loadBytes(table.offset + id * recipientEntryBytes, entry);
      changed.push({ id, entry });
      this.#sentNames[id] = name;
    });
    return changed;
  }

  /** Confirmations and head moves, in batches [216, 217]. */
  #armStateSync(): void {
    if (this.#stateTimer !== null || this.#closed) return;
    this.#stateTimer = setInterval(() => this.syncState(), this.#stateSyncMs);
    this.#stateTimer.unref();
  }

  /** Sends the confirmations and head moves not yet mirrored (the timer's; tests call it). */
  syncState(): Promise<void> {
    if (this.#port === null || this.node.phase !== 'running') return Promise.resolve();
    return this.#send(true).then(
      () => {},
      (error: unknown) => this.disconnected(error instanceof Error ? error.message : String(error)),
    );
  }

  close(): void {
    this.#closed = true;
    if (this.#stateTimer !== null) clearInterval(this.#stateTimer);
    this.#stateTimer = null;
    this.#port = null;
  }
}
