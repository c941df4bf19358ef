/**
 * The interconnect of an HA pair [193] (src/ha/interconnect.ts) on 127.0.0.1. The listening side
 * pairs only with its mirror's partner of the same geometry, applies its UPDATEs (persist order
 * H) and answers a GIVEBACK_ASK; anything else is REFUSED with a code and the connection
 * dropped. The connecting side acknowledges an emit only once UPDATED comes back; an UPDATE left
 * unanswered, a REFUSED or a malformed frame drops the link: the waiting emits are refused, and
 * it connects again with backoff. Every wait here is bounded.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import {
  InterconnectLink,
  InterconnectServer,
  askGiveback,
  pairFrame,
} from '../../src/ha/interconnect.js';
import {
  InterconnectType,
  decodeInterconnect,
  encodeInterconnect,
  interconnectFrameBytesMax,
  type InterconnectFrame,
  type PairFrame,
} from '../../src/ha/interconnect-frames.js';
import { MirrorSource } from '../../src/ha/mirror-source.js';
import type { Handover, MirrorUpdate } from '../../src/ha/mirror-update.js';
import type { PartnerMirror } from '../../src/ha/partner-mirror.js';
import { readNodeGeometry } from '../../src/node/layout.js';
import { Node } from '../../src/node/node.js';
import { FrameStream } from '../../src/wire/frame-stream.js';
import { ManualClock } from '../engine/harness.js';
import { LocalPort, idOf, nodeA, nodeB, openMirror, pairDevice } from './pair.js';

const host = '127.0.0.1';
const silent = pino({ level: 'silent' });
const enc = (text: string): Uint8Array => new TextEncoder().encode(text);
const geometry = readNodeGeometry(pairDevice(nodeA));
const frameOf = (node: bigint): PairFrame => pairFrame(idOf(node), geometry);

const closing: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

/** Resolves once `done()` holds, checked every 5 ms; fails after `ms`. */
async function until(done: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Settles `promise`, or fails after `ms`. */
function within<T>(promise: Promise<T>, ms = 2000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

/** One end of an interconnect connection driven by the test: the frames it received. */
interface Wire {
  socket: Socket;
  frames: InterconnectFrame[];
  closed: boolean;
  send(frame: InterconnectFrame): void;
}

function wire(socket: Socket, onFrame: (end: Wire, frame: InterconnectFrame) => void): Wire {
  const stream = new FrameStream(interconnectFrameBytesMax, decodeInterconnect);
  socket.setNoDelay(true); // each frame goes out at once, as the interconnect's own
  const end: Wire = {
    socket,
    frames: [],
    closed: false,
    send: (frame) => socket.write(encodeInterconnect(frame)),
  };
  socket.on('data', (chunk: Buffer) => {
    for (const frame of stream.push(chunk)) {
      end.frames.push(frame);
      onFrame(end, frame);
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => (end.closed = true));
  return end;
}

/** A connection to `port` as a partner would open it. */
async function dial(port: number): Promise<Wire> {
  const socket = createConnection({ host, port });
  await within(new Promise((resolve) => socket.once('connect', resolve)));
  closing.push(() => socket.destroy());
  return wire(socket, () => {});
}

/** Node B's listener in front of B's mirror. */
async function listener(
  mirror: PartnerMirror,
  onGivebackAsk: (node: string) => Promise<Handover> = () => Promise.reject(new Error('no')),
): Promise<InterconnectServer> {
  const server = await InterconnectServer.listen(
    { host, port: 0 },
    { mirror, self: frameOf(nodeB), log: silent, onGivebackAsk },
  );
  closing.push(() => server.close());
  return server;
}

/** A partner whose answers the test scripts: each connection it accepted, in order. */
class ScriptedPartner {
  readonly connections: Wire[] = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(answer: (end: Wire, frame: InterconnectFrame) => void, port = 0) {
    const server = createServer();
    const partner = new ScriptedPartner(server);
    server.on('connection', (socket) => partner.connections.push(wire(socket, answer)));
    await within(new Promise<void>((resolve) => server.listen(port, host, resolve)));
    closing.push(() => partner.close());
    return partner;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    for (const end of this.connections) end.socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** Node A, started, its emits acknowledged once mirrored (state sync left to the test). */
function mirroredNode(mode: 'required' | 'preferred' = 'required') {
  const a = Node.boot(pairDevice(nodeA), { scheduling: 'manual', clock: new ManualClock() });
  const source = new MirrorSource(a, { mode, stateSyncMs: 60_000 });
  a.start();
  closing.push(() => source.close());
  const emit = (type: string): Promise<number> => {
    const acked = a.producer('ctl').emitAsync(type, 'err', enc(type));
    acked.catch(() => {}); // awaited by the caller
    a.commit();
    return acked;
  };
  return { a, source, emit };
}

/** The scripted partner's answers: its PAIR, then UPDATED for the first `answered` UPDATEs. */
function pairing(answered = Infinity) {
  let updates = 0;
  return (end: Wire, frame: InterconnectFrame): void => {
    if (frame.type === InterconnectType.pair) end.send(frameOf(nodeB));
    if (frame.type === InterconnectType.update && updates++ < answered)
      end.send({ type: InterconnectType.updated, id: frame.id, tails: [0, 0] });
  };
}

describe('the listening side', () => {
  test("applies a link's updates to the mirror: the emit is acknowledged once it holds it", async () => {
    const mirror = openMirror(pairDevice(nodeB));
    const server = await listener(mirror);
    const { source, emit } = mirroredNode();
    const link = new InterconnectLink({
      partner: { host, port: server.port },
      self: frameOf(nodeA),
      source,
      log: silent,
    });
    closing.push(() => link.close());
    await until(() => source.up);
    const seq = await within(emit('disk.failed'));
    expect(mirror.partner).toBe(idOf(nodeA));
    expect(mirror.pending().map((event) => event.record.seq)).toEqual([seq]);

    link.close(); // closed: the source is told
    await until(() => !source.up);
    await expect(within(emit('disk.failed'))).rejects.toMatchObject({
      code: 'MIRROR_UNAVAILABLE',
    });
    expect(mirror.pending()).toHaveLength(1);
  });

  test.each([
    ['a first frame that is not PAIR', 'UNEXPECTED_FRAME', (): InterconnectFrame => updated(1)],
    ['a PAIR of itself', 'MIRROR_PARTNER', (): InterconnectFrame => frameOf(nodeB)],
    [
      'a PAIR of another geometry',
      'MIRROR_PARTNER',
      (): InterconnectFrame => ({ ...frameOf(nodeA), runtimeSlots: geometry.runtimeSlots * 2 }),
    ],
    ['a PAIR of a node it does not mirror', 'MIRROR_PARTNER', () => frameOf(0xc3n)],
  ])('refuses %s with %s and ends the connection', async (_, code, first) => {
    const mirror = openMirror(pairDevice(nodeB));
    mirror.apply({ node: idOf(nodeA), recipients: [], fifos: [] }); // mirrors A from now on
    const peer = await dial((await listener(mirror)).port);
    peer.send(first());
    await until(() => peer.closed);
    expect(peer.frames).toEqual([
      { type: InterconnectType.refused, code, message: expect.any(String) },
    ]);
  });

  test.each([
    ['an UPDATED', 'UNEXPECTED_FRAME', () => encodeInterconnect(updated(3))],
    ['a frame of length 0', 'BAD_FRAME', () => new Uint8Array(5)],
    ['an UPDATE with a damaged record', 'BAD_ARGUMENT', () => encodeInterconnect(damagedUpdate())],
    // a failure that carries no code of its own is reported as a bad frame
    ['an UPDATE with a slot of another size', 'BAD_FRAME', () => encodeInterconnect(shortSlot())],
  ])('once paired, answers %s with REFUSED %s and drops the partner', async (_, code, bytes) => {
    const mirror = openMirror(pairDevice(nodeB));
    const peer = await dial((await listener(mirror)).port);
    peer.send(frameOf(nodeA));
    await until(() => peer.frames.length === 1);
    expect(peer.frames[0]).toEqual(frameOf(nodeB));
    peer.socket.write(bytes());
    await until(() => peer.closed);
    expect(peer.frames.slice(1)).toEqual([
      { type: InterconnectType.refused, code, message: expect.any(String) },
    ]);
    expect(mirror.pending()).toEqual([]);
  });

  test('answers a GIVEBACK_ASK with the handover, or REFUSED when the giveback fails', async () => {
    const mirror = openMirror(pairDevice(nodeB));
    const handover: Handover = { heads: [2, 5], taken: [{ fifo: 1, position: 6, seq: 9 }] };
    const asked: string[] = [];
    let refuse = false;
    const server = await listener(mirror, async (node) => {
      asked.push(node);
      if (refuse) throw new Error('the lease is not released');
      return handover;
    });
    const address = { host, port: server.port };
    expect(await within(askGiveback(address, frameOf(nodeA), 2000))).toEqual(handover);
    expect(asked).toEqual([idOf(nodeA)]);
    refuse = true;
    await expect(within(askGiveback(address, frameOf(nodeA), 2000))).rejects.toThrow(
      'the partner refused the giveback: GIVEBACK_REFUSED: the lease is not released',
    );
    expect(asked).toHaveLength(2);
  });

  test('reports no port once closed', async () => {
    const server = await listener(openMirror(pairDevice(nodeB)));
    expect(server.port).toBeGreaterThan(0);
    await server.close();
    expect(server.port).toBe(0);
  });
});

function updated(id: number): InterconnectFrame {
  return { type: InterconnectType.updated, id, tails: [0, 0] };
}

/** A real update of node A with one record, one byte of that record flipped. */
function damagedUpdate(): InterconnectFrame {
  const a = Node.boot(pairDevice(nodeA), { scheduling: 'manual', clock: new ManualClock() });
  const port = new LocalPort(openMirror(pairDevice(nodeB)));
  const source = new MirrorSource(a, { stateSyncMs: 60_000 });
  a.start();
  void source.connected(port);
  a.producer('ctl')
    .emitAsync('disk.failed', 'err', enc('d1'))
    .catch(() => {});
  a.commit();
  source.close();
  const update = port.updates.at(-1) as MirrorUpdate;
  const fifos = update.fifos.map((part) => ({
    ...part,
    records: part.records.map((record) => {
      const damaged = record.slice();
      damaged[70] = (damaged[70] as number) ^ 1;
      return damaged;
    }),
  }));
  expect(fifos.some((part) => part.records.length > 0)).toBe(true);
  return { type: InterconnectType.update, id: 1, update: { ...update, fifos } };
}

/** An update placing a 64-byte slot (marked torn: copied as it is) in a mirror of larger slots. */
function shortSlot(): InterconnectFrame {
  const part = { fifo: 1, head: 0, from: 0, records: [new Uint8Array(64)], confirmations: [] };
  return {
    type: InterconnectType.update,
    id: 1,
    update: { node: idOf(nodeA), recipients: [], fifos: [{ ...part, torn: [0] }] },
  };
}

describe('the connecting side', () => {
  test('drops an UPDATE left unanswered: the emit is refused, and it connects again', async () => {
    const partner = await ScriptedPartner.start(pairing(1)); // answers only the resync
    const { source, emit } = mirroredNode('required');
    const link = new InterconnectLink({
      partner: { host, port: partner.port },
      self: frameOf(nodeA),
      source,
      log: silent,
      ackTimeoutMs: 100,
      reconnectMs: 20,
      reconnectMaxMs: 40,
    });
    closing.push(() => link.close());
    await until(() => partner.connections[0]?.frames.length === 2); // PAIR, the resync UPDATE
    const started = Date.now();
    await expect(within(emit('disk.failed'))).rejects.toMatchObject({
      code: 'MIRROR_UNAVAILABLE',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(source.counters.refusedAcks).toBe(1);
    await until(() => partner.connections.length >= 2);
    expect(partner.connections[0]?.closed).toBe(true);
    await until(() => (partner.connections[1]?.frames.length ?? 0) >= 1);
    expect(partner.connections[1]?.frames[0]).toEqual(frameOf(nodeA));
  });

  test('matches an UPDATED to its UPDATE by id and ignores any other frame', async () => {
    const partner = await ScriptedPartner.start((end, frame) => {
      if (frame.type === InterconnectType.pair) end.send(frameOf(nodeB));
      if (frame.type !== InterconnectType.update) return;
      end.send(updated(frame.id + 1000)); // no such UPDATE
      end.send(frameOf(nodeB)); // a second PAIR
      end.send({ type: InterconnectType.givebackAsk, node: idOf(nodeB) });
      setTimeout(() => end.send(updated(frame.id)), 300);
    });
    const { source, emit } = mirroredNode();
    const link = new InterconnectLink({
      partner: { host, port: partner.port },
      self: frameOf(nodeA),
      source,
      log: silent,
    });
    closing.push(() => link.close());
    await until(() => source.up);
    let acked = false;
    const done = emit('disk.failed').then(() => (acked = true));
    await until(() => (partner.connections[0]?.frames.length ?? 0) >= 3); // PAIR, 2 UPDATEs
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(acked).toBe(false); // the UPDATED of another id did not acknowledge it
    await within(done);
    expect(partner.connections).toHaveLength(1); // never dropped
    expect(source.counters.refusedAcks).toBe(0);
  });

  test('a REFUSED from the partner drops the link; it tries again until closed', async () => {
    const partner = await ScriptedPartner.start((end) =>
      end.send({ type: InterconnectType.refused, code: 'MIRROR_PARTNER', message: 'another' }),
    );
    const logged: { code?: string; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const { source } = mirroredNode();
    const link = new InterconnectLink({
      partner: { host, port: partner.port },
      self: frameOf(nodeA),
      source,
      log,
      reconnectMs: 10,
      reconnectMaxMs: 20,
    });
    closing.push(() => link.close());
    await until(() => partner.connections.length >= 3);
    expect(source.up).toBe(false);
    expect(logged[0]).toMatchObject({
      code: 'MIRROR_PARTNER',
      msg: 'interconnect: partner refused',
    });
    link.close();
    await until(() => partner.connections.every((end) => end.closed));
    const count = partner.connections.length;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(partner.connections).toHaveLength(count); // no attempt after close
  });

  test('a malformed frame from the partner drops the connection', async () => {
    const partner = await ScriptedPartner.start((end) => end.socket.write(new Uint8Array(5)));
    const { source } = mirroredNode();
    const link = new InterconnectLink({
      partner: { host, port: partner.port },
      self: frameOf(nodeA),
      source,
      log: silent,
      reconnectMs: 10,
    });
    closing.push(() => link.close());
    await until(() => partner.connections.length >= 2);
    expect(partner.connections[0]?.closed).toBe(true);
    expect(source.up).toBe(false);
  });

  test('refuses an update while not connected, and connects once the partner listens', async () => {
    const absent = await ScriptedPartner.start(() => {});
    const port = absent.port;
    await absent.close(); // nothing listens there for now
    const { source, emit } = mirroredNode();
    const link = new InterconnectLink({
      partner: { host, port },
      self: frameOf(nodeA),
      source,
      log: silent,
      reconnectMs: 10,
      reconnectMaxMs: 20,
    });
    closing.push(() => link.close());
    const update: MirrorUpdate = { node: idOf(nodeA), recipients: [], fifos: [] };
    await expect(link.send(update)).rejects.toThrow('the interconnect is not connected');
    await new Promise((resolve) => setTimeout(resolve, 50)); // a few attempts refused
    await expect(link.send(update)).rejects.toThrow('the interconnect is not connected');
    expect(source.up).toBe(false);

    const partner = await ScriptedPartner.start(pairing(), port);
    await until(() => source.up);
    expect(await within(emit('disk.failed'))).toBeGreaterThan(0);
    expect(partner.connections).toHaveLength(1);
  });
});

describe('askGiveback', () => {
  test('fails when nothing listens, when the partner is silent, and on a malformed answer', async () => {
    const absent = await ScriptedPartner.start(() => {});
    const port = absent.port;
    await absent.close();
    await expect(within(askGiveback({ host, port }, frameOf(nodeA), 1000))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });

    const silentPartner = await ScriptedPartner.start(() => {});
    await expect(
      within(askGiveback({ host, port: silentPartner.port }, frameOf(nodeA), 100)),
    ).rejects.toThrow('the partner did not answer the giveback within 100 ms');
    // it asked: PAIR, then GIVEBACK_ASK with its node id
    expect(silentPartner.connections[0]?.frames).toEqual([
      frameOf(nodeA),
      { type: InterconnectType.givebackAsk, node: idOf(nodeA) },
    ]);

    const garbled = await ScriptedPartner.start((end) => end.socket.write(new Uint8Array(5)));
    await expect(
      within(askGiveback({ host, port: garbled.port }, frameOf(nodeA), 1000)),
    ).rejects.toMatchObject({ code: 'BAD_FRAME' });
  });
});
