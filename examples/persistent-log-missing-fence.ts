/**
 * The same log with one fence missing: the entry is flushed but not fenced before the count
 * that publishes it is stored. Under px86 the entry and the count are on different lines, so a
 * power cut can keep the new count and lose the entry: recovery then reads a zero entry that
 * was never appended. The crash lab catches it (test/examples/persistent-log.test.ts).
 */
import { PersistentLog } from './persistent-log.js';

export class MissingFenceLog extends PersistentLog {
  protected override persistEntry(entry: number): void {
    this.device.flush(entry, 8);
    // the fence is missing here
  }
}
