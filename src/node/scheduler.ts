/**
 * Auto scheduling: the node's work on the event loop. One reused setImmediate callback per burst
 * drains; a timer, confirmationFenceDelayMs after the pass, makes its confirmations durable
 * (unless a group commit's fence has carried them by then); one setImmediate commits an open
 * group; one timer fires at the earliest retry deadline (re-armed only when it changes).
 *
 * Every callback runs through `guard`: an error thrown there (a device error) fails the node
 * (fail-stop) and is never rethrown from the event loop, where it would be an uncaught exception.
 */
import type { Clock } from '../engine/clock.js';

/** What the scheduler runs; each is called inside `guard`. */
export interface ScheduledWork {
  /** One distribution pass, its reports, then the retry timer re-armed. */
  drain(): void;
  /** The pass's confirmations made durable, if no fence has carried them yet. */
  fence(): void;
  /** Commits an open group (emitAsync). */
  commitGroup(): void;
  /** The earliest retry deadline (Infinity: none). */
  nextDeadline(): number;
  /** True if confirmations wait for a fence. */
  confirmationsPending(): boolean;
  /** Runs `work`; an error it throws stops the node and is not rethrown. */
  guard(work: () => void): void;
}

/**
 * How long auto scheduling lets received confirmations wait for a fence of their own. A
 * confirmation that is not durable yet only costs a second delivery after a power cut (SPEC 4),
 * and the next group commit's fence carries it for free: a remote producer's next emit usually
 * comes within a round trip, so a producer waiting for each ack pays one msync per event, not
 * two (one for its record, one for the confirmation its recipient sent back).
 */
export const confirmationFenceDelayMs = 2;

export class AutoScheduler {
  readonly #work: ScheduledWork;
  readonly #clock: Clock;
  #drainImmediate: NodeJS.Immediate | null = null;
  #fenceTimer: NodeJS.Timeout | null = null;
  #groupImmediate: NodeJS.Immediate | null = null;
  #timer: NodeJS.Timeout | null = null;
  #timerDeadline = Infinity;
  #stopped = false;
  readonly #drainCallback = (): void => {
    this.#drainImmediate = null;
    this.#work.guard(() => this.#drainNow());
  };
  readonly #fenceCallback = (): void => {
    this.#fenceTimer = null;
    this.#work.guard(() => this.#work.fence());
  };
  readonly #groupCallback = (): void => {
    this.#groupImmediate = null;
    this.#work.guard(() => this.#work.commitGroup());
  };
  readonly #timerCallback = (): void => {
    this.#timer = null;
    this.#timerDeadline = Infinity;
    this.#work.guard(() => this.#drainNow());
  };

  constructor(work: ScheduledWork, clock: Clock) {
    this.#work = work;
    this.#clock = clock;
  }

  /** A drain on the next turn (one per burst). */
  drainSoon(): void {
    if (this.#drainImmediate !== null || this.#stopped) return;
    this.#drainImmediate = setImmediate(this.#drainCallback);
  }

  /** A group commit on the next turn (one per group). */
  commitSoon(): void {
    if (this.#groupImmediate !== null || this.#stopped) return;
    this.#groupImmediate = setImmediate(this.#groupCallback);
  }

  /** Cancels everything pending; nothing runs afterwards (close, fail-stop). */
  stop(): void {
    this.#stopped = true;
    for (const immediate of [this.#drainImmediate, this.#groupImmediate])
      if (immediate !== null) clearImmediate(immediate);
    if (this.#fenceTimer !== null) clearTimeout(this.#fenceTimer);
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#drainImmediate = this.#groupImmediate = this.#fenceTimer = null;
    this.#timer = null;
  }

  #drainNow(): void {
    this.#work.drain();
    if (this.#stopped) return;
    this.#armRetryTimer();
    if (this.#fenceTimer === null && this.#work.confirmationsPending())
      this.#fenceTimer = setTimeout(this.#fenceCallback, confirmationFenceDelayMs);
  }

  /** One timer for the earliest retry deadline (re-armed only when that deadline changes). */
  #armRetryTimer(): void {
    const deadline = this.#work.nextDeadline();
    if (deadline === this.#timerDeadline) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerDeadline = deadline;
    if (deadline === Infinity) return;
    const delay = Math.max(0, deadline - this.#clock.now());
    this.#timer = setTimeout(this.#timerCallback, delay);
    this.#timer.unref();
  }
}
