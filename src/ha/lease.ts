/**
 * Stream leases [193]: in a high-availability pair, each node's event stream is delivered by
 * exactly one node at a time, the holder of that stream's lease on a coordinator. Two
 * implementations share these semantics: etcd (./etcd-lease.ts), the coordinator of a real
 * pair, and a lease file (./file-lease.ts) for one machine without etcd.
 *
 * Every grant carries a fencing token, strictly greater than every earlier grant's token for the
 * same stream: whatever the holder writes can carry it, and a write with a smaller token than one
 * already seen is from a holder that lost the lease.
 *
 * The coordinator's expiry is not enough on its own: a holder cut off from it learns nothing.
 * `LeaseKeeper` renews the grant and fences itself: it stops holding at a local deadline, the
 * monotonic time at which its last successful renewal was SENT plus the TTL minus a margin.
 * The coordinator restarts its TTL when the request arrives, after it was sent, so the local
 * deadline always comes first (the margin covers the two clocks' rates): never two holders,
 * whether or not answers arrive.
 */

/** A grant of the lease on one node's event stream. */
export interface LeaseGrant {
  /** The stream's name, e.g. the owning node's id in hex. */
  stream: string;
  /** Who holds it, e.g. the holding node's id in hex. */
  holder: string;
  /** Fencing token: strictly greater than every earlier grant's token for this stream. */
  token: bigint;
}

export interface LeaseRecord {
  holder: string;
  token: bigint;
}

export interface StreamLeases {
  /**
   * Acquires the lease on `stream` for `holder`, or null if another holder's lease has not
   * expired. A holder that already holds it gets a NEW grant only after release; calling
   * acquire while holding returns null.
   */
  acquire(stream: string, holder: string): Promise<LeaseGrant | null>;
  /** Extends the grant; false if it is no longer held (expired, or taken by another grant). */
  renew(grant: LeaseGrant): Promise<boolean>;
  /** Gives it up at once (idempotent); the next acquire by anyone succeeds immediately. */
  release(grant: LeaseGrant): Promise<void>;
  /** The live holder, or null if none. */
  current(stream: string): Promise<LeaseRecord | null>;
  /**
   * The last grant ever made on the stream (survives expiry and release): giveback needs to
   * know whether the partner took a stream over while its owner was away.
   */
  last(stream: string): Promise<LeaseRecord | null>;
  close(): Promise<void>;
  readonly ttlMs: number;
}

export type LeaseErrorCode =
  | 'LEASE_UNAVAILABLE' // the coordinator did not answer in time, or failed
  | 'LEASE_CORRUPT' // the coordinator holds lease state of the wrong shape (never reset silently)
  | 'LEASE_CLOSED' // use after close
  | 'BAD_ARGUMENT'; // a malformed option, or a coordinator that cannot honour the TTL

/** An expected failure of a lease call, with a stable string `code` (as NodeError). */
export class LeaseError extends Error {
  readonly code: LeaseErrorCode;
  constructor(code: LeaseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LeaseError';
    this.code = code;
  }
}

/**
 * Settles like `call`, or rejects with LEASE_UNAVAILABLE after `timeoutMs`: a coordinator that
 * hangs must not hang the node. Any other failure of `call` becomes LEASE_UNAVAILABLE too,
 * except a LeaseError, which passes through.
 */
export async function withinTimeout<T>(
  what: string,
  timeoutMs: number,
  call: () => Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new LeaseError('LEASE_UNAVAILABLE', `nvrelay: ${what}: no answer in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([call(), timeout]);
  } catch (error) {
    if (error instanceof LeaseError) throw error;
    throw new LeaseError('LEASE_UNAVAILABLE', `nvrelay: ${what}: ${String(error)}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Time and timers for the keeper: injected, so a simulation drives it deterministically. */
export interface KeeperClock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

export const monotonicClock: KeeperClock = {
  now: () => performance.now(),
  setTimer: (callback, ms) => setTimeout(callback, ms),
  clearTimer: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

/** Why a keeper stopped holding: its local deadline passed, or the coordinator said so. */
export type LeaseLoss = 'expired' | 'taken';

export interface KeeperOptions {
  /** Called once, when the grant stops being held (not after `release` or `stop`). */
  onLost: (reason: LeaseLoss) => void;
  /** Monotonic time (of `clock`) at which the request that made the grant was sent. */
  sentAt: number;
  clock?: KeeperClock;
  /** How long before the coordinator's expiry the keeper stops holding; ttlMs / 4 by default. */
  marginMs?: number;
}

export class LeaseKeeper {
  readonly leases: StreamLeases;
  readonly grant: LeaseGrant;
  protected readonly clock: KeeperClock;
  protected readonly onLost: (reason: LeaseLoss) => void;
  protected readonly marginMs: number;
  /** Monotonic time after which the grant is no longer held here. */
  protected deadlineAt: number;
  protected lost = false;
  protected stopped = false;
  protected renewing = false;
  protected renewTimer: unknown = null;
  protected deadlineTimer: unknown = null;

  constructor(leases: StreamLeases, grant: LeaseGrant, options: KeeperOptions) {
    this.leases = leases;
    this.grant = grant;
    this.clock = options.clock ?? monotonicClock;
    this.onLost = options.onLost;
    this.marginMs = options.marginMs ?? leases.ttlMs / 4;
    if (!(this.marginMs > 0 && this.marginMs < leases.ttlMs))
      throw new LeaseError('BAD_ARGUMENT', `nvrelay: a keeper's margin must be in (0, ttlMs)`);
    this.deadlineAt = this.deadlineAfter(options.sentAt);
    this.scheduleRenewal();
    this.scheduleDeadline();
  }

  /**
   * Acquires `stream` for `holder` and keeps it, timing the deadline from the moment the
   * acquire was sent; null if someone else holds it.
   */
  static async acquire(
    leases: StreamLeases,
    stream: string,
    holder: string,
    options: Omit<KeeperOptions, 'sentAt'>,
  ): Promise<LeaseKeeper | null> {
    const sentAt = (options.clock ?? monotonicClock).now();
    const grant = await leases.acquire(stream, holder);
    return grant === null ? null : new LeaseKeeper(leases, grant, { ...options, sentAt });
  }

  /** Whether the grant is still held: false from the local deadline on, answers or not. */
  held(): boolean {
    if (!this.lost && !this.stopped && this.clock.now() >= this.deadlineAt) this.lose('expired');
    return !this.lost && !this.stopped;
  }

  /** The local deadline (monotonic ms of the clock). */
  get deadline(): number {
    return this.deadlineAt;
  }

  /** Stops renewing and gives the lease up on the coordinator; onLost is not called. */
  async release(): Promise<void> {
    this.stop();
    await this.leases.release(this.grant);
  }

  /** Stops renewing (the lease runs out on the coordinator); onLost is not called. */
  stop(): void {
    this.stopped = true;
    this.cancelTimers();
  }

  protected deadlineAfter(sentAt: number): number {
    return sentAt + this.leases.ttlMs - this.marginMs;
  }

  protected scheduleRenewal(): void {
    this.renewTimer = this.clock.setTimer(() => this.renewNow(), this.leases.ttlMs / 3);
  }

  protected scheduleDeadline(): void {
    if (this.deadlineTimer !== null) this.clock.clearTimer(this.deadlineTimer);
    const wait = Math.max(0, this.deadlineAt - this.clock.now());
    this.deadlineTimer = this.clock.setTimer(() => {
      this.deadlineTimer = null;
      if (this.held()) this.scheduleDeadline(); // a timer that fired early
    }, wait);
  }

  /** One renewal (none while one is in flight); the next one is scheduled at once. */
  protected renewNow(): void {
    if (!this.held()) return;
    this.scheduleRenewal();
    if (this.renewing) return;
    this.renewing = true;
    const sentAt = this.clock.now();
    this.leases.renew(this.grant).then(
      (renewed) => {
        this.renewing = false;
        if (!renewed) return this.lose('taken');
        if (!this.held()) return;
        this.deadlineAt = Math.max(this.deadlineAt, this.deadlineAfter(sentAt));
        this.scheduleDeadline();
      },
      () => {
        this.renewing = false; // the coordinator did not answer: the deadline decides
      },
    );
  }

  protected lose(reason: LeaseLoss): void {
    if (this.lost || this.stopped) return;
    this.lost = true;
    this.cancelTimers();
    this.onLost(reason);
  }

  protected cancelTimers(): void {
    if (this.renewTimer !== null) this.clock.clearTimer(this.renewTimer);
    if (this.deadlineTimer !== null) this.clock.clearTimer(this.deadlineTimer);
    this.renewTimer = null;
    this.deadlineTimer = null;
  }
}
