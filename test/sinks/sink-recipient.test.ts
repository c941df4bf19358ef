/**
 * A sink as a recipient of the node (src/sinks/sink-recipient.ts), on a node with manual
 * scheduling and a clock moved by hand, with a transport whose sends the test answers: what
 * becomes of events a transport answers for only in part, of an event refused after it was
 * dead-lettered meanwhile, of events delivered after close(), and of a confirmation that finds
 * the node failed.
 */
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { FailingNvram } from '../../sim/device-errors.js';
import { SinkRecipient, type SinkRecipientOptions } from '../../src/sinks/sink-recipient.js';
import type { SinkEvent, SinkOutcome, SinkTransport } from '../../src/sinks/sink.js';
import { Node } from '../../src/node/node.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import { ManualClock, bytes, freshDevice } from '../engine/harness.js';

/** A transport whose sends wait until the test answers them, in order. */
class ScriptedTransport implements SinkTransport {
  readonly target = 'scripted://test';
  readonly batches: SinkEvent[][] = [];
  closed = false;
  readonly #answers: ((outcomes: SinkOutcome[]) => void)[] = [];
  #sent: (() => void) | null = null;

  send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]> {
    this.batches.push([...batch]);
    this.#sent?.();
    return new Promise((resolve) => this.#answers.push(resolve));
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Resolves once there is a send not yet answered. */
  async sent(): Promise<SinkEvent[]> {
    if (this.#answers.length === 0) await new Promise<void>((resolve) => (this.#sent = resolve));
    this.#sent = null;
    return this.batches.at(-1)!;
  }

  /** Answers the oldest send, then lets its outcome settle. */
  async answer(outcomes: SinkOutcome[]): Promise<void> {
    this.#answers.shift()!(outcomes);
    await turn();
  }
}

/** One turn of the event loop: every promise chain already resolved has run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function setup(options: Partial<SinkRecipientOptions> = {}, device: NvramDevice = freshDevice()) {
  const lines: LogLine[] = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as LogLine) },
  );
  const transport = new ScriptedTransport();
  const clock = new ManualClock();
  const node = Node.boot(device, {
    scheduling: 'manual',
    clock,
    retry: { timeoutMs: 100, timeoutMaxMs: 100, attemptsMax: 1 },
  });
  const sink = new SinkRecipient(node, {
    name: 'out',
    kind: 'scripted',
    subscription: { prefixes: [''], severityMax: 'debug' },
    batchMax: 16,
    transport,
    nodeId: '00000000000000aa',
    log,
    logDetails: false,
    ...options,
  });
  node.start();
  return { node, clock, sink, transport, lines };
}

describe('a sink recipient', () => {
  test('a transport that answers for none of a batch: every event retried, the sink down saying so', async () => {
    const { node, sink, transport } = setup();
    const producer = node.producer('app');
    const seqs = [0, 1].map((k) => producer.emit('app.event', 'info', bytes(k)));
    node.drain();
    expect((await transport.sent()).map((event) => event.seq)).toEqual(seqs);
    await transport.answer([]);
    expect(sink.counters).toMatchObject({ sent: 2, held: 0, retried: 2 });
    expect(sink.state).toBe('down');
    expect(sink.lastError).toBe('no outcome from the transport');
    expect(sink.recipient.confirmed).toBe(0);
    expect(node.deadLetterList()).toEqual([]);
    // a second failure while down: still down, with the newer reason
    const seq = producer.emit('app.event', 'info', bytes(2));
    node.drain();
    expect((await transport.sent()).map((event) => event.seq)).toEqual([seq]);
    await transport.answer([{ kind: 'retry', reason: 'still broken' }]);
    expect(sink.state).toBe('down');
    expect(sink.lastError).toBe('still broken');
  });

  test('inFlightMax bounds the window: one event per batch with inFlightMax 1', async () => {
    const { node, sink, transport } = setup({ inFlightMax: 1 });
    expect(sink.recipient.inFlightMax).toBe(1);
    const producer = node.producer('app');
    const seqs = [0, 1, 2].map((k) => producer.emit('app.event', 'info', bytes(k)));
    for (const seq of seqs) {
      node.drain();
      expect((await transport.sent()).map((event) => event.seq)).toEqual([seq]);
      await transport.answer([{ kind: 'held' }]);
    }
    expect(sink.recipient.confirmed).toBe(3);
    expect(sink.counters).toMatchObject({ batches: 3, held: 3 });
    expect(sink.state).toBe('up');
  });

  test('refused after its attempts ran out: counted, logged as not dead-lettered, the dead letter is the timeout', async () => {
    const { node, clock, sink, transport, lines } = setup({ logDetails: true });
    const seq = node.producer('app').emitJson('app.event', 'err', { disk: 3 });
    node.drain();
    await transport.sent();
    clock.advance(200); // its one attempt times out while the send is still out
    node.drain();
    const [letter] = node.deadLetterList();
    expect(letter).toMatchObject({ seq, recipient: 'out' });
    expect(letter?.reason).not.toBe('refused');
    await transport.answer([{ kind: 'refused', code: 422, reason: 'HTTP 422 Unprocessable' }]);
    expect(sink.counters.refused).toBe(1);
    expect(node.deadLetterList()).toEqual([letter]);
    const warning = lines.find((line) => line.msg.startsWith('sink refused'));
    expect(warning).toMatchObject({
      level: 40,
      msg: 'sink refused the event: not dead-lettered (section full, or not in flight): retried',
      sink: 'out',
      seq,
      code: 422,
      reason: 'HTTP 422 Unprocessable',
      details: '{"disk":3}',
    });
  });

  test('refused while in flight: dead-lettered with the code, the log without details unless asked', async () => {
    const { node, sink, transport, lines } = setup();
    const seq = node.producer('app').emitJson('app.event', 'err', { disk: 3 });
    node.drain();
    await transport.sent();
    await transport.answer([{ kind: 'refused', code: 400, reason: 'HTTP 400 Bad Request' }]);
    expect(node.deadLetterList()).toMatchObject([{ seq, reason: 'refused', detail: 400 }]);
    const warning = lines.find((line) => line.msg.startsWith('sink refused'));
    expect(warning?.msg).toBe('sink refused the event: dead-lettered');
    expect(warning).not.toHaveProperty('details');
    expect(sink.counters.refused).toBe(1);
  });

  test('events delivered after close() are not taken: nothing sent, they stay owed', async () => {
    const { node, sink, transport } = setup();
    const producer = node.producer('app');
    await sink.close();
    expect(transport.closed).toBe(true);
    expect(sink.state).toBe('closed');
    producer.emit('app.event', 'info', bytes(1));
    node.drain();
    await turn();
    expect(transport.batches).toEqual([]);
    expect(sink.recipient.delivered).toBe(1);
    expect(sink.recipient.confirmed).toBe(0);
    expect(sink.status()).toMatchObject({ state: 'closed', queued: 0, sending: 0 });
  });

  test('a confirmation that finds the node failed stops the batch there (fail-stop), nothing thrown', async () => {
    const device = new FailingNvram(freshDevice(), null);
    const { node, sink, transport } = setup({}, device);
    const producer = node.producer('app');
    [0, 1].forEach((k) => producer.emit('app.event', 'info', bytes(k)));
    node.drain();
    await transport.sent();
    // the node fails while the batch is out: the next emit's store fails
    device.failNext('store');
    expect(() => producer.emit('app.event', 'info', bytes(2))).toThrow(
      expect.objectContaining({ code: 'NODE_FAILED' }),
    );
    await transport.answer([{ kind: 'held' }, { kind: 'held' }]);
    expect(sink.counters.held).toBe(0);
    expect(sink.recipient.confirmed).toBe(0);
    expect(sink.state).toBe('starting');
    await sink.close();
    expect(transport.closed).toBe(true);
  });

  test('a redelivery that overtakes a slow send is skipped; the send decides the event', async () => {
    const { node, clock, sink, transport } = setup({
      retry: { timeoutMs: 50, timeoutMaxMs: 50, attemptsMax: 5 },
    });
    expect(sink.recipient.retry).toMatchObject({ timeoutMs: 50, attemptsMax: 5 });
    const seq = node.producer('app').emit('app.event', 'info', bytes(1));
    node.drain();
    await transport.sent();
    clock.advance(60);
    node.drain(); // delivered again while the first copy is still being sent
    await turn();
    expect(sink.recipient.redelivered).toBe(1);
    expect(sink.counters.skipped).toBe(1);
    expect(transport.batches).toHaveLength(1);
    await transport.answer([{ kind: 'held' }]);
    expect(sink.recipient.confirmed).toBe(1);
    expect(sink.counters).toMatchObject({ sent: 1, held: 1 });
    expect(transport.batches.map((batch) => batch.map((event) => event.seq))).toEqual([[seq]]);
  });
});
