/**
 * The WebAssembly CRC32C (src/events/crc32c-wasm.ts) where WebAssembly is missing, or refuses
 * the module: no buffer is offered (null), so callers fall back to the TypeScript CRC. Each
 * case loads the module afresh with the global replaced.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.resetModules();
});

async function load(): Promise<typeof import('../../src/events/crc32c-wasm.js')> {
  vi.resetModules();
  return import('../../src/events/crc32c-wasm.js');
}

describe('the WebAssembly CRC32C', () => {
  test('with WebAssembly: a buffer whose CRC is the check value', async () => {
    const { wasmCrcBuffer } = await load();
    const buffer = wasmCrcBuffer(16);
    expect(buffer).not.toBeNull();
    buffer!.bytes.set(new TextEncoder().encode('123456789'));
    expect(buffer!.crc(0, 9)).toBe(0xe3069283);
  });

  test('without WebAssembly: no buffer', async () => {
    vi.stubGlobal('WebAssembly', undefined);
    const { wasmCrcBuffer } = await load();
    expect(wasmCrcBuffer(16)).toBeNull();
  });

  test('a WebAssembly that refuses to compile the module: no buffer', async () => {
    vi.stubGlobal('WebAssembly', {
      Module: class {
        constructor() {
          throw new Error('compiling is not allowed here');
        }
      },
    });
    const { wasmCrcBuffer } = await load();
    expect(wasmCrcBuffer(16)).toBeNull();
  });
});
