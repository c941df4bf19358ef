/**
 * Device errors, the third kind of fault beside power cuts and media faults (./faults.ts): a
 * wrapper around any NvramDevice that fails the k-th store, flush or fence with the typed error
 * a real device gives when a system call fails (`NVRAM_IO`: an msync that returned EIO, a write
 * fault on a full disk). The failed operation is not performed, and no later one is either: the
 * device has failed, as a node must assume after a failed msync ("fsyncgate": the page cache
 * can no longer be trusted, so nothing after it is durable).
 *
 * A node must then stop (fail-stop): every call after the error throws NODE_FAILED, nothing is
 * thrown from a callback, and a reboot on what was durable before the error delivers every
 * acknowledged event. test/node/fail-stop.test.ts runs a workload once per operation index.
 */
import type { NvramDevice } from '../src/nvram/device.js';
import { NvramError } from '../src/nvram/errors.js';
import { DeviceWrapper, type WriteOperation } from './device-wrapper.js';

/** The operations a failure can be injected into (persist counts as a flush and a fence). */
export type DeviceOperation = 'store' | 'flush' | 'fence';

export interface DeviceErrorPlan {
  /** Which kind of operation fails. */
  operation: DeviceOperation;
  /** Its 1-based index among the operations of that kind since the wrapper was made. */
  index: number;
}

export class FailingNvram extends DeviceWrapper {
  plan: DeviceErrorPlan | null;
  /** Operations of each kind so far (performed or failed). */
  readonly counts: Record<DeviceOperation, number> = { store: 0, flush: 0, fence: 0 };
  /** The injected error once it was thrown. */
  failed: NvramError | null = null;

  constructor(inner: NvramDevice, plan: DeviceErrorPlan | null) {
    super(inner);
    this.plan = plan;
  }

  /** Plans the next operation of this kind to fail. */
  failNext(operation: DeviceOperation): void {
    this.plan = { operation, index: this.counts[operation] + 1 };
  }

  /** A persist is a flush and a fence, each counted (and each able to fail) on its own. */
  override persist(offset: number, length: number): void {
    this.flush(offset, length);
    this.fence();
  }

  protected issue(operation: WriteOperation, instruction: () => void): void {
    this.#step(operation as DeviceOperation); // never persist: overridden above
    instruction();
  }

  /** Counts one operation; throws if it is the planned one, or if the device already failed. */
  #step(operation: DeviceOperation): void {
    if (this.failed !== null) throw this.failed;
    const count = ++this.counts[operation];
    if (this.plan === null || this.plan.operation !== operation || this.plan.index !== count)
      return;
    this.failed = new NvramError(
      'NVRAM_IO',
      `${operation} #${count} failed: Input/output error (injected)`,
    );
    throw this.failed;
  }
}
