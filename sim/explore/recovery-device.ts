/**
 * The device the explorer runs a *final* recovery on: the last recovery of a crash state, the
 * one no further power cut will interrupt. With no cut ahead, the persistency model has nothing
 * to decide, so durable and volatile images are one, and this device is a plain image in memory
 * that counts instructions and records which words are loaded, like TracedNvram with load
 * recording on. It is reset in place for each crash state (one memcpy), where a new native
 * traced device per state would cost an allocation and a finalizer each.
 *
 * Recoveries that may be cut (nested crashes) and replays run on TracedNvram;
 * test/sim/recovery-device.test.ts shows both devices give the same loads, stores and results.
 */
import type { HeaderInfo, SectionInfo } from '../../src/nvram/addon-api.js';
import { failAccess, headerBytes, requireRange, wordBytes } from '../../src/nvram/arguments.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import { NvramError } from '../../src/nvram/errors.js';
import { assert } from '../assert.js';

const twoTo32 = 2 ** 32;
/** Up to this many bytes, loadBytes copies with a loop. */
const shortLoadBytes = 256;

export class RecoveryDevice implements NvramDevice {
  readonly kind = 'traced' as const;
  readonly sizeBytes: number;
  readonly header: HeaderInfo;
  readonly label = 'recovery device';
  /** One byte per word: 1 = loaded since the last reset. */
  readonly loads: Uint8Array;
  readonly #u8: Uint8Array;
  readonly #u32: Uint32Array;
  readonly #view: DataView;
  readonly #sections: Map<string, SectionInfo>;
  readonly #bootedHeader: Uint8Array;
  #instructions = 0;

  /** `bootedHeader`: the header page every image of this stage has after its reboot. */
  constructor(header: HeaderInfo, bootedHeader: Uint8Array) {
    assert(bootedHeader.length === headerBytes, 'a booted header page');
    this.header = header;
    this.sizeBytes = header.sizeBytes;
    this.#u8 = new Uint8Array(this.sizeBytes);
    this.#u32 = new Uint32Array(this.#u8.buffer);
    this.#view = new DataView(this.#u8.buffer);
    this.loads = new Uint8Array(this.sizeBytes / wordBytes);
    this.#sections = new Map(header.sections.map((section) => [section.name, section]));
    this.#bootedHeader = bootedHeader.slice();
  }

  /** The crash image, rebooted: its header page replaced by the booted one; loads cleared. */
  reset(image: Uint8Array): void {
    assert(image.length === this.sizeBytes, 'an image of this device');
    this.#u8.set(image);
    this.#u8.set(this.#bootedHeader);
    this.loads.fill(0);
    this.#instructions = 0;
  }

  get instructionCount(): number {
    return this.#instructions;
  }

  /** The image as recovery left it. */
  get image(): Uint8Array {
    return this.#u8;
  }

  section(name: string): SectionInfo {
    const section = this.#sections.get(name);
    if (section === undefined) {
      throw new NvramError(
        'NVRAM_UNKNOWN_SECTION',
        `nvram: ${this.label}: section: no section named "${name}"`,
      );
    }
    return section;
  }

  loadU32(offset: number): number {
    this.#check('loadU32', offset, 4, 4, 0);
    this.loads[Math.floor(offset / wordBytes)] = 1;
    return this.#u32[offset / 4] as number;
  }

  loadU64(offset: number): number {
    this.#check('loadU64', offset, 8, 8, 0);
    this.loads[offset / wordBytes] = 1;
    return (this.#u32[offset / 4 + 1] as number) * twoTo32 + (this.#u32[offset / 4] as number);
  }

  loadBytes(offset: number, target: Uint8Array): void {
    const length = target.length;
    this.#check('loadBytes', offset, length, 1, 0);
    if (length === 0) return;
    const last = Math.ceil((offset + length) / wordBytes);
    for (let w = Math.floor(offset / wordBytes); w < last; w++) this.loads[w] = 1;
    if (length > shortLoadBytes) {
      target.set(this.#u8.subarray(offset, offset + length));
      return;
    }
    // Recovery reads many short records: a plain loop beats making a subarray for each.
    const u8 = this.#u8;
    for (let i = 0; i < length; i++) target[i] = u8[offset + i] as number;
  }

  storeU32(offset: number, value: number): void {
    this.#check('storeU32', offset, 4, 4, headerBytes);
    assert(value >>> 0 === value, 'storeU32 of a u32');
    this.#view.setUint32(offset, value, true);
    this.#instructions++;
  }

  storeU64(offset: number, value: number): void {
    this.#check('storeU64', offset, 8, 8, headerBytes);
    assert(Number.isSafeInteger(value) && value >= 0, 'storeU64 of an integer < 2^53');
    this.#view.setUint32(offset, value % twoTo32, true);
    this.#view.setUint32(offset + 4, Math.floor(value / twoTo32), true);
    this.#instructions++;
  }

  storeBytes(offset: number, source: Uint8Array, start = 0, end = source.length): void {
    this.#check('storeBytes', offset, end - start, 1, headerBytes);
    this.#u8.set(source.subarray(start, end), offset);
    this.#instructions++;
  }

  flush(offset: number, length: number): void {
    requireRange(
      { label: this.label, method: 'flush' },
      offset,
      length,
      headerBytes,
      this.sizeBytes,
    );
    this.#instructions++;
  }

  fence(): void {
    this.#instructions++;
  }

  persist(offset: number, length: number): void {
    this.flush(offset, length);
    this.fence();
  }

  /** Two instructions, as on the traced device: the issue now, the completion next turn. */
  fenceAsync(onComplete: (error: Error | null) => void): void {
    this.#instructions++;
    setImmediate(() => {
      this.#instructions++;
      onComplete(null);
    });
  }

  close(): void {
    // Reused for the next crash state: nothing to release.
  }

  #check(method: string, offset: number, length: number, alignment: number, lowest: number): void {
    if (
      typeof offset !== 'number' ||
      !Number.isInteger(offset) ||
      offset % alignment !== 0 ||
      offset < lowest ||
      length < 0 ||
      offset + length > this.sizeBytes
    ) {
      failAccess({ label: this.label, method }, offset, length, alignment, lowest, this.sizeBytes);
    }
  }
}
