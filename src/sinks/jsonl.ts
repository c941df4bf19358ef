/**
 * The `jsonl` sink: each event as one line of JSON (./event-json.ts) appended to a file, the
 * batch written at once and fdatasync'd before any of it is confirmed. A write that fails is cut
 * back off the file (ftruncate to the length before it), so the file only ever holds whole
 * lines; so does a file a crash left with a torn last line, cut back when the sink opens it (the
 * torn line's events were not confirmed: they come again).
 *
 * Rotation by size: once the file reaches `rotateBytes`, it is renamed `PATH.1` (the older ones
 * move up to `PATH.<keep>`; the oldest beyond is removed) and a new file begins. Every line in a
 * renamed file was fdatasync'd before the rename.
 */
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { eventJson } from './event-json.js';
import {
  held,
  outcomes,
  reasonOf,
  type SinkEvent,
  type SinkOutcome,
  type SinkTransport,
} from './sink.js';

export interface JsonlOptions {
  path: string;
  /** Rotate once the file reaches this size. */
  rotateBytes: number;
  /** Rotated files kept (PATH.1 .. PATH.keep). */
  keep: number;
}

export class JsonlTransport implements SinkTransport {
  readonly target: string;
  readonly #options: JsonlOptions;
  #file: FileHandle | null = null;
  #size = 0;

  constructor(options: JsonlOptions) {
    this.#options = options;
    this.target = options.path;
  }

  async send(batch: readonly SinkEvent[]): Promise<SinkOutcome[]> {
    const text = batch.map((event) => JSON.stringify(eventJson(event))).join('\n') + '\n';
    const bytes = Buffer.from(text);
    let file: FileHandle;
    try {
      file = await this.#open();
    } catch (error) {
      return outcomes(batch, { kind: 'retry', reason: reasonOf(error) });
    }
    const before = this.#size;
    try {
      await writeAll(file, bytes, before);
      await file.datasync();
      this.#size = before + bytes.length;
    } catch (error) {
      await this.#cutBack(before);
      return outcomes(batch, { kind: 'retry', reason: reasonOf(error) });
    }
    if (this.#size >= this.#options.rotateBytes) await this.#rotate();
    return outcomes(batch, held);
  }

  async close(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    await file?.close();
  }

  /** Opens the file (created if absent), a torn last line cut off. */
  async #open(): Promise<FileHandle> {
    if (this.#file !== null) return this.#file;
    const file = await open(this.#options.path, 'a+', 0o640);
    try {
      this.#size = await wholeLines(file);
    } catch (error) {
      await file.close();
      throw error;
    }
    this.#file = file;
    return file;
  }

  /** After a failed write: the file as it was; if even that fails, reopened next time. */
  async #cutBack(size: number): Promise<void> {
    try {
      await this.#file?.truncate(size);
      await this.#file?.datasync();
    } catch {
      await this.close().catch(() => {});
    }
  }

  /** Renames PATH to PATH.1 (older ones up to PATH.keep); the next send starts a new file. */
  async #rotate(): Promise<void> {
    await this.close();
    const { path, keep } = this.#options;
    try {
      await rm(`${path}.${keep}`, { force: true });
      for (let k = keep - 1; k >= 1; k--) {
        if (await exists(`${path}.${k}`)) await rename(`${path}.${k}`, `${path}.${k + 1}`);
      }
      await rename(path, `${path}.1`);
    } catch {
      // the lines are durable where they are; rotation is tried again after the next batch
    }
  }
}

/** Positional writes from `at` until every byte is written. */
async function writeAll(file: FileHandle, bytes: Buffer, at: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await file.write(bytes, done, bytes.length - done, at + done);
    done += bytesWritten;
  }
}

/** The length of the file's whole lines; anything after the last newline is cut off. */
async function wholeLines(file: FileHandle): Promise<number> {
  const { size } = await file.stat();
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await file.read(chunk, 0, end - start, start);
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) {
      end = start + newline + 1;
      break;
    }
    end = start;
  }
  if (end !== size) {
    await file.truncate(end);
    await file.datasync();
  }
  return end;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
