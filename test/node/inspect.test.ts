/**
 * inspectNode: the read-only view the CLI's inspect, dump and check use. It must report what a
 * boot would recover, and write nothing (not even a salvaged pointer or the seq lease).
 */
import { describe, expect, test } from 'vitest';
import { inspectNode } from '../../src/node/inspect.js';
import { fifoOffsets } from '../../src/fifo/layout.js';
import { bootNode, bytes, rebootDurable } from '../engine/harness.js';
import { WordRole, loadCounterWord } from '../../src/events/checked-word.js';

describe('inspectNode', () => {
  test('shows pending events, recipients and dead letters without writing', () => {
    const { node, device, clock } = bootNode(undefined, {
      retry: { timeoutMs: 5, attemptsMax: 1 },
    });
    node.registerRecipient('keeps', {}, () => {});
    node.registerRecipient('drops', { prefixes: ['disk.'] }, () => {});
    node.start();
    const p = node.producer('raid');
    const a = p.emit('disk.failed', 'err', bytes(1));
    const b = p.emit('net.down', 'crit', bytes(2));
    node.drain();
    clock.advance(10);
    node.drain(); // both time out after one attempt: dead letters for both recipients
    const image = rebootDurable(device);
    const before = image.instructionCount;
    const view = inspectNode(image);
    expect(image.instructionCount).toBe(before);
    expect(view.recipients.filter((r) => r.state === 'named').map((r) => r.name)).toEqual([
      'keeps',
      'drops',
    ]);
    expect(view.fifos.map((f) => [f.name, f.pending])).toEqual([
      ['boot-fifo', 0],
      ['runtime-fifo', 0],
    ]);
    expect(view.deadLetters.map((d) => [d.recipient, d.seq]).sort()).toEqual(
      [
        ['drops', a],
        ['keeps', a],
        ['keeps', b],
      ].sort(),
    );
    expect(view.seqLease).toBeGreaterThan(b);
  });

  test('reports what recovery would salvage, but leaves the pointers alone', () => {
    const { node, device } = bootNode();
    node.registerRecipient('r', {}, () => {});
    node.start();
    const seqs = [node.producer('p').emit('t', 'info'), node.producer('p').emit('t', 'info')];
    const image = rebootDurable(device);
    const fifo = image.section('runtime-fifo');
    image.flipBits(fifo.offset + fifoOffsets.tail + 6, 1, 1, 1);
    const tailWord = loadCounterWord(image, fifo.offset + fifoOffsets.tail, WordRole.tail);
    const view = inspectNode(image);
    const runtime = view.fifos[1];
    expect(runtime?.salvaged).toBe(true);
    expect(runtime?.records.map((r) => [r.verdict, r.record?.seq])).toEqual([
      ['valid', seqs[0]],
      ['valid', seqs[1]],
    ]);
    expect(loadCounterWord(image, fifo.offset + fifoOffsets.tail, WordRole.tail)).toBe(tailWord);
    expect(image.instructionCount).toBe(0);
  });

  test('shows per recipient the pending events still owed to it and the oldest seq', () => {
    const { node, device } = bootNode();
    node.registerRecipient('done', {}, (event, r) => r.confirm(event.seq));
    node.registerRecipient('absent', { prefixes: ['disk.'] }, () => {});
    node.start();
    const p = node.producer('raid');
    const seqs = [
      p.emit('net.down', 'err'),
      p.emit('disk.failed', 'err'),
      p.emit('disk.ok', 'info'),
    ];
    node.drainUntilIdle();
    const view = inspectNode(rebootDurable(device));
    expect(
      view.recipients
        .slice(0, 3)
        .map(({ name, owed, oldestOwedSeq }) => [name, owed, oldestOwedSeq]),
    ).toEqual([
      ['done', 0, null],
      ['absent', 2, seqs[1]],
      [null, 0, null],
    ]);
  });
});
