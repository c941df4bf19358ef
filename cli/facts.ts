/**
 * One fact per write(2) on fd 1, nothing buffered in this process: the `A`, `D` and `Q` lines
 * other tools (and the soak and kill tests) read, so a kill -9 loses no line a fact happened
 * behind.
 */
import { writeSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

export function fact(line: string): void {
  const bytes = Buffer.from(`${line}\n`);
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written, bytes.length - written);
    } catch (error) {
      // A non-blocking pipe that is full: wait for the reader (no line may be dropped).
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 1); // 1 ms, then again: no busy loop against a slow reader
        continue;
      }
      // The reader is gone (EPIPE): stop at once, as a kill would.
      process.stderr.write(`nvrelay: cannot write to stdout: ${(error as Error).message}\n`);
      process.exit(1);
    }
  }
}
