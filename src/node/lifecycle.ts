/**
 * A node's phase and its fail-stop (docs/ARCHITECTURE.md, "The failed phase"): 'booting' →
 * 'running' → 'closed', or 'failed' from either at the first error thrown while writing to the
 * device. A device error leaves the device in a state the node cannot know (after a failed msync
 * not even the page cache can be trusted), so the node stops for good: `halt` stops its parts,
 * `onFailure` is told once, and every later call throws NODE_FAILED. Recovery is a reopen.
 */
import { AssertionError } from '../events/assert.js';
import { NodeError } from '../events/errors.js';
import { PowerCutError } from '../nvram/errors.js';
import type { NodePhase } from './node-stats.js';

export class NodeLifecycle {
  phase: NodePhase = 'booting';
  /** Why the node stopped (phase 'failed'), or null. */
  failure: NodeError | null = null;
  readonly #onFailure: ((error: NodeError) => void) | undefined;
  readonly #halt: (failure: NodeError) => void;

  constructor(
    onFailure: ((error: NodeError) => void) | undefined,
    halt: (failure: NodeError) => void,
  ) {
    this.#onFailure = onFailure;
    this.#halt = halt;
  }

  /** True in the phases that accept work ('booting', 'running'). */
  get open(): boolean {
    return this.phase === 'booting' || this.phase === 'running';
  }

  /** Runs a step that writes to the device; an error it throws fails the node. */
  guarded<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      throw this.fail(error);
    }
  }

  /**
   * Fail-stop: the node stops for good at the first error thrown while writing. Returns what to
   * throw: NODE_FAILED, or a traced device's power cut or a broken invariant as it is (the crash
   * lab cuts power on purpose; an AssertionError is a bug, never caught by runtime code). A
   * NodeError other than NODE_FAILED is a refusal thrown before anything was written (a full
   * table, a bad argument): returned as it is, and the node goes on.
   */
  fail(error: unknown): Error {
    if (error instanceof NodeError && error.code !== 'NODE_FAILED') return error; // a refusal
    if (error instanceof PowerCutError || error instanceof AssertionError) {
      this.#stop(new NodeError('NODE_FAILED', `nvrelay: ${error.message}`, { cause: error }));
      return error;
    }
    if (error instanceof NodeError) {
      this.#stop(error); // NODE_FAILED from a part of this node (the engine's confirm)
      return error;
    }
    const reason = error instanceof Error ? error.message : String(error);
    this.#stop(
      new NodeError(
        'NODE_FAILED',
        `nvrelay: the node stopped after a device error (${reason}); reopen the device to recover`,
        { cause: error },
      ),
    );
    return this.failure as NodeError;
  }

  /** Throws NODE_CLOSED or NODE_FAILED unless the node accepts calls. */
  checkOpen(method: string): void {
    if (this.phase === 'closed')
      throw new NodeError('NODE_CLOSED', `nvrelay: ${method}: the node is closed`);
    if (this.phase === 'failed') {
      const failure = this.failure as NodeError;
      throw new NodeError('NODE_FAILED', `nvrelay: ${method}: ${failure.message}`, {
        cause: failure.cause,
      });
    }
  }

  #stop(failure: NodeError): void {
    if (this.phase === 'failed') return;
    this.phase = 'failed';
    this.failure = failure;
    this.#halt(failure);
    try {
      this.#onFailure?.(failure);
    } catch {
      // the owner's callback must not turn a fail-stop into an uncaught exception
    }
  }
}
