/**
 * The wire protocol's frames (docs/PROTOCOL.md, byte by byte): how producers and recipients in
 * other processes reach a node's daemon [110, 160, 170-172]. A frame is
 *
 *   u32 length (LE, of what follows: the type and the payload; 1 <= length <= frameBytesMax)
 *   u8  type
 *   ..  payload (little-endian integers; names are ASCII with a one-byte length)
 *
 * Every decoder checks the payload completely (exact length, each name against its pattern,
 * each field's range) before anything acts on it, and throws a WireError otherwise: a malformed
 * frame drops its connection with a reason and changes nothing on the device.
 */
import { isValidName, type NameKind } from '../events/names.js';

export const wireMagic = 0x5752564e; // 'NVRW' little-endian
/** The version this code speaks; a daemon also accepts clients of versions 1..wireVersion. */
export const wireVersion = 2;
export const wireVersionMin = 1;
/** Largest frame (length field) either side accepts: a record of the largest details, and room. */
export const frameBytesMaxDefault = 1 << 17;
export const frameHeaderBytes = 5;

export const FrameType = Object.freeze({
  hello: 0x01,
  welcome: 0x02,
  claim: 0x08,
  claimed: 0x09,
  emit: 0x10,
  ack: 0x11,
  refused: 0x12,
  subscribe: 0x20,
  subscribed: 0x21,
  deliver: 0x22,
  confirm: 0x23,
  confirmed: 0x24,
  ping: 0x30,
  pong: 0x31,
  goodbye: 0x3f,
});
export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

const frameNames = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

/** A frame that breaks the protocol; its connection is dropped with `code` as the reason. */
export class WireError extends Error {
  readonly code: string;
  constructor(
    code: 'BAD_FRAME' | 'FRAME_TOO_LARGE' | 'BAD_VERSION' | 'UNEXPECTED_FRAME',
    message: string,
  ) {
    super(message);
    this.name = 'WireError';
    this.code = code;
  }
}

export function frameName(type: number): string {
  return frameNames.get(type) ?? `0x${type.toString(16).padStart(2, '0')}`;
}

// ---- frames as values ----

export interface Hello {
  type: typeof FrameType.hello;
  versionMin: number;
  versionMax: number;
  client: string;
}
export interface Welcome {
  type: typeof FrameType.welcome;
  version: number;
  heartbeatMs: number;
  frameBytesMax: number;
  detailsBytesMax: number;
  /** The daemon's device id, 16 hex digits. */
  node: string;
}
/** A producer name claimed by one connection at a time; `resume` its next counter, or 0. */
export interface Claim {
  type: typeof FrameType.claim;
  requestId: number;
  producer: string;
  resume: number;
}
export interface Claimed {
  type: typeof FrameType.claimed;
  requestId: number;
  handle: number;
  nextCounter: number;
}
export interface Emit {
  type: typeof FrameType.emit;
  requestId: number;
  /** A claimed producer's handle. */
  handle: number;
  severity: number;
  counter: number;
  eventType: string;
  details: Uint8Array;
}
export interface Ack {
  type: typeof FrameType.ack;
  requestId: number;
  /** The event's seq; 0 if it was recorded before and has since been retired (its seq is gone). */
  seq: number;
}
export interface Refused {
  type: typeof FrameType.refused;
  requestId: number;
  code: string;
  message: string;
}
export interface Subscribe {
  type: typeof FrameType.subscribe;
  requestId: number;
  recipient: string;
  severityMax: number;
  window: number;
  prefixes: string[];
}
export interface Subscribed {
  type: typeof FrameType.subscribed;
  requestId: number;
  handle: number;
  window: number;
}
export interface Deliver {
  type: typeof FrameType.deliver;
  handle: number;
  attempt: number;
  /** The record as stored [111] (its CRC checked by the receiver). */
  record: Uint8Array;
}
export interface Confirm {
  type: typeof FrameType.confirm;
  handle: number;
  /** Version 2: answer with CONFIRMED once the confirmation is durable (confirmFlagDurable). */
  flags: number;
  seq: number;
}
/** CONFIRM flag bit 0: the client wants a CONFIRMED frame once the confirmation is durable. */
export const confirmFlagDurable = 1;
export interface Confirmed {
  type: typeof FrameType.confirmed;
  handle: number;
  seq: number;
}
export interface Ping {
  type: typeof FrameType.ping | typeof FrameType.pong;
  nonce: number;
}
export interface Goodbye {
  type: typeof FrameType.goodbye;
  code: string;
  message: string;
}

export type Frame =
  | Hello
  | Welcome
  | Claim
  | Claimed
  | Emit
  | Ack
  | Refused
  | Subscribe
  | Subscribed
  | Deliver
  | Confirm
  | Confirmed
  | Ping
  | Goodbye;

// ---- encoding ----

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Builds one frame: fields appended in order, the length filled in at the end. */
class FrameWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #at = frameHeaderBytes;

  constructor(type: number, capacity: number) {
    this.#bytes = new Uint8Array(frameHeaderBytes + capacity);
    this.#view = new DataView(this.#bytes.buffer);
    this.#bytes[4] = type;
  }

  u8(value: number): this {
    this.#view.setUint8(this.#at, value);
    this.#at += 1;
    return this;
  }

  u16(value: number): this {
    this.#view.setUint16(this.#at, value, true);
    this.#at += 2;
    return this;
  }

  u32(value: number): this {
    this.#view.setUint32(this.#at, value, true);
    this.#at += 4;
    return this;
  }

  /** An integer below 2^53 as a u64. */
  u64(value: number): this {
    const low = value % 0x100000000;
    return this.u32(low).u32((value - low) / 0x100000000);
  }

  bytes(source: Uint8Array): this {
    this.#bytes.set(source, this.#at);
    this.#at += source.length;
    return this;
  }

  /** One-byte length, then ASCII. */
  name(value: string): this {
    return this.u8(value.length).bytes(textEncoder.encode(value));
  }

  /** Two-byte length, then UTF-8 (messages). */
  text(value: string): this {
    const bytes = textEncoder.encode(value).subarray(0, 0xffff);
    return this.u16(bytes.length).bytes(bytes);
  }

  done(): Uint8Array {
    this.#view.setUint32(0, this.#at - 4, true);
    return this.#bytes.subarray(0, this.#at);
  }
}

/** One frame as bytes, ready to write. */
export function encodeFrame(frame: Frame): Uint8Array {
  switch (frame.type) {
    case FrameType.hello:
      return new FrameWriter(frame.type, 9 + frame.client.length)
        .u32(wireMagic)
        .u16(frame.versionMin)
        .u16(frame.versionMax)
        .name(frame.client)
        .done();
    case FrameType.welcome:
      return new FrameWriter(frame.type, 24)
        .u16(frame.version)
        .u16(0)
        .u32(frame.heartbeatMs)
        .u32(frame.frameBytesMax)
        .u32(frame.detailsBytesMax)
        .bytes(hexBytes(frame.node))
        .done();
    case FrameType.claim:
      return new FrameWriter(frame.type, 13 + frame.producer.length)
        .u32(frame.requestId)
        .u64(frame.resume)
        .name(frame.producer)
        .done();
    case FrameType.claimed:
      return new FrameWriter(frame.type, 16)
        .u32(frame.requestId)
        .u16(frame.handle)
        .u16(0)
        .u64(frame.nextCounter)
        .done();
    case FrameType.emit:
      return new FrameWriter(frame.type, 20 + frame.eventType.length + frame.details.length)
        .u32(frame.requestId)
        .u16(frame.handle)
        .u8(frame.severity)
        .u8(0)
        .u64(frame.counter)
        .u16(frame.details.length)
        .name(frame.eventType)
        .bytes(frame.details)
        .done();
    case FrameType.ack:
      return new FrameWriter(frame.type, 12).u32(frame.requestId).u64(frame.seq).done();
    case FrameType.refused:
      return new FrameWriter(frame.type, 7 + frame.code.length + frame.message.length * 3)
        .u32(frame.requestId)
        .name(frame.code)
        .text(frame.message)
        .done();
    case FrameType.subscribe:
      return encodeSubscribe(frame);
    case FrameType.subscribed:
      return new FrameWriter(frame.type, 8)
        .u32(frame.requestId)
        .u16(frame.handle)
        .u16(frame.window)
        .done();
    case FrameType.deliver:
      return new FrameWriter(frame.type, 4 + frame.record.length)
        .u16(frame.handle)
        .u16(frame.attempt)
        .bytes(frame.record)
        .done();
    case FrameType.confirm:
      return new FrameWriter(frame.type, 12)
        .u16(frame.handle)
        .u8(frame.flags)
        .u8(0)
        .u64(frame.seq)
        .done();
    case FrameType.confirmed:
      return new FrameWriter(frame.type, 12).u16(frame.handle).u16(0).u64(frame.seq).done();
    case FrameType.ping:
    case FrameType.pong:
      return new FrameWriter(frame.type, 8).u64(frame.nonce).done();
    case FrameType.goodbye:
      return new FrameWriter(frame.type, 3 + frame.code.length + frame.message.length * 3)
        .name(frame.code)
        .text(frame.message)
        .done();
  }
}

function encodeSubscribe(frame: Subscribe): Uint8Array {
  const prefixBytes = frame.prefixes.reduce((n, p) => n + 1 + p.length, 0);
  const writer = new FrameWriter(frame.type, 9 + frame.recipient.length + prefixBytes)
    .u32(frame.requestId)
    .u8(frame.severityMax)
    .u8(frame.prefixes.length)
    .u16(frame.window)
    .name(frame.recipient);
  for (const prefix of frame.prefixes) writer.name(prefix);
  return writer.done();
}

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(8);
  for (let i = 0; i < 8; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16) || 0;
  return bytes;
}

// ---- decoding ----

/** Reads one frame's payload field by field; any overrun or leftover is a BAD_FRAME. */
class FrameReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  #at = 0;

  constructor(payload: Uint8Array, what: string) {
    this.#bytes = payload;
    this.#view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    this.#what = what;
  }

  #need(count: number): number {
    if (this.#at + count > this.#bytes.length)
      throw new WireError('BAD_FRAME', `${this.#what}: frame ends inside a field`);
    const at = this.#at;
    this.#at += count;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#need(1));
  }

  u16(): number {
    return this.#view.getUint16(this.#need(2), true);
  }

  u32(): number {
    return this.#view.getUint32(this.#need(4), true);
  }

  /** A u64 that must be an integer below 2^53. */
  u64(field: string): number {
    const low = this.u32();
    const high = this.u32();
    if (high >= 0x200000) throw new WireError('BAD_FRAME', `${this.#what}: ${field} above 2^53`);
    return high * 0x100000000 + low;
  }

  bytes(count: number): Uint8Array {
    const at = this.#need(count);
    return this.#bytes.subarray(at, at + count);
  }

  name(kind: NameKind | 'code' | 'prefix' | 'client'): string {
    const length = this.u8();
    const bytes = this.bytes(length);
    let value = '';
    for (const byte of bytes) value += String.fromCharCode(byte);
    if (!validName(kind, value))
      throw new WireError(
        'BAD_FRAME',
        `${this.#what}: ${kind} ${JSON.stringify(value)} is not valid`,
      );
    return value;
  }

  text(): string {
    const bytes = this.bytes(this.u16());
    try {
      return textDecoder.decode(bytes);
    } catch {
      throw new WireError('BAD_FRAME', `${this.#what}: a message that is not UTF-8`);
    }
  }

  remaining(): number {
    return this.#bytes.length - this.#at;
  }

  end(): void {
    if (this.#at !== this.#bytes.length)
      throw new WireError(
        'BAD_FRAME',
        `${this.#what}: ${this.#bytes.length - this.#at} bytes past the last field`,
      );
  }
}

const codePattern = /^[A-Z][A-Z0-9_]{0,39}$/;
const prefixPattern = /^[A-Za-z0-9_.-]{0,64}$/;

/** A subscription's type prefix as SUBSCRIBE carries it: 0..64 of [A-Za-z0-9_.-]. */
export function isTypePrefix(value: string): boolean {
  return prefixPattern.test(value);
}

function validName(kind: NameKind | 'code' | 'prefix' | 'client', value: string): boolean {
  if (kind === 'code') return codePattern.test(value);
  if (kind === 'prefix') return prefixPattern.test(value);
  if (kind === 'client') return value.length <= 64 && /^[A-Za-z0-9._:@/-]*$/.test(value);
  return isValidName(kind, value);
}

/** Decodes one frame's type and payload into a value; WireError if it breaks the protocol. */
export function decodeFrame(type: number, payload: Uint8Array): Frame {
  const r = new FrameReader(payload, frameName(type));
  const frame = decodeFields(type, r);
  r.end();
  return frame;
}

function decodeFields(type: number, r: FrameReader): Frame {
  switch (type) {
    case FrameType.hello: {
      if (r.u32() !== wireMagic) throw new WireError('BAD_FRAME', 'hello: not an nvrelay client');
      return { type, versionMin: r.u16(), versionMax: r.u16(), client: r.name('client') };
    }
    case FrameType.welcome: {
      const version = r.u16();
      r.u16();
      const heartbeatMs = r.u32();
      const frameBytesMax = r.u32();
      const detailsBytesMax = r.u32();
      const node = Array.from(r.bytes(8), (b) => b.toString(16).padStart(2, '0')).join('');
      return { type, version, heartbeatMs, frameBytesMax, detailsBytesMax, node };
    }
    case FrameType.claim:
      return { type, requestId: r.u32(), resume: r.u64('resume'), producer: r.name('source') };
    case FrameType.claimed: {
      const requestId = r.u32();
      const handle = r.u16();
      r.u16();
      return { type, requestId, handle, nextCounter: r.u64('nextCounter') };
    }
    case FrameType.emit:
      return decodeEmit(r);
    case FrameType.ack:
      return { type, requestId: r.u32(), seq: r.u64('seq') };
    case FrameType.refused:
      return { type, requestId: r.u32(), code: r.name('code'), message: r.text() };
    case FrameType.subscribe:
      return decodeSubscribe(r);
    case FrameType.subscribed:
      return { type, requestId: r.u32(), handle: r.u16(), window: r.u16() };
    case FrameType.deliver: {
      const handle = r.u16();
      const attempt = r.u16();
      return { type, handle, attempt, record: r.bytes(r.remaining()) };
    }
    case FrameType.confirm: {
      const handle = r.u16();
      const flags = r.u8();
      if ((flags & ~confirmFlagDurable) !== 0)
        throw new WireError('BAD_FRAME', `confirm: unknown flags 0x${flags.toString(16)}`);
      r.u8();
      return { type, handle, flags, seq: r.u64('seq') };
    }
    case FrameType.confirmed: {
      const handle = r.u16();
      r.u16();
      return { type, handle, seq: r.u64('seq') };
    }
    case FrameType.ping:
    case FrameType.pong:
      return { type, nonce: r.u64('nonce') };
    case FrameType.goodbye:
      return { type, code: r.name('code'), message: r.text() };
    default:
      throw new WireError('BAD_FRAME', `unknown frame type ${frameName(type)}`);
  }
}

function decodeEmit(r: FrameReader): Emit {
  const requestId = r.u32();
  const handle = r.u16();
  const severity = r.u8();
  if (severity > 7) throw new WireError('BAD_FRAME', `emit: severity ${severity} is not 0..7`);
  if (r.u8() !== 0) throw new WireError('BAD_FRAME', 'emit: reserved byte not zero');
  const counter = r.u64('counter');
  const detailsBytes = r.u16();
  const eventType = r.name('type');
  return {
    type: FrameType.emit,
    requestId,
    handle,
    severity,
    counter,
    eventType,
    details: r.bytes(detailsBytes),
  };
}

function decodeSubscribe(r: FrameReader): Subscribe {
  const requestId = r.u32();
  const severityMax = r.u8();
  if (severityMax > 7) throw new WireError('BAD_FRAME', `subscribe: severityMax ${severityMax}`);
  const count = r.u8();
  const window = r.u16();
  if (window === 0) throw new WireError('BAD_FRAME', 'subscribe: a window of 0');
  const recipient = r.name('recipient');
  const prefixes: string[] = [];
  for (let k = 0; k < count; k++) prefixes.push(r.name('prefix'));
  return { type: FrameType.subscribe, requestId, severityMax, window, recipient, prefixes };
}
