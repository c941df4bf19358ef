/**
 * Protocol fuzzing: random and mutated frames against one live daemon. Each step sends a few
 * valid frames (pipelined, all answered), then one fuzzed frame: a valid frame of any kind
 * with wild field values (bad names, severities, handles, counters, windows, versions, server
 * frames, details over the device's limit) and a byte-level mutation (truncation, length field
 * off by one, zero, at or over the cap, huge; type byte; bit flips; trailing bytes), or pure
 * random bytes; some on a fresh connection before its HELLO.
 *
 * The test keeps its own copy of the framing of what it sent, so it knows after each fuzzed
 * frame whether the daemon has whole frames (then a PING with a fresh nonce follows: the PONG
 * says the connection lives), waits for more bytes (a few are sent, else the test ends its
 * side), or has seen a length field it must refuse.
 *
 * Properties: the daemon never crashes or hangs (after each batch a fresh client emits and
 * receives); valid frames are always answered and never dropped; every connection the daemon
 * drops gets a GOODBYE naming a reason code before the socket closes (but after a client's own
 * GOODBYE); and the device holds exactly the events valid EMIT frames asked for (a recipient
 * declared in the config and never connected keeps every record pending, so the file lists
 * them all): each acknowledged seq with its frame's content, nothing else but an emit whose
 * connection was dropped before its ack (a well-formed frame, byte for byte), and
 * `nvrelay check` finds it clean.
 *
 * NVRELAY_FUZZ_FRAMES (default 20,000) sets how many fuzzed frames; docs/TESTING.md has the
 * figures of a 100,000-frame run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { connect } from '../../src/client/client.js';
import { recordFlagProducerCounter } from '../../src/events/record.js';
import {
  FrameType,
  decodeFrame,
  encodeFrame,
  wireMagic,
  wireVersion,
  wireVersionMin,
  type Frame,
} from '../../src/wire/frames.js';
import {
  RawConnection,
  cliMain,
  inspectDeviceFile,
  startDaemon,
  within,
  type TestDaemon,
} from './harness.js';

const framesTarget = Number(process.env['NVRELAY_FUZZ_FRAMES'] ?? 20_000);
const stepsPerRun = 200;
const numRuns = Math.max(1, Math.ceil(framesTarget / stepsPerRun));
const seed = 0x6e767277;
const frameBytesMax = 8192;
/** How long any one answer may take before the daemon counts as hung. */
const answerMs = 10_000;
const producerName = 'fz';
const reasonCodes = new Set(['BAD_FRAME', 'FRAME_TOO_LARGE', 'BAD_VERSION', 'UNEXPECTED_FRAME']);

// ---- the steps, as data ----

const goodTypes = ['disk.failed', 'disk.ok', 'net.link-down', 'power', 'fz_t.9'];
const badNames = [
  '',
  ' ',
  'a b',
  'x\u0000y',
  '..',
  '.lead',
  'trail.',
  'UPPER.case!',
  '\u007f',
  'semi;colon',
  'slash/ed',
  'a'.repeat(65),
  'b'.repeat(200),
  'c'.repeat(255),
];
const goodRecipients = ['fz-r1', 'fz-r2'];
const goodProducers = ['fz-b', 'fz-c'];

type ValidSpec =
  | { kind: 'emit'; type: string; severity: number; details: Uint8Array; counted: boolean }
  | { kind: 'ping' | 'pong'; nonce: number }
  | { kind: 'claim'; name: string }
  | { kind: 'subscribe'; name: string; window: number; severityMax: number };

type BaseSpec =
  | {
      kind: 'emit';
      handle: number;
      severity: number;
      counter: number | 'next';
      type: string;
      details: Uint8Array | number;
    }
  | { kind: 'hello'; magic: number; versionMin: number; versionMax: number; client: string }
  | { kind: 'claim'; name: string; resume: number }
  | {
      kind: 'subscribe';
      name: string;
      severityMax: number;
      window: number;
      prefixes: string[];
    }
  | { kind: 'confirm'; handle: number; flags: number; seq: number }
  | { kind: 'ping' | 'pong'; nonce: number }
  | { kind: 'goodbye'; code: string; message: string }
  | { kind: 'server'; type: number; a: number; b: number; bytes: Uint8Array };

type Mutation =
  | { m: 'none' }
  | { m: 'flip'; bits: { at: number; bit: number }[] }
  | { m: 'byte'; at: number; value: number }
  | { m: 'truncate'; at: number; fixLength: boolean }
  | {
      m: 'length';
      how: 'plus1' | 'minus1' | 'zero' | 'cap' | 'capPlus1' | 'huge' | 'any';
      any: number;
    }
  | { m: 'type'; value: number }
  | { m: 'extend'; bytes: Uint8Array; fixLength: boolean };

type FuzzSpec =
  | { f: 'mutated'; base: BaseSpec; mutation: Mutation; beforeHello: boolean; pad: Uint8Array }
  | { f: 'random'; bytes: Uint8Array; withLength: boolean; beforeHello: boolean; pad: Uint8Array };

interface Step {
  valid: ValidSpec[];
  fuzz: FuzzSpec;
}

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u53 = fc.maxSafeNat();
const anyName = fc.oneof(
  fc.constantFrom(...goodTypes, ...goodRecipients),
  fc.constantFrom(...badNames),
);

const validSpec: fc.Arbitrary<ValidSpec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('emit' as const),
      type: fc.constantFrom(...goodTypes),
      severity: fc.integer({ min: 0, max: 7 }),
      details: fc.uint8Array({ maxLength: 48 }),
      counted: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constantFrom('ping' as const, 'pong' as const), nonce: u53 }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('claim' as const),
      name: fc.constantFrom(...goodProducers),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      name: fc.constantFrom(...goodRecipients),
      window: fc.integer({ min: 1, max: 8 }),
      severityMax: fc.integer({ min: 0, max: 7 }),
    }),
  },
);

const baseSpec: fc.Arbitrary<BaseSpec> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('emit' as const),
      handle: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        fc.integer({ min: 1, max: 3 }),
        u16,
      ),
      severity: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 7 }) }, u8),
      counter: fc.oneof(fc.constant(0), fc.constant('next' as const), u53),
      type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...goodTypes) }, anyName),
      details: fc.oneof(
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
        fc.integer({ min: 250, max: 1500 }), // around and over the device's detailsBytesMax
        fc.integer({ min: frameBytesMax - 40, max: frameBytesMax + 40 }), // around the frame cap
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('hello' as const),
      magic: fc.oneof({ weight: 3, arbitrary: fc.constant(wireMagic) }, u32),
      versionMin: fc.oneof(fc.constant(wireVersion), u16),
      versionMax: fc.oneof(fc.constant(wireVersion), u16),
      client: fc.oneof(fc.constant('fuzz'), fc.constantFrom(...badNames)),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('claim' as const),
      name: fc.oneof(fc.constantFrom(producerName, ...goodProducers), anyName),
      resume: fc.oneof(fc.constant(0), u53),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      name: fc.oneof(fc.constantFrom(...goodRecipients), anyName),
      severityMax: fc.oneof(fc.integer({ min: 0, max: 7 }), u8),
      window: fc.oneof(fc.integer({ min: 0, max: 3 }), u16),
      prefixes: fc.array(fc.oneof(fc.constantFrom('zz.', 'zz', ''), fc.constantFrom(...badNames)), {
        maxLength: 3,
      }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('confirm' as const),
      handle: fc.oneof(fc.integer({ min: 0, max: 2 }), u16),
      flags: fc.integer({ min: 0, max: 1 }),
      seq: u53,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constantFrom('ping' as const, 'pong' as const), nonce: u53 }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('goodbye' as const),
      code: fc.oneof(fc.constant('BYE'), fc.constantFrom(...badNames)),
      message: fc.string({ maxLength: 20 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('server' as const),
      type: fc.constantFrom(
        FrameType.welcome,
        FrameType.claimed,
        FrameType.ack,
        FrameType.refused,
        FrameType.subscribed,
        FrameType.deliver,
      ),
      a: u16,
      b: u53,
      bytes: fc.uint8Array({ maxLength: 80 }),
    }),
  },
);

const position = fc.nat({ max: 1 << 20 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ m: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constant('flip' as const),
      bits: fc.array(fc.record({ at: position, bit: fc.integer({ min: 0, max: 7 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('byte' as const), at: position, value: u8 }) },
  {
    weight: 2,
    arbitrary: fc.record({
      m: fc.constant('truncate' as const),
      at: position,
      fixLength: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constant('length' as const),
      how: fc.constantFrom('plus1', 'minus1', 'zero', 'cap', 'capPlus1', 'huge', 'any'),
      any: u32,
    }),
  },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('type' as const), value: u8 }) },
  {
    weight: 1,
    arbitrary: fc.record({
      m: fc.constant('extend' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      fixLength: fc.boolean(),
    }),
  },
);

const pad = fc.uint8Array({ minLength: 64, maxLength: 64 });
const fuzzSpec: fc.Arbitrary<FuzzSpec> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      f: fc.constant('mutated' as const),
      base: baseSpec,
      mutation,
      beforeHello: fc.constant(false), // one in ten: see `step`
      pad,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      f: fc.constant('random' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
      withLength: fc.boolean(),
      beforeHello: fc.boolean(),
      pad,
    }),
  },
);

const step: fc.Arbitrary<Step> = fc.record({
  // few enough emits that 100,000 steps' records fit the runtime pool (all stay pending)
  valid: fc.array(validSpec, { maxLength: 2 }),
  fuzz: fc.tuple(fuzzSpec, fc.integer({ min: 0, max: 9 })).map(([fuzz, roll]) => ({
    ...fuzz,
    beforeHello: fuzz.f === 'random' ? fuzz.beforeHello : roll === 0,
  })),
});

// ---- bytes ----

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function setLength(bytes: Uint8Array, value: number): void {
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(0, value >>> 0, true);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Details given as a length: a fixed pattern of that many bytes. */
function detailsOf(details: Uint8Array | number): Uint8Array {
  if (typeof details !== 'number') return details;
  const bytes = new Uint8Array(details);
  for (let i = 0; i < details; i++) bytes[i] = (i * 31 + 7) & 0xff;
  return bytes;
}

function mutate(frame: Uint8Array, m: Mutation): Uint8Array {
  const bytes = new Uint8Array(frame);
  const length = new DataView(bytes.buffer).getUint32(0, true);
  switch (m.m) {
    case 'none':
      return bytes;
    case 'flip':
      for (const { at, bit } of m.bits)
        bytes[at % bytes.length] = (bytes[at % bytes.length] as number) ^ (1 << bit);
      return bytes;
    case 'byte':
      bytes[m.at % bytes.length] = m.value;
      return bytes;
    case 'truncate': {
      const out = bytes.slice(0, 1 + (m.at % (bytes.length - 1)));
      if (m.fixLength && out.length >= 4) setLength(out, out.length - 4);
      return out;
    }
    case 'length': {
      const values = {
        plus1: length + 1,
        minus1: length - 1,
        zero: 0,
        cap: frameBytesMax,
        capPlus1: frameBytesMax + 1,
        huge: 0xffffffff,
        any: m.any,
      };
      setLength(bytes, values[m.how]);
      return bytes;
    }
    case 'type':
      bytes[4] = m.value;
      return bytes;
    case 'extend': {
      const out = concat([bytes, m.bytes]);
      if (m.fixLength) setLength(out, length + m.bytes.length);
      return out;
    }
  }
}

/** What the daemon's framing makes of the bytes sent so far (a copy of its length rule). */
class SentFraming {
  #tail: Uint8Array = new Uint8Array(0);
  #error = false;

  /** The whole frames these bytes complete, and where the stream stands after them. */
  push(bytes: Uint8Array): {
    frames: { type: number; payload: Uint8Array; bytes: Uint8Array }[];
    state: 'boundary' | 'error' | number;
  } {
    const frames: { type: number; payload: Uint8Array; bytes: Uint8Array }[] = [];
    if (this.#error) return { frames, state: 'error' };
    let tail: Uint8Array = concat([this.#tail, bytes]);
    for (;;) {
      if (tail.length < 4) {
        this.#tail = tail;
        return { frames, state: tail.length === 0 ? 'boundary' : 4 - tail.length };
      }
      const length = new DataView(tail.buffer, tail.byteOffset).getUint32(0, true);
      if (length === 0 || length > frameBytesMax) {
        this.#error = true;
        return { frames, state: 'error' };
      }
      if (tail.length < 4 + length) {
        this.#tail = tail;
        return { frames, state: 4 + length - tail.length };
      }
      frames.push({
        type: tail[4] as number,
        payload: tail.slice(5, 4 + length),
        bytes: tail.slice(0, 4 + length),
      });
      tail = tail.slice(4 + length);
    }
  }
}

// ---- what was asked for, and what happened ----

interface EmitContent {
  source: string;
  type: string;
  severity: number;
  details: Uint8Array;
  /** The producer's counter, 0 for none, -1 unknown (the client's own). */
  counter: number;
  /** The frame re-encodes to the bytes sent: well formed, byte for byte. */
  canonical: boolean;
}

type Pending =
  { kind: 'emit'; content: EmitContent } | { kind: 'claim'; name: string } | { kind: 'subscribe' };

const acked = new Map<number, EmitContent>();
/** Emits the daemon may have recorded before it dropped their connection (no ack came). */
const uncertain: EmitContent[] = [];
const stats = {
  fuzzFrames: 0,
  validFrames: 0,
  connections: 0,
  goodbyes: {} as Record<string, number>,
  refusals: {} as Record<string, number>,
  survived: 0,
  endedByTest: 0,
  acks: 0,
  probes: 0,
};

function count(table: Record<string, number>, key: string): void {
  table[key] = (table[key] ?? 0) + 1;
}

class FuzzConnection {
  readonly raw: RawConnection;
  readonly framing = new SentFraming();
  readonly handles = new Map<number, string>();
  readonly pending = new Map<number, Pending>();
  readonly subscribed: number[] = [];
  /** As the daemon sees it: HELLO answered, or a frame it will drop for. */
  state: 'hello' | 'open' | 'dropping' = 'hello';
  /** A well-formed GOODBYE went out: the daemon may close without one of its own. */
  saidGoodbye = false;
  endedByUs = false;
  seen = 0;
  #request = 1;
  counter = 1;

  private constructor(raw: RawConnection) {
    this.raw = raw;
  }

  /** A new connection; with `handshake`, HELLO and the claim of the fuzz producer (handle 0). */
  static async open(t: TestDaemon, handshake: boolean): Promise<FuzzConnection> {
    for (let tries = 1; ; tries++) {
      const conn = new FuzzConnection(await RawConnection.open({ path: t.socket }));
      stats.connections++;
      if (!handshake) return conn;
      conn.send(
        encodeFrame({ type: FrameType.hello, versionMin: 1, versionMax: 1, client: 'fuzz' }),
      );
      const requestId = conn.requestId();
      conn.pending.set(requestId, { kind: 'claim', name: producerName });
      conn.send(
        encodeFrame({ type: FrameType.claim, requestId, producer: producerName, resume: 0 }),
      );
      await conn.settle();
      const claimed = conn.raw.frames.find((f) => f.type === FrameType.claimed);
      if (claimed?.type === FrameType.claimed) {
        conn.counter = claimed.nextCounter;
        return conn;
      }
      // the previous holder of the name may not be closed in the daemon yet
      if (tries >= 50)
        throw new Error(`cannot claim ${producerName}: ${JSON.stringify(conn.raw.frames)}`);
      await conn.raw.end();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  requestId(): number {
    return this.#request++ % 0x100000000;
  }

  /** Sends bytes and follows the framing: each whole frame is modelled as the daemon takes it. */
  send(bytes: Uint8Array): 'boundary' | 'error' | number {
    this.raw.send(bytes);
    const { frames, state } = this.framing.push(bytes);
    for (const { type, payload, bytes: frameBytes } of frames)
      this.#model(type, payload, frameBytes);
    if (state === 'error') this.state = 'dropping';
    return state;
  }

  #model(type: number, payload: Uint8Array, bytes: Uint8Array): void {
    if (this.state === 'dropping') return;
    let frame: Frame;
    try {
      frame = decodeFrame(type, payload);
    } catch {
      this.state = 'dropping';
      return;
    }
    if (this.state === 'hello') {
      const fits =
        frame.type === FrameType.hello &&
        frame.versionMin <= wireVersion &&
        frame.versionMax >= wireVersionMin;
      this.state = fits ? 'open' : 'dropping';
      return;
    }
    switch (frame.type) {
      case FrameType.emit: {
        const source = this.handles.get(frame.handle);
        if (source === undefined) {
          this.state = 'dropping';
          return;
        }
        const content: EmitContent = {
          source,
          type: frame.eventType,
          severity: frame.severity,
          details: frame.details,
          counter: frame.counter,
          canonical: sameBytes(encodeFrame(frame), bytes),
        };
        this.pending.set(frame.requestId, { kind: 'emit', content });
        return;
      }
      case FrameType.claim:
        this.pending.set(frame.requestId, { kind: 'claim', name: frame.producer });
        return;
      case FrameType.subscribe:
        this.pending.set(frame.requestId, { kind: 'subscribe' });
        return;
      case FrameType.confirm:
        if (!this.subscribed.includes(frame.handle)) this.state = 'dropping';
        return;
      case FrameType.ping:
      case FrameType.pong:
        return;
      case FrameType.goodbye:
        this.saidGoodbye = true;
        this.state = 'dropping';
        return;
      default:
        this.state = 'dropping';
    }
  }

  /** Takes in what the daemon sent since last time. */
  absorb(): void {
    if (this.raw.garbage !== null)
      throw new Error(`the daemon sent garbage: ${this.raw.garbage.message}`);
    for (; this.seen < this.raw.frames.length; this.seen++) {
      const frame = this.raw.frames[this.seen] as Frame;
      switch (frame.type) {
        case FrameType.ack:
        case FrameType.refused:
        case FrameType.claimed:
        case FrameType.subscribed: {
          const pending = this.pending.get(frame.requestId);
          this.pending.delete(frame.requestId);
          if (pending === undefined)
            throw new Error(`an answer to no request: ${JSON.stringify(frame)}`);
          this.#answered(pending, frame);
          break;
        }
        case FrameType.welcome:
        case FrameType.ping:
        case FrameType.pong:
        case FrameType.deliver:
        case FrameType.confirmed:
        case FrameType.goodbye:
          break;
        default:
          throw new Error(`a frame the daemon never sends: ${JSON.stringify(frame)}`);
      }
    }
  }

  #answered(pending: Pending, frame: Frame): void {
    if (frame.type === FrameType.refused) {
      count(stats.refusals, `${pending.kind}:${frame.code}`);
      return;
    }
    if (pending.kind === 'emit' && frame.type === FrameType.ack) {
      if (!pending.content.canonical)
        throw new Error(`a malformed emit was acknowledged: ${JSON.stringify(frame)}`);
      stats.acks++;
      if (!acked.has(frame.seq)) acked.set(frame.seq, pending.content);
      return;
    }
    if (pending.kind === 'claim' && frame.type === FrameType.claimed) {
      this.handles.set(frame.handle, pending.name);
      return;
    }
    if (pending.kind === 'subscribe' && frame.type === FrameType.subscribed) {
      this.subscribed.push(frame.handle);
      return;
    }
    throw new Error(`a ${pending.kind} answered by ${JSON.stringify(frame)}`);
  }

  /** Waits until every request is answered or the connection is gone. */
  async settle(): Promise<void> {
    for (;;) {
      this.absorb();
      if (this.pending.size === 0 || this.raw.isClosed) break;
      await this.raw.waitFor(() => true, { from: this.raw.frames.length, timeoutMs: answerMs });
    }
    if (this.raw.isClosed) this.#closed();
  }

  #closed(): void {
    for (const pending of this.pending.values())
      if (pending.kind === 'emit') uncertain.push(pending.content);
    this.pending.clear();
  }

  /** Once closed: the daemon's goodbye is there (or the client said goodbye, or the test ended). */
  checkGoodbye(): void {
    const last = this.raw.frames.at(-1);
    const goodbyes = this.raw.goodbyes();
    for (const goodbye of goodbyes) {
      if (goodbye.type !== FrameType.goodbye) continue;
      count(stats.goodbyes, goodbye.code);
      if (!reasonCodes.has(goodbye.code) && goodbye.code !== 'SHUTDOWN')
        throw new Error(`a goodbye with an unknown reason: ${JSON.stringify(goodbye)}`);
    }
    if (this.endedByUs || this.saidGoodbye) return;
    if (last?.type !== FrameType.goodbye)
      throw new Error(
        `the daemon dropped a connection without a goodbye; last frames ${JSON.stringify(this.raw.frames.slice(-3))}`,
      );
  }

  /** A valid frame's bytes, its answer awaited in `pending`. */
  valid(spec: ValidSpec): Uint8Array {
    switch (spec.kind) {
      case 'emit': {
        const requestId = this.requestId();
        const counter = spec.counted ? this.counter++ : 0;
        const frame: Frame = {
          type: FrameType.emit,
          requestId,
          handle: 0,
          severity: spec.severity,
          counter,
          eventType: spec.type,
          details: spec.details,
        };
        const source = this.handles.get(0) as string;
        this.pending.set(requestId, {
          kind: 'emit',
          content: { ...spec, source, counter, canonical: true },
        });
        return encodeFrame(frame);
      }
      case 'ping':
        return encodeFrame({ type: FrameType.ping, nonce: spec.nonce });
      case 'pong':
        return encodeFrame({ type: FrameType.pong, nonce: spec.nonce });
      case 'claim': {
        const requestId = this.requestId();
        this.pending.set(requestId, { kind: 'claim', name: spec.name });
        return encodeFrame({ type: FrameType.claim, requestId, producer: spec.name, resume: 0 });
      }
      case 'subscribe': {
        const requestId = this.requestId();
        this.pending.set(requestId, { kind: 'subscribe' });
        return encodeFrame({
          ...spec,
          type: FrameType.subscribe,
          requestId,
          recipient: spec.name,
          prefixes: ['zz.'],
        });
      }
    }
  }

  /** A base frame's bytes (not yet mutated; modelled when sent). */
  base(spec: BaseSpec): Uint8Array {
    switch (spec.kind) {
      case 'emit':
        return encodeFrame({
          type: FrameType.emit,
          requestId: this.requestId(),
          handle: spec.handle,
          severity: spec.severity,
          counter: spec.counter === 'next' ? this.counter++ : spec.counter,
          eventType: spec.type,
          details: detailsOf(spec.details),
        });
      case 'hello': {
        const bytes = encodeFrame({ ...spec, type: FrameType.hello });
        new DataView(bytes.buffer, bytes.byteOffset).setUint32(5, spec.magic, true);
        return bytes;
      }
      case 'claim':
        return encodeFrame({
          type: FrameType.claim,
          requestId: this.requestId(),
          producer: spec.name,
          resume: spec.resume,
        });
      case 'subscribe':
        return encodeFrame({
          ...spec,
          type: FrameType.subscribe,
          requestId: this.requestId(),
          recipient: spec.name,
        });
      case 'confirm':
        return encodeFrame({
          type: FrameType.confirm,
          handle: spec.handle,
          flags: spec.flags,
          seq: spec.seq,
        });
      case 'ping':
        return encodeFrame({ type: FrameType.ping, nonce: spec.nonce });
      case 'pong':
        return encodeFrame({ type: FrameType.pong, nonce: spec.nonce });
      case 'goodbye':
        return encodeFrame({ type: FrameType.goodbye, code: spec.code, message: spec.message });
      case 'server':
        return serverFrame(spec);
    }
  }
}

function serverFrame(spec: Extract<BaseSpec, { kind: 'server' }>): Uint8Array {
  const { a, b } = spec;
  switch (spec.type) {
    case FrameType.welcome:
      return encodeFrame({
        type: FrameType.welcome,
        version: a,
        heartbeatMs: a,
        frameBytesMax: a,
        detailsBytesMax: a,
        node: b.toString(16).padStart(16, '0').slice(-16),
      });
    case FrameType.claimed:
      return encodeFrame({ type: FrameType.claimed, requestId: a, handle: a, nextCounter: b });
    case FrameType.ack:
      return encodeFrame({ type: FrameType.ack, requestId: a, seq: b });
    case FrameType.refused:
      return encodeFrame({
        type: FrameType.refused,
        requestId: a,
        code: 'QUEUE_FULL',
        message: 'x',
      });
    case FrameType.subscribed:
      return encodeFrame({ type: FrameType.subscribed, requestId: a, handle: a, window: a });
    default:
      return encodeFrame({ type: FrameType.deliver, handle: a, attempt: a, record: spec.bytes });
  }
}

// ---- the run ----

let t: TestDaemon;
let main: FuzzConnection | null = null;
let nonce = 1;

beforeAll(async () => {
  if (!existsSync(cliMain)) throw new Error(`${cliMain} is missing: run 'npm run build' first`);
  t = await startDaemon({
    config: {
      // never connected: every event stays pending for it, so the device lists them all
      recipients: { keep: {}, probe: { prefixes: ['probe.'] } },
      retry: { timeoutMs: 60_000 },
      frameBytesMax,
    },
  });
});

afterAll(async () => {
  await t.remove();
});

async function runStep(step: Step): Promise<void> {
  main ??= await FuzzConnection.open(t, true);
  const conn = main;
  if (step.valid.length > 0) {
    conn.send(concat(step.valid.map((spec) => conn.valid(spec))));
    stats.validFrames += step.valid.length;
    await conn.settle();
    if (conn.raw.isClosed)
      throw new Error(
        `valid frames dropped the connection: ${JSON.stringify(conn.raw.frames.slice(-3))}`,
      );
  }
  const target = step.fuzz.beforeHello ? await FuzzConnection.open(t, false) : conn;
  await fuzzOne(target, step.fuzz);
  if (target !== conn && !target.raw.isClosed) {
    target.endedByUs = true;
    await target.raw.end(answerMs);
    await target.settle();
  }
  if (conn.raw.isClosed) main = null;
}

async function fuzzOne(conn: FuzzConnection, fuzz: FuzzSpec): Promise<void> {
  let bytes: Uint8Array;
  if (fuzz.f === 'random') {
    bytes = fuzz.withLength ? concat([new Uint8Array(4), fuzz.bytes]) : fuzz.bytes;
    if (fuzz.withLength) setLength(bytes, fuzz.bytes.length);
  } else bytes = mutate(conn.base(fuzz.base), fuzz.mutation);
  stats.fuzzFrames++;
  let state = conn.send(bytes);
  // waiting for more bytes: a few are sent (the frame then ends in them), else the test ends
  for (let padded = 0, round = 0; typeof state === 'number' && round < 3; round++) {
    const need = state;
    if (padded + need > fuzz.pad.length) break;
    state = conn.send(fuzz.pad.subarray(padded, padded + need));
    padded += need;
  }
  if (state === 'boundary') {
    const sentinel = nonce++;
    const from = conn.raw.frames.length;
    conn.send(encodeFrame({ type: FrameType.ping, nonce: sentinel }));
    const pong = await conn.raw.waitFor((f) => f.type === FrameType.pong && f.nonce === sentinel, {
      from,
      timeoutMs: answerMs,
    });
    if (pong !== null) stats.survived++;
  } else if (state !== 'error') {
    await conn.settle(); // the whole frames before it are answered first
    if (!conn.raw.isClosed) {
      conn.endedByUs = true;
      stats.endedByTest++;
      await conn.raw.end(answerMs);
    }
  }
  if (state === 'error') await within(conn.raw.closed, answerMs, 'a drop after a bad length');
  await conn.settle();
  if (conn.raw.isClosed) conn.checkGoodbye();
}

/** A fresh client emits and receives: the daemon neither crashed nor hangs. */
async function probe(run: number): Promise<void> {
  const client = await within(
    connect(`unix:${t.socket}`, { client: 'probe' }),
    answerMs,
    'connect',
  );
  try {
    const received = new Set<number>();
    await within(
      client.subscribe('probe', { prefixes: ['probe.'] }, (event, recipient) => {
        received.add(event.seq);
        recipient.confirm(event.seq);
      }),
      answerMs,
      'subscribe',
    );
    const details = new TextEncoder().encode(`run ${run}`);
    const seq = await within(
      client.producer('probe').emit('probe.alive', 'err', details),
      answerMs,
      'emit',
    );
    acked.set(seq, {
      source: 'probe',
      type: 'probe.alive',
      severity: 3,
      details,
      counter: -1,
      canonical: true,
    });
    const deadline = Date.now() + answerMs;
    while (!received.has(seq)) {
      if (Date.now() > deadline) throw new Error(`probe ${run}: event ${seq} never delivered`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    stats.probes++;
  } finally {
    client.close();
  }
}

function sameContent(
  a: EmitContent,
  r: { source: string; type: string; severity: number; details: Uint8Array },
): boolean {
  return (
    a.source === r.source &&
    a.type === r.type &&
    a.severity === r.severity &&
    sameBytes(a.details, r.details)
  );
}

test(
  `${framesTarget} fuzzed frames: no crash, no hang, a goodbye for every drop, the device holds only what valid emits asked for`,
  async () => {
    const started = Date.now();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: stepsPerRun, maxLength: stepsPerRun }),
        async (steps) => {
          for (const s of steps) await runStep(s);
          await probe(run++);
        },
      ),
      { seed, numRuns, endOnFailure: true },
    );
    if (main !== null) {
      main.endedByUs = true;
      await main.raw.end(answerMs);
      await main.settle();
    }
    const node = t.daemon.node.stats();
    await t.stop();
    const elapsed = Date.now() - started;

    const view = inspectDeviceFile(t.device);
    const records = view.fifos.flatMap((fifo) => fifo.records);
    expect(records.filter((r) => r.verdict !== 'valid')).toEqual([]);
    const seen = new Set<number>();
    let fromUncertain = 0;
    for (const { record } of records) {
      if (record === null) continue;
      seen.add(record.seq);
      const asked = acked.get(record.seq);
      if (asked !== undefined) {
        const sameCounter =
          asked.counter > 0 &&
          (record.flags & recordFlagProducerCounter) !== 0 &&
          record.originalSeq === asked.counter &&
          record.source === asked.source;
        if (!sameContent(asked, record) && !sameCounter)
          throw new Error(`seq ${record.seq} holds other content than its emit asked for`);
        continue;
      }
      const at = uncertain.findIndex((u) => u.canonical && sameContent(u, record));
      if (at < 0)
        throw new Error(
          `a record no valid emit asked for: ${JSON.stringify({ ...record, intendedMask: String(record.intendedMask), confirmedMask: String(record.confirmedMask) })}`,
        );
      uncertain.splice(at, 1);
      fromUncertain++;
    }
    const missing = [...acked.keys()].filter((seq) => !seen.has(seq));
    expect(missing).toEqual([]);
    expect(node.counters.emitted).toBe(seen.size);

    const check = spawnSync(process.execPath, [cliMain, 'check', t.device], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);

    const figures = {
      ...stats,
      seconds: elapsed / 1000,
      records: seen.size,
      recordedWithoutAck: fromUncertain,
    };
    process.stdout.write(`protocol fuzzing: ${JSON.stringify(figures)}\n`);
    expect(stats.fuzzFrames).toBeGreaterThanOrEqual(framesTarget);
  },
  Math.max(300_000, framesTarget * 10),
);
