/**
 * The partner mirror [193]: this node's copy of its partner's recipient table and FIFOs, kept
 * current by the partner's updates (persist order H, ./mirror-fifo.ts), recovered at boot by
 * the same decision table as any FIFO, and read by a takeover (./takeover.ts) when the partner
 * failed: its pending records are the partner's unfinished events.
 */
import { recipientEntryBytes, RecipientTable } from '../engine/recipient-table.js';
import { assert } from '../events/assert.js';
import { NodeError } from '../events/errors.js';
import {
  checkRecord,
  decodeRecord,
  getU64,
  recordBuffer,
  type ChecksumEngine,
  type EventRecord,
} from '../events/record.js';
import { SlotVerdict } from '../fifo/fifo.js';
import { fifoOffsets } from '../fifo/layout.js';
import { fifoGeometry, type NodeGeometry } from '../node/layout.js';
import type { NvramDevice } from '../nvram/device.js';
import { partnerFifoNames, partnerSectionNames, partnerSlotCounts } from './layout.js';
import { MirrorFifo } from './mirror-fifo.js';
import type { Handover, MirrorAck, MirrorFifoUpdate, MirrorUpdate } from './mirror-update.js';

/** A partner's event the mirror holds: not completely handled when last mirrored. */
export interface MirroredEvent {
  fifo: number;
  position: number;
  record: EventRecord;
  /** Names of the partner's recipients the event is meant for and that had not confirmed it. */
  owed: string[];
  /** Names of those that had confirmed it (or had it dead-lettered) [216]. */
  confirmed: string[];
}

const nodePattern = /^[0-9a-f]{16}$/;

export class PartnerMirror {
  readonly device: NvramDevice;
  readonly geometry: NodeGeometry;
  readonly fifos: MirrorFifo[];
  readonly recipients: RecipientTable;
  /** The partner's node id, once an update named it (the owner word), else null. */
  partner: string | null = null;
  readonly #ownerOffset: number;
  readonly #scratch = new Uint8Array(8);

  /** Opens (formatting on first use) and recovers the mirror; `checksum` as the node's. */
  constructor(
    device: NvramDevice,
    geometry: NodeGeometry,
    checksum: ChecksumEngine = 'webassembly',
  ) {
    this.device = device;
    this.geometry = geometry;
    const counts = partnerSlotCounts(geometry);
    this.fifos = partnerFifoNames.map(
      (name, k) =>
        new MirrorFifo(device, name, fifoGeometry(geometry, counts[k] as number), checksum),
    );
    this.recipients = new RecipientTable(
      device,
      partnerSectionNames.recipients,
      geometry.recipientsMax,
    );
    this.#ownerOffset = (this.fifos[0] as MirrorFifo).sectionOffset + fifoOffsets.owner;
    this.#recover();
  }

  /**
   * Recovery of the mirror. Without an owner word nothing was ever placed (the owner is
   * persisted before the first record, #adopt), so a descriptor that is not intact is a format
   * that never ran or was cut: formatted (again). With an owner, the FIFOs are recovered as any
   * FIFO (a damaged descriptor there is damaged media: NODE_CORRUPT, row D1).
   */
  #recover(): void {
    this.partner = this.#loadOwner();
    this.fifos.forEach((fifo, k) => {
      if (this.partner === null && !fifo.descriptorIntact())
        MirrorFifo.format(this.device, fifo.name, fifoGeometry(this.geometry, fifo.slotCount));
      fifo.recover({ repair: true });
      assert(fifo.head <= fifo.tail, `mirror FIFO ${k} recovered with head past tail`);
    });
    this.recipients.load();
  }

  #loadOwner(): string | null {
    this.device.loadBytes(this.#ownerOffset, this.#scratch);
    if (this.#scratch.every((byte) => byte === 0)) return null;
    return Array.from(this.#scratch, (byte) => byte.toString(16).padStart(2, '0')).join('');
  }

  /** The owner word names the partner before the first record of it is placed (persisted). */
  #adopt(node: string): void {
    if (this.partner === node) return;
    if (!nodePattern.test(node)) {
      throw new NodeError('BAD_ARGUMENT', `nvrelay: a mirror update from node '${node}'`);
    }
    if (this.partner !== null) {
      throw new NodeError(
        'MIRROR_PARTNER',
        `nvrelay: this node mirrors partner ${this.partner}, not ${node}: reset the mirror first`,
      );
    }
    for (let i = 0; i < 8; i++)
      this.#scratch[i] = Number.parseInt(node.slice(2 * i, 2 * i + 2), 16);
    this.device.storeBytes(this.#ownerOffset, this.#scratch);
    this.device.persist(this.#ownerOffset, 8);
    this.partner = node;
  }

  /** Applies one update (persist order H) and says what the mirror now holds. */
  apply(update: MirrorUpdate): MirrorAck {
    this.#adopt(update.node);
    for (const { id, entry } of update.recipients) this.#placeRecipient(id, entry);
    for (const part of update.fifos) this.#applyFifo(part);
    return { tails: this.fifos.map((fifo) => fifo.tail) };
  }

  /** A recipient entry as the partner's table holds it: name first, then its state word. */
  #placeRecipient(id: number, entry: Uint8Array): void {
    if (!Number.isSafeInteger(id) || id < 0 || id >= this.geometry.recipientsMax)
      throw new NodeError('BAD_ARGUMENT', `nvrelay: a mirrored recipient id ${id}`);
    if (entry.length !== recipientEntryBytes)
      throw new NodeError('BAD_ARGUMENT', 'nvrelay: a mirrored recipient entry of another size');
    const offset = this.recipients.offset + id * recipientEntryBytes;
    this.device.storeBytes(offset + 8, entry.subarray(8));
    this.device.persist(offset + 8, recipientEntryBytes - 8);
    this.device.storeBytes(offset, entry.subarray(0, 8));
    this.device.persist(offset, 8);
  }

  #applyFifo(part: MirrorFifoUpdate): void {
    const fifo = this.fifos[part.fifo];
    if (fifo === undefined)
      throw new NodeError('BAD_ARGUMENT', `nvrelay: mirror FIFO ${part.fifo}`);
    const torn = new Set(part.torn);
    // every new record checked before anything is stored: a refused update changes nothing
    // (the skip below is durable at once, and would drop what the mirror holds)
    part.records.forEach((record, k) => {
      const position = part.from + k;
      if (position >= fifo.reserved && !torn.has(position))
        this.#checkPlaced(fifo, position, record);
    });
    let position = part.from;
    if (part.records.length > 0 && position > fifo.reserved) fifo.skipTo(position);
    for (let k = 0; k < part.records.length; k++, position++) {
      if (position < fifo.reserved) {
        this.#confirmSent(fifo, position, part.records[k] as Uint8Array); // placed already
        continue;
      }
      const isTorn = torn.has(position);
      fifo.makeRoom(position, part.head);
      if (isTorn) fifo.placeTorn(position, part.records[k] as Uint8Array);
      else fifo.place(position, part.records[k] as Uint8Array);
    }
    const words = part.confirmations;
    for (let i = 0; i + 2 < words.length; i += 3)
      fifo.confirmWord(words[i] as number, words[i + 1] as number, words[i + 2] as number);
    fifo.commitPlaced(); // H3
    fifo.follow(part.head); // H4
  }

  /** A record sent again (a resync): only its confirmation mask may be newer. */
  #confirmSent(fifo: MirrorFifo, position: number, record: Uint8Array): void {
    const view = new DataView(record.buffer, record.byteOffset, 8);
    fifo.confirmWord(position, view.getUint32(0, true), view.getUint32(4, true) & 0xffffff);
  }

  /** Never place garbage: a record whose check fails, or of another position, is refused. */
  #checkPlaced(fifo: MirrorFifo, position: number, record: Uint8Array): void {
    const verdict = checkRecord(recordBuffer(record), 0, position, fifo.limits);
    if (verdict !== SlotVerdict.valid) {
      throw new NodeError(
        'BAD_ARGUMENT',
        `nvrelay: mirrored record at position ${position} fails its check (${verdict})`,
      );
    }
  }

  /** The partner's events not completely handled, oldest first per FIFO (boot FIFO first). */
  pending(): MirroredEvent[] {
    const events: MirroredEvent[] = [];
    this.fifos.forEach((fifo, k) => {
      for (let position = fifo.head; position < fifo.tail; position++) {
        const base = fifo.slotBase(position);
        if (checkRecord(fifo.buffer, base, position, fifo.limits) !== SlotVerdict.valid) continue;
        const record = decodeRecord(fifo.shadow, base);
        const recipients = this.#owed(record);
        // complete on the partner (every intended recipient confirmed), waiting behind the head
        if (recipients.owed.length === 0 && record.intendedMask !== 0n) continue;
        events.push({ fifo: k, position, record, ...recipients });
      }
    });
    return events;
  }

  #owed(record: EventRecord): { owed: string[]; confirmed: string[] } {
    const owed: string[] = [];
    const confirmed: string[] = [];
    for (let id = 0; id < this.geometry.recipientsMax; id++) {
      const bit = 1n << BigInt(id);
      if ((record.intendedMask & bit) === 0n) continue;
      const name = this.recipients.names[id] ?? `#${id}`;
      if ((record.confirmedMask & bit) !== 0n) confirmed.push(name);
      else owed.push(name);
    }
    return { owed, confirmed };
  }

  /**
   * The takeover released the event at `position` [193]: the survivor holds it durably now. Its
   * word says so, and the head moves past the released prefix (`upTo`); both durable (one fence)
   * before this returns.
   */
  release(fifo: number, position: number, upTo: number): void {
    const mirror = this.fifos[fifo];
    assert(mirror !== undefined, 'release of an unknown mirror FIFO');
    mirror.releaseOne(position);
    mirror.releaseTo(upTo);
    mirror.persistPointers();
  }

  /** What a giveback hands back: the heads, and the handled records past them. */
  handover(): Handover {
    const taken: Handover['taken'] = [];
    this.fifos.forEach((fifo, k) => {
      for (let position = fifo.head; position < fifo.tail; position++) {
        const base = fifo.slotBase(position);
        if (checkRecord(fifo.buffer, base, position, fifo.limits) !== SlotVerdict.valid) continue;
        const view = fifo.shadowView;
        const intendedLow = view.getUint32(base + 40, true);
        const intendedHigh = view.getUint32(base + 44, true) & 0xffffff;
        const handled =
          (view.getUint32(base, true) & intendedLow) >>> 0 === intendedLow &&
          (view.getUint32(base + 4, true) & intendedHigh) === intendedHigh;
        if (handled) taken.push({ fifo: k, position, seq: getU64(view, base + 24) });
      }
    });
    return { heads: this.fifos.map((fifo) => fifo.head), taken };
  }

  /** Per FIFO: head, tail and pending (inspect). */
  describe(): { fifo: string; head: number; tail: number; pending: number }[] {
    return this.fifos.map((fifo) => ({
      fifo: fifo.name,
      head: fifo.head,
      tail: fifo.tail,
      pending: fifo.tail - fifo.head,
    }));
  }
}
