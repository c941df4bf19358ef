/**
 * CRC32C in WebAssembly over buffers that live in the module's own memory: the record path's
 * one per-event checksum without a native call (about 0.7x the time of the TypeScript
 * slicing-by-8, which has a bounds check per table load). Memory layout of every instance:
 * [0, 8192) the eight slicing tables (table k at k * 1024), [8192, ...) the caller's buffer.
 *
 * The module (273 bytes, below) is this function, hand-assembled:
 *
 *   (func (export "crc") (param $p i32) (param $n i32) (result i32)
 *     (local $crc i32) (local $end i32) (local $a i32) (local $b i32)
 *     end = p + n; crc = -1
 *     while (p + 8 <= end):              ;; slicing-by-8: two word loads, eight table loads
 *       a = crc ^ load32(p); b = load32(p + 4)
 *       crc = T7[a & 255] ^ T6[(a >> 8) & 255] ^ T5[(a >> 16) & 255] ^ T4[a >>> 24]
 *           ^ T3[b & 255] ^ T2[(b >> 8) & 255] ^ T1[(b >> 16) & 255] ^ T0[b >>> 24]
 *       p += 8
 *     while (p < end): crc = T0[(crc ^ load8(p)) & 255] ^ (crc >>> 8); p += 1
 *     return ~crc)
 *
 * with memory imported as env.memory. test/events/record.test.ts checks it against the
 * TypeScript CRC32C on every offset and length.
 */
import { crc32cTable } from './crc32c.js';

// prettier-ignore
const moduleBytes = new Uint8Array([
  0,97,115,109,1,0,0,0,1,7,1,96,2,127,127,1,127,2,15,1,3,101,110,118,6,109,101,109,111,114,121,
  2,0,1,3,2,1,0,7,7,1,3,99,114,99,0,0,10,223,1,1,220,1,1,4,127,32,0,32,1,106,33,3,65,127,33,2,
  2,64,3,64,32,0,65,8,106,32,3,75,13,1,32,2,32,0,40,2,0,115,33,4,32,0,40,2,4,33,5,32,4,65,255,
  1,113,65,2,116,40,2,128,56,32,4,65,6,118,65,252,7,113,40,2,128,48,115,32,4,65,14,118,65,252,
  7,113,40,2,128,40,115,32,4,65,24,118,65,2,116,40,2,128,32,115,32,5,65,255,1,113,65,2,116,40,
  2,128,24,115,32,5,65,6,118,65,252,7,113,40,2,128,16,115,32,5,65,14,118,65,252,7,113,40,2,128,
  8,115,32,5,65,24,118,65,2,116,40,2,0,115,33,2,32,0,65,8,106,33,0,12,0,11,11,2,64,3,64,32,0,32,
  3,79,13,1,32,2,32,0,45,0,0,115,65,255,1,113,65,2,116,40,2,0,32,2,65,8,118,115,33,2,32,0,65,1,
  106,33,0,12,0,11,11,32,2,65,127,115,11,
]);

const tablesBytes = 8192;
const pageBytes = 65536;

/** The part of the WebAssembly JS API used here (the project's lib settings omit its types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer };
}

const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
let compiled: object | null | undefined;

function compiledModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm === undefined ? null : new wasm.Module(moduleBytes);
    } catch {
      compiled = null; // no WebAssembly here: callers fall back to the TypeScript CRC
    }
  }
  return compiled;
}

export interface WasmCrcBuffer {
  /** The caller's buffer, inside the instance's memory (byteOffset 8192). */
  bytes: Uint8Array;
  /** CRC32C of bytes [offset, offset + length) of `bytes`. */
  crc: (offset: number, length: number) => number;
}

/** A zeroed buffer of `byteLength` bytes with its own CRC32C instance; null without WebAssembly. */
export function wasmCrcBuffer(byteLength: number): WasmCrcBuffer | null {
  const module = compiledModule();
  if (module === null || wasm === undefined) return null;
  const memory = new wasm.Memory({ initial: Math.ceil((tablesBytes + byteLength) / pageBytes) });
  const instance = new wasm.Instance(module, { env: { memory } });
  new Int32Array(memory.buffer, 0, tablesBytes / 4).set(crc32cTable());
  const run = instance.exports['crc'] as (p: number, n: number) => number;
  return {
    bytes: new Uint8Array(memory.buffer, tablesBytes, byteLength),
    crc: (offset, length) => run(tablesBytes + offset, length) >>> 0,
  };
}
