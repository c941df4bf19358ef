/**
 * Frames out of a byte stream: a socket delivers chunks of any size; this reassembles them into
 * whole frames, refusing a length field of 0 or above the cap before buffering the frame (so a
 * peer cannot make the other side allocate more than the cap). Decoding is frames.ts's.
 */
import { WireError, decodeFrame, frameHeaderBytes, type Frame } from './frames.js';

export class FrameStream<F = Frame> {
  readonly frameBytesMax: number;
  readonly #decode: (type: number, payload: Uint8Array) => F;
  #buffer = new Uint8Array(0);
  #length = 0;

  /** `decode`: the protocol's decoder (the interconnect of an HA pair has its own). */
  constructor(frameBytesMax: number, decode?: (type: number, payload: Uint8Array) => F) {
    this.frameBytesMax = frameBytesMax;
    this.#decode = decode ?? (decodeFrame as unknown as (type: number, payload: Uint8Array) => F);
  }

  /** Bytes buffered that are not yet a whole frame. */
  get buffered(): number {
    return this.#length;
  }

  /** Appends a chunk and returns every whole frame in it, decoded; WireError on a bad one. */
  push(chunk: Uint8Array): F[] {
    this.#append(chunk);
    const frames: F[] = [];
    let at = 0;
    const view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#length);
    while (this.#length - at >= 4) {
      const length = view.getUint32(at, true);
      if (length === 0 || length > this.frameBytesMax) {
        throw new WireError(
          length === 0 ? 'BAD_FRAME' : 'FRAME_TOO_LARGE',
          `a frame of ${length} bytes (1..${this.frameBytesMax})`,
        );
      }
      if (this.#length - at < 4 + length) break;
      const type = this.#buffer[at + 4] as number;
      // copied: the buffer is reused, and a frame's fields (details, records) outlive this call
      const payload = this.#buffer.slice(at + frameHeaderBytes, at + 4 + length);
      frames.push(this.#decode(type, payload));
      at += 4 + length;
    }
    this.#buffer.copyWithin(0, at, this.#length);
    this.#length -= at;
    return frames;
  }

  #append(chunk: Uint8Array): void {
    const needed = this.#length + chunk.length;
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2, 4096));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(chunk, this.#length);
    this.#length = needed;
  }
}
