/**
 * The interconnect of an HA pair [193]: the frames two daemons exchange to mirror each other's
 * NVRAM and to hand a stream back. The envelope is the wire protocol's (u32 length LE, u8 type,
 * payload; src/wire/frame-stream.ts reassembles it); the types are the interconnect's own, and
 * every decoder checks its payload completely before anything acts on it (WireError otherwise:
 * the connection is dropped, nothing is applied).
 *
 * | type | frame | payload |
 * |---|---|---|
 * | 0x40 | PAIR | node id (8, big-endian), recipientsMax u32, detailsBytesMax u32, bootSlots u32, runtimeSlots u32 |
 * | 0x41 | UPDATE | id u32, node id (8), recipients u8 x (id u8, entry 64), fifos u8 x (fifo u8, head u64, from u64, records u32, slotBytes u32, records x slotBytes, words u32 x (position u64, low u32, high u32), torn u32 x position u64) |
 * | 0x42 | UPDATED | id u32, fifos u8 x tail u64 |
 * | 0x43 | GIVEBACK_ASK | node id (8) |
 * | 0x44 | GIVEBACK | fifos u8 x head u64, taken u32 x (fifo u8, position u64, seq u64) (./giveback.ts) |
 * | 0x45 | REFUSED | code (u8 length + ASCII), message (u16 length + UTF-8) |
 */
import { WireError } from '../wire/frames.js';
import type { Handover, MirrorFifoUpdate, MirrorUpdate } from './mirror-update.js';

export const InterconnectType = Object.freeze({
  pair: 0x40,
  update: 0x41,
  updated: 0x42,
  givebackAsk: 0x43,
  giveback: 0x44,
  refused: 0x45,
});

/** A resynchronisation carries every pending record at once: frames up to 64 MiB. */
export const interconnectFrameBytesMax = 1 << 26;

export interface PairFrame {
  type: typeof InterconnectType.pair;
  node: string;
  recipientsMax: number;
  detailsBytesMax: number;
  bootSlots: number;
  runtimeSlots: number;
}
export interface UpdateFrame {
  type: typeof InterconnectType.update;
  id: number;
  update: MirrorUpdate;
}
export interface UpdatedFrame {
  type: typeof InterconnectType.updated;
  id: number;
  tails: number[];
}
export interface GivebackAskFrame {
  type: typeof InterconnectType.givebackAsk;
  node: string;
}
export interface GivebackFrame {
  type: typeof InterconnectType.giveback;
  handover: Handover;
}
export interface RefusedFrame {
  type: typeof InterconnectType.refused;
  code: string;
  message: string;
}
export type InterconnectFrame =
  PairFrame | UpdateFrame | UpdatedFrame | GivebackAskFrame | GivebackFrame | RefusedFrame;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });
const nodePattern = /^[0-9a-f]{16}$/;

/** Appends fields to a growing buffer (one frame at a time; not the hot path of an emit). */
class FrameWriter {
  #bytes = new Uint8Array(256);
  #view = new DataView(this.#bytes.buffer);
  #at = 0;

  #room(n: number): void {
    if (this.#at + n <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#at + n));
    grown.set(this.#bytes.subarray(0, this.#at));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }
  u8(value: number): void {
    this.#room(1);
    this.#view.setUint8(this.#at, value);
    this.#at += 1;
  }
  u16(value: number): void {
    this.#room(2);
    this.#view.setUint16(this.#at, value, true);
    this.#at += 2;
  }
  u32(value: number): void {
    this.#room(4);
    this.#view.setUint32(this.#at, value >>> 0, true);
    this.#at += 4;
  }
  u64(value: number): void {
    this.#room(8);
    this.#view.setBigUint64(this.#at, BigInt(value), true);
    this.#at += 8;
  }
  bytes(value: Uint8Array): void {
    this.#room(value.length);
    this.#bytes.set(value, this.#at);
    this.#at += value.length;
  }
  node(id: string): void {
    for (let i = 0; i < 8; i++) this.u8(Number.parseInt(id.slice(2 * i, 2 * i + 2), 16));
  }
  /** The frame: length, type, payload. */
  frame(type: number): Uint8Array {
    const out = new Uint8Array(5 + this.#at);
    new DataView(out.buffer).setUint32(0, 1 + this.#at, true);
    out[4] = type;
    out.set(this.#bytes.subarray(0, this.#at), 5);
    return out;
  }
}

/** Reads a payload, refusing to read past its end (a truncated frame is a BAD_FRAME). */
class FrameReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at = 0;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #need(n: number): void {
    if (this.#at + n > this.#bytes.length)
      throw new WireError('BAD_FRAME', 'an interconnect frame ends early');
  }
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#at++);
  }
  u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.#at, true);
    this.#at += 2;
    return value;
  }
  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#at, true);
    this.#at += 4;
    return value;
  }
  u64(): number {
    this.#need(8);
    const value = this.#view.getBigUint64(this.#at, true);
    this.#at += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER))
      throw new WireError('BAD_FRAME', 'an interconnect counter above 2^53');
    return Number(value);
  }
  bytes(n: number): Uint8Array {
    this.#need(n);
    const value = this.#bytes.slice(this.#at, this.#at + n);
    this.#at += n;
    return value;
  }
  node(): string {
    return Array.from(this.bytes(8), (b) => b.toString(16).padStart(2, '0')).join('');
  }
  end(): void {
    if (this.#at !== this.#bytes.length)
      throw new WireError('BAD_FRAME', 'an interconnect frame longer than its fields');
  }
}

export function encodeInterconnect(frame: InterconnectFrame): Uint8Array {
  const w = new FrameWriter();
  switch (frame.type) {
    case InterconnectType.pair:
      w.node(frame.node);
      for (const n of [frame.recipientsMax, frame.detailsBytesMax, frame.bootSlots]) w.u32(n);
      w.u32(frame.runtimeSlots);
      break;
    case InterconnectType.update:
      w.u32(frame.id);
      encodeUpdate(w, frame.update);
      break;
    case InterconnectType.updated:
      w.u32(frame.id);
      w.u8(frame.tails.length);
      for (const tail of frame.tails) w.u64(tail);
      break;
    case InterconnectType.givebackAsk:
      w.node(frame.node);
      break;
    case InterconnectType.giveback:
      w.u8(frame.handover.heads.length);
      for (const head of frame.handover.heads) w.u64(head);
      w.u32(frame.handover.taken.length);
      for (const { fifo, position, seq } of frame.handover.taken) {
        w.u8(fifo);
        w.u64(position);
        w.u64(seq);
      }
      break;
    case InterconnectType.refused: {
      const message = textEncoder.encode(frame.message).subarray(0, 0xffff);
      w.u8(frame.code.length);
      w.bytes(textEncoder.encode(frame.code));
      w.u16(message.length);
      w.bytes(message);
      break;
    }
  }
  return w.frame(frame.type);
}

function encodeUpdate(w: FrameWriter, update: MirrorUpdate): void {
  w.node(update.node);
  w.u8(update.recipients.length);
  for (const { id, entry } of update.recipients) {
    w.u8(id);
    w.bytes(entry);
  }
  w.u8(update.fifos.length);
  for (const part of update.fifos) {
    w.u8(part.fifo);
    w.u64(part.head);
    w.u64(part.from);
    w.u32(part.records.length);
    w.u32(part.records[0]?.length ?? 0);
    for (const record of part.records) w.bytes(record);
    w.u32(part.confirmations.length / 3);
    for (let i = 0; i + 2 < part.confirmations.length; i += 3) {
      w.u64(part.confirmations[i] as number);
      w.u32(part.confirmations[i + 1] as number);
      w.u32(part.confirmations[i + 2] as number);
    }
    w.u32(part.torn.length);
    for (const position of part.torn) w.u64(position);
  }
}

/** Decodes one interconnect frame's payload (the stream's decoder); WireError if malformed. */
export function decodeInterconnect(type: number, payload: Uint8Array): InterconnectFrame {
  const r = new FrameReader(payload);
  let frame: InterconnectFrame;
  switch (type) {
    case InterconnectType.pair:
      frame = {
        type,
        node: r.node(),
        recipientsMax: r.u32(),
        detailsBytesMax: r.u32(),
        bootSlots: r.u32(),
        runtimeSlots: r.u32(),
      };
      break;
    case InterconnectType.update:
      frame = { type, id: r.u32(), update: decodeUpdate(r) };
      break;
    case InterconnectType.updated: {
      const id = r.u32();
      frame = { type, id, tails: counters(r) };
      break;
    }
    case InterconnectType.givebackAsk:
      frame = { type, node: r.node() };
      break;
    case InterconnectType.giveback: {
      const heads = counters(r);
      const taken = Array.from({ length: r.u32() }, () => ({
        fifo: r.u8(),
        position: r.u64(),
        seq: r.u64(),
      }));
      frame = { type, handover: { heads, taken } };
      break;
    }
    case InterconnectType.refused: {
      const code = textDecoder.decode(r.bytes(r.u8()));
      frame = { type, code, message: textDecoder.decode(r.bytes(r.u16())) };
      break;
    }
    default:
      throw new WireError('UNEXPECTED_FRAME', `interconnect frame type 0x${type.toString(16)}`);
  }
  r.end();
  return frame;
}

function counters(r: FrameReader): number[] {
  const count = r.u8();
  if (count > 2) throw new WireError('BAD_FRAME', `${count} FIFOs in an interconnect frame`);
  return Array.from({ length: count }, () => r.u64());
}

function decodeUpdate(r: FrameReader): MirrorUpdate {
  const node = r.node();
  if (!nodePattern.test(node)) throw new WireError('BAD_FRAME', 'a node id');
  const recipients = Array.from({ length: r.u8() }, () => ({ id: r.u8(), entry: r.bytes(64) }));
  const count = r.u8();
  if (count > 2) throw new WireError('BAD_FRAME', `${count} FIFOs in an update`);
  const fifos: MirrorFifoUpdate[] = [];
  for (let k = 0; k < count; k++) {
    const fifo = r.u8();
    const head = r.u64();
    const from = r.u64();
    const records = r.u32();
    const slotBytes = r.u32();
    if (records > 0 && (slotBytes === 0 || slotBytes % 64 !== 0))
      throw new WireError('BAD_FRAME', `records of ${slotBytes} bytes`);
    const list = Array.from({ length: records }, () => r.bytes(slotBytes));
    const words = r.u32();
    const confirmations: number[] = [];
    for (let i = 0; i < words; i++) confirmations.push(r.u64(), r.u32(), r.u32());
    const torn = Array.from({ length: r.u32() }, () => r.u64());
    fifos.push({ fifo, head, from, records: list, confirmations, torn });
  }
  return { node, recipients, fifos };
}
