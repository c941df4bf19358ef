/**
 * The options of a node and of its recipients, validated before anything is written (a
 * misspelt option is an error, never ignored).
 */
import {
  attemptsLimit,
  attemptsMaxDefault,
  inFlightLimit,
  retryBackoffFactorDefault,
  retryTimeoutMaxMsDefault,
  retryTimeoutMsDefault,
} from '../constants.js';
import type { DistributionEngine, Clock } from '../engine/distribution-engine.js';
import type { RetryPolicy } from '../engine/recipient.js';
import { badArgument, type NodeError } from '../events/errors.js';
import { severityLevel, type Severity } from '../events/severity.js';
import type { ChecksumEngine } from '../events/record.js';
import type { PersistentFifo } from '../fifo/fifo.js';
import type { FifoGeometry } from '../fifo/layout.js';
import type { NvramDevice } from '../nvram/device.js';
import type { ReplayContext, ReplayEngine } from '../replay/replay-engine.js';
import type { SeqLease } from './seq-lease.js';

export interface NodeOptions {
  /** Time source for event times and retry timeouts (default Date.now). */
  clock?: Clock;
  /** 'auto' (default) or 'manual' (the caller drains). */
  scheduling?: 'auto' | 'manual';
  /** Default retry policy of recipients. */
  retry?: Partial<RetryPolicy>;
  /** Default in-flight window of recipients. */
  inFlightMax?: number;
  /**
   * Where record buffers live and which CRC32C seals them (src/events/record.ts): 'webassembly'
   * (default), the faster checksum per event; 'typescript', plain memory and the same checksums,
   * a faster boot (no WebAssembly instance per buffer): for callers that boot thousands of
   * nodes, like the crash lab.
   */
  checksum?: ChecksumEngine;
  /** The FIFO class (the crash lab passes deliberately broken subclasses). */
  Fifo?: new (
    device: NvramDevice,
    sectionName: string,
    geometry: FifoGeometry,
    checksum?: ChecksumEngine,
  ) => PersistentFifo;
  /** The replay engine class (for [193] partners, and the lab's mutants). */
  Replay?: new (context: ReplayContext) => ReplayEngine;
  /** The distribution engine class (the lab's mutants). */
  Engine?: typeof DistributionEngine;
  /** The seq lease class (the lab's mutants). */
  SeqLease?: typeof SeqLease;
  /**
   * Called once when the node fails (fail-stop after a device error, see Node): the node is in
   * phase 'failed' and every call throws NODE_FAILED; reopen the device to recover.
   */
  onFailure?: (error: NodeError) => void;
  /**
   * Off by default. If set (ms, by `clock`): a recipient named in the persistent recipient
   * table but not registered within this time after start() is retired as by
   * Node.retireRecipient (its owed events dead-lettered, its id freed), with the reason
   * 'absent past grace period'. Auto scheduling arms a timer; manual scheduling retires on the
   * first drain() once the clock has passed the deadline.
   */
  absentRecipientGraceMs?: number;
  /**
   * Pipelined group commit (default false): a group's fence (in 'power' durability its msync)
   * runs asynchronously, on a worker thread, while the next group is assembled; each emit still
   * resolves only once its own group is durable (docs/ARCHITECTURE.md, "Pipelined fence").
   * commit() and drain() issue the open group's fence and return; the group is published when
   * it completes (a drain's own work then overlaps the fence).
   */
  pipelinedFence?: boolean;
}

export interface Subscription {
  /** Type prefixes: `disk.` (or `disk`) matches `disk.failed`; '' matches all. Default ['']. */
  prefixes?: readonly string[];
  /** Deliver events of this severity or worse. Default 'debug' (all). */
  severityMax?: Severity;
}

export interface RecipientOptions {
  inFlightMax?: number;
  retry?: Partial<RetryPolicy>;
}

export function checkOptions(options: NodeOptions): void {
  const known = [
    'clock',
    'scheduling',
    'retry',
    'inFlightMax',
    'checksum',
    'Fifo',
    'Replay',
    'Engine',
    'SeqLease',
    'onFailure',
    'absentRecipientGraceMs',
    'pipelinedFence',
  ];
  if (typeof options !== 'object' || options === null) badArgument('options must be an object');
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) badArgument(`unknown option '${key}' (known: ${known.join(', ')})`);
  }
  if (
    options.scheduling !== undefined &&
    options.scheduling !== 'auto' &&
    options.scheduling !== 'manual'
  ) {
    badArgument(`scheduling must be 'auto' or 'manual', got ${String(options.scheduling)}`);
  }
  if (
    options.checksum !== undefined &&
    options.checksum !== 'webassembly' &&
    options.checksum !== 'typescript'
  ) {
    badArgument(`checksum must be 'webassembly' or 'typescript', got ${String(options.checksum)}`);
  }
  if (options.onFailure !== undefined && typeof options.onFailure !== 'function') {
    badArgument('onFailure must be a function');
  }
  const grace = options.absentRecipientGraceMs;
  if (grace !== undefined && !(typeof grace === 'number' && Number.isFinite(grace) && grace >= 0)) {
    badArgument(`absentRecipientGraceMs must be a finite number >= 0, got ${String(grace)}`);
  }
  if (options.clock !== undefined && typeof options.clock.now !== 'function') {
    badArgument('clock must have a now() method');
  }
}

export function retryPolicy(
  given: Partial<RetryPolicy> | undefined,
  base: RetryPolicy | undefined,
): RetryPolicy {
  const policy: RetryPolicy = {
    timeoutMs: given?.timeoutMs ?? base?.timeoutMs ?? retryTimeoutMsDefault,
    backoffFactor: given?.backoffFactor ?? base?.backoffFactor ?? retryBackoffFactorDefault,
    timeoutMaxMs: given?.timeoutMaxMs ?? base?.timeoutMaxMs ?? retryTimeoutMaxMsDefault,
    attemptsMax: given?.attemptsMax ?? base?.attemptsMax ?? attemptsMaxDefault,
  };
  if (!(policy.timeoutMs > 0) || !(policy.timeoutMaxMs >= policy.timeoutMs)) {
    badArgument('retry: need 0 < timeoutMs <= timeoutMaxMs');
  }
  if (!(policy.backoffFactor >= 1)) badArgument('retry.backoffFactor must be >= 1');
  if (
    !Number.isInteger(policy.attemptsMax) ||
    policy.attemptsMax < 1 ||
    policy.attemptsMax > attemptsLimit
  ) {
    badArgument(`retry.attemptsMax must be an integer in [1, ${attemptsLimit}]`);
  }
  return policy;
}

export function inFlightMax(given: number | undefined, fallback: number): number {
  const value = given ?? fallback;
  if (!Number.isInteger(value) || value < 1 || value > inFlightLimit) {
    badArgument(`inFlightMax must be an integer in [1, ${inFlightLimit}], got ${String(given)}`);
  }
  return value;
}

const prefixPattern = /^[A-Za-z0-9_.-]*$/;

export function resolveSubscription(subscription: Subscription): {
  prefixes: string[];
  severityMax: number;
} {
  if (typeof subscription !== 'object' || subscription === null)
    badArgument('subscription must be an object');
  for (const key of Object.keys(subscription)) {
    if (key !== 'prefixes' && key !== 'severityMax')
      badArgument(`unknown subscription field '${key}'`);
  }
  const prefixes = subscription.prefixes === undefined ? [''] : [...subscription.prefixes];
  for (const prefix of prefixes) {
    if (typeof prefix !== 'string' || !prefixPattern.test(prefix)) {
      badArgument(
        `subscription prefix must be a string of [A-Za-z0-9_.-], got ${JSON.stringify(prefix)}`,
      );
    }
  }
  const severityMax =
    subscription.severityMax === undefined ? 7 : severityLevel(subscription.severityMax);
  return { prefixes, severityMax };
}
