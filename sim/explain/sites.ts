/**
 * Source sites of instructions, for explaining one crash state: a wrapper around a traced
 * device that remembers, for every instruction, where in the program it was issued. Capturing
 * a stack per instruction is slow, so only replay uses it, never the explorer.
 */
import { relative } from 'node:path';
import type { HeaderInfo, SectionInfo } from '../../src/nvram/addon-api.js';
import type { NvramDevice } from '../../src/nvram/device.js';
import type { TracedNvram } from '../../src/nvram/traced.js';

/** `sites[i]` says where instruction i was issued ("examples/log.ts:42 (PersistentLog.append)"). */
export class SiteRecordingDevice implements NvramDevice {
  readonly kind = 'traced' as const;
  readonly sites: string[] = [];

  constructor(readonly inner: TracedNvram) {}

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
    this.#issue(() => this.inner.storeU32(offset, value));
  }

  storeU64(offset: number, value: number): void {
    this.#issue(() => this.inner.storeU64(offset, value));
  }

  storeBytes(offset: number, source: Uint8Array, start?: number, end?: number): void {
    this.#issue(() => this.inner.storeBytes(offset, source, start, end));
  }

  flush(offset: number, length: number): void {
    this.#issue(() => this.inner.flush(offset, length));
  }

  fence(): void {
    this.#issue(() => this.inner.fence());
  }

  persist(offset: number, length: number): void {
    this.#issue(() => this.inner.persist(offset, length));
  }

  close(): void {
    this.inner.close();
  }

  #issue(instruction: () => void): void {
    const first = this.inner.instructionCount;
    const site = callerSite(new Error().stack ?? '');
    try {
      instruction();
    } finally {
      for (let i = first; i < this.inner.instructionCount; i++) this.sites[i] = site;
    }
  }
}

/** The first stack frame outside this file, shortened to a path relative to the working folder. */
export function callerSite(stack: string): string {
  const frames = stack.split('\n').slice(1);
  const frame = frames.find((line) => !/explain[/\\]sites\.[jt]s/.test(line)) ?? '';
  const match = /at (?:(.+?) \()?(?:file:\/\/)?([^()]+?):(\d+):\d+\)?\s*$/.exec(frame.trim());
  if (match === null) return 'unknown site';
  const [, functionName, file, line] = match;
  const where = `${relative(process.cwd(), file as string)}:${line}`;
  return functionName === undefined ? where : `${where} (${functionName.replace(/^async /, '')})`;
}
