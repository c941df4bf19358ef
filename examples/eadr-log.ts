/**
 * The persistent log written for an eADR platform: the caches are in the persistence domain,
 * so a store is durable once a fence has drained it, flushed or not (PMDK skips its flushes
 * there too). The entry is therefore ordered before the count by a fence alone; the count is
 * still published with `persist` (flush + fence), as a library helper would do it.
 *
 * Correct under `eadr`; broken under `px86` and `relaxed`, where a store is durable only once
 * flushed and fenced: the count can reach the media without its entry
 * (test/examples/eadr-log.test.ts runs it under both).
 */
import { PersistentLog } from './persistent-log.js';

export class EadrLog extends PersistentLog {
  protected override persistEntry(): void {
    this.device.fence(); // eADR: the fence drains the entry to the persistence domain
  }
}
