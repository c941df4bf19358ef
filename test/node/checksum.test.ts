/**
 * NodeOptions.checksum: record buffers in WebAssembly memory (default) or plain memory with the
 * TypeScript CRC32C. Either way the device ends up byte for byte the same, and either reads the
 * other's records.
 */
import { describe, expect, test } from 'vitest';
import type { NodeOptions } from '../../src/node/node.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { bootNode, bytes, freshDevice, rebootDurable } from '../engine/harness.js';

/** A few events, one confirmed, one dead-lettered later by a reboot; the durable image. */
function run(options: NodeOptions): TracedNvram {
  const { node, device } = bootNode(freshDevice(), options);
  node.registerRecipient('a', {}, (event, recipient) => {
    if (event.type === 'disk.ok') recipient.confirm(event.seq);
  });
  node.start();
  const producer = node.producer('raid');
  producer.emit('disk.ok', 'info', bytes(1, 2, 3));
  producer.emit('disk.failed', 'err', new TextEncoder().encode('slot 4'));
  node.drainUntilIdle();
  node.close();
  return rebootDurable(device);
}

function bodyOf(device: TracedNvram): Uint8Array {
  return device.buildDurableImage().subarray(4096); // past the device header (its boot count)
}

describe('NodeOptions.checksum', () => {
  test("'typescript' and 'webassembly' write the same bytes", () => {
    expect(bodyOf(run({ checksum: 'typescript' }))).toEqual(
      bodyOf(run({ checksum: 'webassembly' })),
    );
  });

  test('a node of either kind replays what the other recorded', () => {
    for (const [writer, reader] of [
      ['typescript', 'webassembly'],
      ['webassembly', 'typescript'],
    ] as const) {
      const { node } = bootNode(run({ checksum: writer }), { checksum: reader });
      const seen: string[] = [];
      node.registerRecipient('a', {}, (event, recipient) => {
        seen.push(event.type);
        recipient.confirm(event.seq);
      });
      node.start();
      node.drainUntilIdle();
      expect(node.recovery.discarded).toBe(0);
      expect(seen).toEqual(['disk.failed']);
    }
  });

  test("the default is 'webassembly': record buffers in WebAssembly memory, past its CRC tables", () => {
    const offsets = (options: NodeOptions): number[] =>
      bootNode(freshDevice(), options).node.fifos.map((fifo) => fifo.buffer.bytes.byteOffset);
    expect(offsets({ checksum: 'typescript' })).toEqual([0, 0]);
    const wasm = offsets({ checksum: 'webassembly' });
    expect(wasm.every((offset) => offset > 0)).toBe(true);
    expect(offsets({})).toEqual(wasm);
  });

  test('an unknown engine is refused', () => {
    expect(() => bootNode(freshDevice(), { checksum: 'sse' as never })).toThrow(
      /checksum must be 'webassembly' or 'typescript'/,
    );
  });
});
