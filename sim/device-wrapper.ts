/**
 * A device around another device, for fault injection and explanation: reads pass straight
 * through, and every writing instruction (store, flush, fence, persist) goes through `issue`,
 * where a wrapper fails it (./device-errors.ts) or records where it was issued
 * (./explain/sites.ts).
 */
import type { HeaderInfo, NvramDevice, SectionInfo } from '../src/nvram/device.js';
import { PowerCutError } from '../src/nvram/errors.js';

export type WriteOperation = 'store' | 'flush' | 'fence' | 'persist';

export abstract class DeviceWrapper<
  Inner extends NvramDevice = NvramDevice,
> implements NvramDevice {
  readonly inner: Inner;

  constructor(inner: Inner) {
    this.inner = inner;
  }

  /** Runs one writing instruction of the inner device. */
  protected abstract issue(operation: WriteOperation, instruction: () => void): void;

  get kind(): NvramDevice['kind'] {
    return this.inner.kind;
  }

  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }

  get header(): HeaderInfo {
    return this.inner.header;
  }

  section(name: string): SectionInfo {
    return this.inner.section(name);
  }

  loadU32(offset: number): number {
    return this.inner.loadU32(offset);
  }

  loadU64(offset: number): number {
    return this.inner.loadU64(offset);
  }

  loadBytes(offset: number, target: Uint8Array): void {
    this.inner.loadBytes(offset, target);
  }

  storeU32(offset: number, value: number): void {
    this.issue('store', () => this.inner.storeU32(offset, value));
  }

  storeU64(offset: number, value: number): void {
    this.issue('store', () => this.inner.storeU64(offset, value));
  }

  storeBytes(offset: number, source: Uint8Array, start?: number, end?: number): void {
    this.issue('store', () => this.inner.storeBytes(offset, source, start, end));
  }

  flush(offset: number, length: number): void {
    this.issue('flush', () => this.inner.flush(offset, length));
  }

  fence(): void {
    this.issue('fence', () => this.inner.fence());
  }

  persist(offset: number, length: number): void {
    this.issue('persist', () => this.inner.persist(offset, length));
  }

  /**
   * A fence issued asynchronously: a failure to issue it reaches `onComplete`, as one to
   * complete it; a power cut at the issue is thrown, as by `fence` (the machine is off: nothing
   * completes).
   */
  fenceAsync(onComplete: (error: Error | null) => void): void {
    try {
      this.issue('fence', () => this.inner.fenceAsync(onComplete));
    } catch (error) {
      if (error instanceof PowerCutError) throw error;
      setImmediate(() => onComplete(error as Error));
    }
  }

  close(): void {
    this.inner.close();
  }
}
