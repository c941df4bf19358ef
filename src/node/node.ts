/**
 * An nvrelay node [100]: one NVRAM device, its FIFOs and pools, the indication queue, the
 * distribution engine and the replay engine, wired together.
 *
 *   const node = Node.boot(device);          // recover [231]; replay is queued, not delivered
 *   node.registerRecipient('audit', { prefixes: ['disk.'] }, (event, r) => r.confirm(event.seq));
 *   const raid = node.producer('raid');
 *   node.start();                            // initialisation complete: replay, then new events
 *   const seq = raid.emit('disk.failed', 'err', details);
 *
 * Phases: 'booting' (after boot: emits go to the boot pool [130], nothing is delivered),
 * 'running' (after start: emits go to the runtime pool [120]; the boot pool's events and the
 * replayed ones are delivered first), 'failed' (fail-stop, below), 'closed'.
 *
 * Fail-stop: a device operation that throws (an I/O error from a store, a flush or an msync)
 * leaves the device in a state the node cannot know (after a failed msync even the page cache
 * cannot be trusted), so the node stops there for good: the phase becomes 'failed', the open
 * group's promises are rejected, timers are cancelled, and every later call, confirmations
 * included, throws NODE_FAILED. Nothing is thrown from an event-loop callback; `onFailure` and
 * `failure` tell the owner. Recovery is a reopen: the next boot replays what was acknowledged.
 *
 * Scheduling: 'auto' (default) drains on the event loop (./scheduler.ts); 'manual' leaves it to
 * the caller (`drain()`), for tests and the crash lab, where a power cut must surface in the
 * caller's stack.
 */
import { inFlightMaxDefault, producersMax } from '../constants.js';
import { DeadLetterStore, type DeadLetter } from '../engine/dead-letter.js';
import { ClockCell, type Clock } from '../engine/clock.js';
import { DistributionEngine } from '../engine/distribution-engine.js';
import { EventIndicationQueue } from '../engine/indication-queue.js';
import { Recipient, type RecipientHandler, type RetryPolicy } from '../engine/recipient.js';
import { RecipientTable } from '../engine/recipient-table.js';
import { NameTable, TypeTable } from '../engine/subscriptions.js';
import { NodeError, QueueFull, badArgument } from '../events/errors.js';
import { encodeName } from '../events/names.js';
import { encodeOrigin } from '../events/origin.js';
import { recordFlagOrigin, recordFlagRedelivery } from '../events/record.js';
import { severityLevel } from '../events/severity.js';
import { PersistentFifo } from '../fifo/fifo.js';
import type { NvramDevice } from '../nvram/device.js';
import { EventPool, indicationQueueCapacity } from '../pools/pool.js';
import { ReplayEngine, type RecoveryEvent } from '../replay/replay-engine.js';
import {
  EventRecorder,
  appendBySubscription,
  producerCounted,
  relayed,
  type AppendOptions,
} from './event-recorder.js';
import { Findings, fitDetails } from './findings.js';
import {
  deadLetterGeometry,
  fifoGeometry,
  leaseOffset,
  readNodeGeometry,
  sectionNames,
  type NodeGeometry,
} from './layout.js';
import { nodeStats, type NodeCounters, type NodePhase, type NodeStats } from './node-stats.js';
import {
  checkOptions,
  inFlightMax,
  resolveSubscription,
  retryPolicy,
  type NodeOptions,
  type RecipientOptions,
  type Subscription,
} from './options.js';
import { NodeLifecycle } from './lifecycle.js';
import { Producer } from './producer.js';
import { recoverNode } from './boot-recovery.js';
import {
  absentRecipients,
  reasonAbsent,
  retirableId,
  retireBlockedEvent,
  retireId,
  retireReason,
  retiredEvent,
  type RetireOptions,
  type RetireResult,
} from './recipient-retirement.js';
import { AutoScheduler } from './scheduler.js';
import { SeqLease } from './seq-lease.js';

export type { NodeOptions, RecipientOptions, Subscription } from './options.js';
export type { NodeCounters, NodePhase, NodeStats } from './node-stats.js';
export type { RetireOptions, RetireResult } from './recipient-retirement.js';

export interface RecoveryReport {
  /**
   * Events found published at boot and queued for replay [191, 192]; those every intended
   * recipient had durably confirmed are retired without being delivered again.
   */
  replayed: number;
  /** Damaged records dropped (never delivered); counted as replay examines them (row R2). */
  discarded: number;
  /** What recovery raised, or will raise at start, as events (type nvrelay.*). */
  events: RecoveryEvent[];
}

const noneExcepted = [0, 0] as const;
const bootFifoIndex = 0;
const runtimeFifoIndex = 1;
const systemSource = 'nvrelay';

export class Node {
  readonly device: NvramDevice;
  readonly geometry: NodeGeometry;
  readonly clock: Clock;
  /** The clock's readings, shared with the engine (src/engine/clock.ts). */
  readonly time: ClockCell;
  readonly scheduling: 'auto' | 'manual';
  readonly fifos: PersistentFifo[];
  readonly bootPool: EventPool;
  readonly runtimePool: EventPool;
  readonly queue: EventIndicationQueue;
  readonly types = new TypeTable();
  readonly sources = new NameTable('source', producersMax);
  readonly recipientTable: RecipientTable;
  readonly deadLetters: DeadLetterStore;
  readonly engine: DistributionEngine;
  readonly replay: ReplayEngine;
  readonly lease: SeqLease;
  readonly recorder: EventRecorder;
  recovery: RecoveryReport = { replayed: 0, discarded: 0, events: [] };
  readonly counters: NodeCounters;
  /** Producers' refused emits by syslog level (0..7): QueueFull, and EVENT_TOO_LARGE. */
  readonly rejectedByLevel = { queueFull: new Float64Array(8), tooLarge: new Float64Array(8) };

  readonly #life: NodeLifecycle;
  readonly #retry: RetryPolicy;
  readonly #inFlightMax: number;
  readonly #producers = new Map<string, Producer>();
  readonly #findings = new Findings();
  readonly #scheduler: AutoScheduler | null;
  readonly #failCallback = (error: unknown): Error => this.#life.fail(error);
  /** Group fences issued asynchronously (NodeOptions.pipelinedFence). */
  readonly pipelinedFence: boolean;
  readonly #absentGraceMs: number | undefined;
  /** When absent recipients are retired (clock ms); Infinity: not armed or done. */
  #absentDeadline = Infinity;

  /**
   * Recovers the node on `device` [231] and returns it in the 'booting' phase. A device error
   * during recovery throws NODE_FAILED (nothing was issued; reopen to try again).
   */
  static boot(device: NvramDevice, options: NodeOptions = {}): Node {
    checkOptions(options);
    const node = new Node(device, readNodeGeometry(device), options);
    try {
      node.recovery = recoverNode(node);
    } catch (error) {
      throw node.#life.fail(error);
    }
    return node;
  }

  protected constructor(device: NvramDevice, geometry: NodeGeometry, options: NodeOptions) {
    this.device = device;
    this.geometry = geometry;
    this.time = new ClockCell(options.clock);
    this.clock = this.time.clock;
    this.scheduling = options.scheduling ?? 'auto';
    this.#life = new NodeLifecycle(options.onFailure, (failure) => this.#halt(failure));
    this.#absentGraceMs = options.absentRecipientGraceMs;
    this.#retry = retryPolicy(options.retry, undefined);
    this.#inFlightMax = inFlightMax(options.inFlightMax, inFlightMaxDefault);
    const Fifo = options.Fifo ?? PersistentFifo;
    const checksum = options.checksum ?? 'webassembly';
    // Order matters: index 0 is the boot FIFO, 1 the runtime FIFO (bootFifoIndex, runtimeFifoIndex).
    this.fifos = [
      new Fifo(device, sectionNames.bootFifo, fifoGeometry(geometry, geometry.bootSlots), checksum),
      new Fifo(
        device,
        sectionNames.runtimeFifo,
        fifoGeometry(geometry, geometry.runtimeSlots),
        checksum,
      ),
    ];
    this.bootPool = new EventPool('boot', this.fifos[bootFifoIndex] as PersistentFifo);
    this.runtimePool = new EventPool('runtime', this.fifos[runtimeFifoIndex] as PersistentFifo);
    this.queue = new EventIndicationQueue(indicationQueueCapacity(this.fifos));
    this.recipientTable = new RecipientTable(
      device,
      sectionNames.recipients,
      geometry.recipientsMax,
    );
    this.deadLetters = new DeadLetterStore(
      device,
      sectionNames.deadLetter,
      deadLetterGeometry(geometry),
      checksum,
    );
    const Engine = options.Engine ?? DistributionEngine;
    this.engine = new Engine(
      this.queue,
      this.fifos,
      this.types,
      this.sources,
      this.deadLetters,
      this.time,
      geometry.recipientsMax,
    );
    this.types.subscribers = this.engine.recipients;
    this.engine.onConfirmed = () => this.#scheduler?.drainSoon();
    this.engine.onDiscard = (fifo, position, verdict) => this.#noteDiscard(fifo, position, verdict);
    this.engine.onFailure = (error) => this.#life.fail(error);
    this.engine.fenceAtPassEnd = this.scheduling === 'manual';
    const Replay = options.Replay ?? ReplayEngine;
    this.replay = new Replay(this);
    this.counters = Object.assign(this.engine.counters, {
      emitted: 0,
      rejectedQueueFull: 0,
      rejectedTooLarge: 0,
      replayed: 0,
      discarded: 0,
      recoveryEventsRejected: 0,
    });
    const SeqLeaseClass = options.SeqLease ?? SeqLease;
    this.lease = new SeqLeaseClass(
      device,
      device.section(sectionNames.control).offset + leaseOffset,
    );
    this.recorder = new EventRecorder(
      this.fifos,
      this.queue,
      this.types,
      this.sources,
      this.time,
      this.lease,
      this.counters,
    );
    this.#scheduler = this.scheduling === 'auto' ? this.#autoScheduler() : null;
    this.recorder.onQueued = () => {
      if (this.#life.phase === 'running') this.#scheduler?.drainSoon();
    };
    this.pipelinedFence = options.pipelinedFence ?? false;
    this.recorder.onFenceFailed = (error) => this.#life.fail(error);
  }

  get phase(): NodePhase {
    return this.#life.phase;
  }

  /** Why the node stopped (phase 'failed'), or null. */
  get failure(): NodeError | null {
    return this.#life.failure;
  }

  // ---- recipients and producers ----

  /**
   * Registers a recipient by name (its id is persistent, so events recorded for it before a
   * reboot reach it again). It receives what it still owes a confirmation for, then new events.
   */
  registerRecipient(
    name: string,
    subscription: Subscription,
    handler: RecipientHandler,
    options: RecipientOptions = {},
  ): Recipient {
    this.#life.checkOpen('registerRecipient');
    if (typeof handler !== 'function') badArgument('handler must be a function');
    encodeName('recipient', name);
    const known = this.recipientTable.find(name);
    const present = known >= 0 ? this.engine.recipients[known] : undefined;
    if (present !== undefined && present.attached) {
      badArgument(`recipient '${name}' is already registered`);
    }
    const resolved = resolveSubscription(subscription);
    if (present !== undefined) return this.#reattach(present, resolved, handler);
    const policy = retryPolicy(options.retry, this.#retry);
    const window = inFlightMax(options.inFlightMax, this.#inFlightMax);
    const id = this.#life.guarded(() => this.recipientTable.register(name));
    const recipient = new Recipient(this.engine, id, name, resolved, handler, policy, window);
    this.engine.activate(recipient);
    this.types.resolveAll();
    if (this.#life.phase === 'running') this.#scheduler?.drainSoon();
    return recipient;
  }

  /**
   * A remote recipient's connection is gone (src/daemon): it stays registered and subscribed, so
   * the events meant for it stay owed (and count toward QueueFull), but nothing is delivered,
   * retried or dead-lettered until `registerRecipient` with its name attaches it again; then it
   * receives everything it had not confirmed, in order.
   */
  detachRecipient(recipient: Recipient): void {
    this.#life.checkOpen('detachRecipient');
    if (this.engine.recipients[recipient.id] !== recipient)
      badArgument(`recipient '${recipient.name}' is not registered with this node`);
    this.engine.detach(recipient);
  }

  /** registerRecipient of a detached recipient: the new handler and subscription. */
  #reattach(
    recipient: Recipient,
    subscription: { prefixes: string[]; severityMax: number },
    handler: RecipientHandler,
  ): Recipient {
    recipient.prefixes = subscription.prefixes;
    recipient.severityMax = subscription.severityMax;
    this.types.resolveAll(); // events recorded from now on use the new subscription
    this.engine.attach(recipient, handler);
    if (this.#life.phase === 'running') this.#scheduler?.drainSoon();
    return recipient;
  }

  /** The producer handle for a system element (one per name). */
  producer(name: string): Producer {
    this.#life.checkOpen('producer');
    const known = this.#producers.get(name);
    if (known !== undefined) return known;
    const producer = new Producer(this, name, this.sources.intern(name));
    this.#producers.set(name, producer);
    return producer;
  }

  /** @internal The interned id of an event type, with its masks resolved. */
  typeId(type: string): number {
    if (typeof type !== 'string') badArgument(`type must be a string, got ${typeof type}`);
    return this.types.intern(type);
  }

  // ---- emit [211-214] ----

  /** @internal Producer.emit: records one event durably and queues it. Hot path. */
  emitEvent(sourceId: number, typeId: number, level: number, details: Uint8Array | null): number {
    const fifoIndex = this.#admit(level, details);
    try {
      return this.recorder.append(fifoIndex, sourceId, typeId, level, details);
    } catch (error) {
      throw this.#life.fail(error);
    }
  }

  /**
   * @internal Producer.emitAsync and emitRelayed: group commit. `counter` (a remote producer's)
   * or `origin` (a relayed event's trail, encoded) go into the record.
   */
  emitEventAsync(
    sourceId: number,
    typeId: number,
    level: number,
    details: Uint8Array | null,
    counter = 0,
    origin: Uint8Array | null = null,
    except: readonly [low: number, high: number] = noneExcepted,
  ): Promise<number> {
    const fifoIndex = this.#admit(level, details, origin === null ? 0 : origin.length);
    try {
      const options: AppendOptions =
        origin !== null
          ? relayed(origin, except[0], except[1])
          : counter === 0
            ? appendBySubscription
            : producerCounted(counter);
      const durable = this.recorder.appendToGroup(
        fifoIndex,
        sourceId,
        typeId,
        level,
        details,
        options,
      );
      this.#scheduler?.commitSoon();
      return durable;
    } catch (error) {
      throw this.#life.fail(error);
    }
  }

  /** Pool admission [212]: the FIFO index to record in, or a typed error (counted). */
  #admit(level: number, details: Uint8Array | null, originBytes = 0): number {
    if (this.#life.phase !== 'booting' && this.#life.phase !== 'running')
      this.#life.checkOpen('emit');
    const bytes = (details === null ? 0 : details.length) + originBytes;
    if (bytes > this.geometry.detailsBytesMax) {
      this.counters.rejectedTooLarge++;
      (this.rejectedByLevel.tooLarge[level & 7] as number) += 1;
      const trail = originBytes === 0 ? '' : ` (with an origin trail of ${originBytes})`;
      throw new NodeError(
        'EVENT_TOO_LARGE',
        `nvrelay: details of ${bytes} bytes${trail} exceed detailsBytesMax ${this.geometry.detailsBytesMax}`,
      );
    }
    const pool = this.#pool();
    if (!this.#poolFits(level)) {
      pool.refuse();
      this.counters.rejectedQueueFull++;
      (this.rejectedByLevel.queueFull[level & 7] as number) += 1;
      throw new QueueFull(
        pool.name,
        `nvrelay: the ${pool.name} pool is full (${pool.used()} of ${pool.capacity} slots taken, ` +
          `${pool.urgentReserve} reserved for err or worse)`,
      );
    }
    return this.#life.phase === 'running' ? runtimeFifoIndex : bootFifoIndex;
  }

  /** The pool an emit takes now: the boot pool while initialising [130], else the runtime's. */
  #pool(): EventPool {
    return this.#life.phase === 'running' ? this.runtimePool : this.bootPool;
  }

  /** The pool an emit takes now has a slot for `level`, once retired slots are reclaimed. */
  #poolFits(level: number): boolean {
    const pool = this.#pool();
    if (!pool.fits(level)) this.#life.guarded(() => this.#persistPointers()); // reclaim retired slots
    return pool.fits(level);
  }

  // ---- phases and distribution ----

  /**
   * Initialisation is complete: recovery's own events are recorded (boot pool), the boot pool's
   * events are released into the normal path, and delivery begins: replayed events first.
   */
  start(): void {
    this.#life.checkOpen('start');
    if (this.#life.phase !== 'booting')
      throw new NodeError('NODE_STATE', 'nvrelay: start: the node is already running');
    this.#life.guarded(() => {
      this.#raise(this.recovery.events);
      this.#reportFindings(true);
      this.#commitGroup();
    });
    this.#life.phase = 'running';
    if (this.#absentGraceMs !== undefined)
      this.#absentDeadline = this.clock.now() + this.#absentGraceMs;
    this.replay.admit('started');
    this.engine.delivering = true;
    this.#scheduler?.drainSoon();
  }

  /**
   * Records recovery events through the system producer. One the pool has no slot for is counted
   * as recovery's (recoveryEventsRejected), not thrown and not counted as a producer's reject:
   * the full report stays in `recovery`.
   */
  #raise(events: readonly RecoveryEvent[]): void {
    if (events.length === 0) return;
    const system = this.producer(systemSource);
    for (const event of events) {
      if (!this.#poolFits(severityLevel(event.severity))) {
        this.counters.recoveryEventsRejected++;
        continue;
      }
      // no producer waits on these: recorded even on a mirrored node (they are mirrored later)
      this.emitEvent(
        system.sourceId,
        this.typeId(event.type),
        severityLevel(event.severity),
        fitDetails(event.details, this.geometry.detailsBytesMax),
      );
    }
  }

  /**
   * One distribution pass (auto scheduling calls it for you): timeouts, deliveries,
   * retirement. When it returns, every confirmation received so far is durable.
   * Returns true if anything was delivered or retired.
   */
  drain(): boolean {
    this.#life.checkOpen('drain');
    try {
      // pipelined: the open group's fence is issued, and this pass's work overlaps it
      this.#commitGroupSoon();
      const retired = this.#absentDeadline !== Infinity && this.#retireAbsentIfDue();
      const progress = this.engine.drain();
      return this.#reportFindings() || progress || retired;
    } catch (error) {
      throw this.#life.fail(error); // no closure: drain is on the hot path
    }
  }

  /** Row R2: one discarded record counted (the engine examined it and dropped it). */
  #noteDiscard(fifo: PersistentFifo, position: number, verdict: number): void {
    this.recovery.discarded++;
    this.counters.discarded++;
    this.#findings.noteDiscard(fifo, position, verdict);
  }

  /**
   * Raises what the engine found in recovered records since the last report (discards, row R2;
   * damaged confirmation words, row R3); while booting they wait for start (the boot pool).
   * True if it raised any.
   */
  #reportFindings(starting = false): boolean {
    this.#findings.collectConfirmations(this.fifos);
    if (this.#findings.empty) return false;
    if (this.#life.phase === 'booting' && !starting) return false;
    const events = this.#findings.take();
    this.recovery.events.push(...events);
    this.#raise(events);
    return true;
  }

  /**
   * Publishes an open group commit now (auto scheduling does it on the next turn of the event
   * loop; manual scheduling leaves it to this, or to drain). With pipelinedFence it issues the
   * group's fence; the group is published when the fence completes.
   */
  commit(): void {
    this.#life.checkOpen('commit');
    this.#life.guarded(() => this.#commitGroupSoon());
  }

  /**
   * Makes every confirmation received so far durable now (one fence), instead of within
   * confirmationFenceDelayMs: a daemon answers a CONFIRM_DURABLE frame after it
   * (docs/PROTOCOL.md), so that a multiplexing recipient knows its upstream will not send the
   * event again (src/mux).
   */
  persistConfirmations(): void {
    this.#life.checkOpen('persistConfirmations');
    this.#life.guarded(() => this.engine.confirmationsDurable());
  }

  /** Manual scheduling: drains until a pass makes no progress (at most `passesMax` passes). */
  drainUntilIdle(passesMax = 1_000): number {
    let passes = 0;
    while (passes < passesMax && this.drain()) passes++;
    return passes;
  }

  /** Every open group durable now (a fence in flight settled by this one). */
  #commitGroup(): void {
    this.recorder.commitGroup(this.#failCallback);
  }

  /** The open group committed, pipelined if asked: its fence may complete later. */
  #commitGroupSoon(): void {
    if (this.pipelinedFence) this.recorder.commitGroupPipelined(this.#failCallback);
    else this.recorder.commitGroup(this.#failCallback);
  }

  #autoScheduler(): AutoScheduler {
    return new AutoScheduler(
      {
        drain: () => {
          if (this.#life.phase !== 'running') return;
          if (this.#absentDeadline !== Infinity) this.#retireAbsentIfDue();
          this.engine.drain();
          this.#reportFindings();
        },
        fence: () => this.engine.confirmationsDurable(),
        commitGroup: () => this.#commitGroupSoon(),
        nextDeadline: () => Math.min(this.engine.nextDeadline(), this.#absentDeadline),
        confirmationsPending: () => this.engine.confirmationsPending(),
        guard: (work) => {
          if (this.#life.phase !== 'running' && this.#life.phase !== 'booting') return;
          try {
            work();
          } catch (error) {
            this.#life.fail(error); // fail-stop: never an uncaught exception from the event loop
          }
        },
      },
      this.clock,
    );
  }

  // ---- dead letters (operator) ----

  deadLetterList(): (DeadLetter & { recipient: string })[] {
    this.#life.checkOpen('deadLetterList');
    return this.deadLetters.list().map((letter) => ({
      ...letter,
      // a retired recipient's id is freed, and may name another recipient by now
      recipient:
        (letter.reason === 'recipient-retired'
          ? null
          : this.recipientTable.names[letter.recipientId]) ?? `#${letter.recipientId}`,
    }));
  }

  /**
   * Re-delivers dead letters (all, or those of one recipient / one seq) as new events to that
   * recipient alone, with `originalSeq` set; each entry is freed once its re-delivery is durable.
   * Returns how many were re-delivered (stops early on QueueFull). A retired recipient's dead
   * letters are never re-delivered: its id was freed and may be another recipient's now.
   */
  redeliverDeadLetters(filter: { recipient?: string; seq?: number } = {}): number {
    this.#life.checkOpen('redeliverDeadLetters');
    if (this.#life.phase !== 'running')
      throw new NodeError('NODE_STATE', 'nvrelay: redeliver after start()');
    let count = 0;
    for (const letter of this.deadLetterList()) {
      if (letter.reason === 'recipient-retired') continue; // its id may be another's by now
      if (filter.recipient !== undefined && letter.recipient !== filter.recipient) continue;
      if (filter.seq !== undefined && letter.seq !== filter.seq) continue;
      const record = letter.record;
      const origin = record.origin === undefined ? null : encodeOrigin(record.origin);
      try {
        this.#admit(record.severity, record.details, origin === null ? 0 : origin.length);
      } catch (error) {
        if (error instanceof QueueFull) break; // the rest stay dead letters, nothing is lost
        throw error;
      }
      const typeId = this.typeId(record.type);
      const sourceId = this.sources.intern(record.source);
      this.#life.guarded(() => {
        this.recorder.append(runtimeFifoIndex, sourceId, typeId, record.severity, record.details, {
          flags: recordFlagRedelivery | (origin === null ? 0 : recordFlagOrigin),
          originalSeq: record.originalSeq !== 0 ? record.originalSeq : record.seq,
          intendedRecipient: letter.recipientId,
          origin, // a relayed event keeps its path
        });
        this.deadLetters.remove(letter.index); // after the re-delivery is durable
      });
      count++;
    }
    return count;
  }

  // ---- retiring a recipient that never comes back ----

  /**
   * Retires a recipient named in the recipient table but not registered this boot (after
   * start()): every event still owed to it becomes a dead letter (reason 'recipient-retired'),
   * is then settled as if confirmed, and only then is its id freed, so a recipient that takes
   * the id later inherits nothing (persist order: ./recipient-retirement.ts). Raises
   * `nvrelay.recipient.retired`. Throws RECIPIENT_UNKNOWN, NODE_STATE (registered, or not
   * running), or DEAD_LETTER_FULL (what was dead-lettered stays; the id stays named).
   */
  retireRecipient(name: string, options: RetireOptions = {}): RetireResult {
    this.#life.checkOpen('retireRecipient');
    if (this.#life.phase !== 'running')
      throw new NodeError('NODE_STATE', 'nvrelay: retireRecipient: only after start()');
    if (this.engine.draining)
      throw new NodeError('NODE_STATE', 'nvrelay: retireRecipient: not from inside a handler');
    return this.#retire(name, retireReason(options));
  }

  #retire(name: string, reason: string): RetireResult {
    const id = retirableId(this.recipientTable, this.engine, name);
    const result = this.#life.guarded(() => {
      this.#commitGroup(); // an open group's events are queued (and owed) first
      return retireId(this.engine, this.recipientTable, id, name);
    });
    this.#life.guarded(() => this.#raise([retiredEvent(name, result.deadLettered, reason)]));
    this.#scheduler?.drainSoon();
    return result;
  }

  /** The grace period is over: retire every absent recipient (once). True if any was. */
  #retireAbsentIfDue(): boolean {
    if (this.clock.now() < this.#absentDeadline) return false;
    this.#absentDeadline = Infinity;
    let retired = false;
    for (const name of absentRecipients(this.recipientTable, this.engine)) {
      try {
        this.#retire(name, reasonAbsent);
        retired = true;
      } catch (error) {
        if (!(error instanceof NodeError) || error.code !== 'DEAD_LETTER_FULL') throw error;
        // what fitted was dead-lettered; try again after another grace period
        this.#life.guarded(() => this.#raise([retireBlockedEvent(name, error)]));
        this.#absentDeadline = this.clock.now() + (this.#absentGraceMs ?? 0);
      }
    }
    return retired;
  }

  // ---- observation ----

  /** Counters, pools, FIFOs and recipients (allocates; not for the hot path). */
  stats(): NodeStats {
    return nodeStats(this, this.#life.phase, this.lease.next);
  }

  /** True when nothing is queued: every event is completely handled and retired. */
  idle(): boolean {
    return this.queue.length() === 0;
  }

  /**
   * Stops the node: an open group commit is committed first, then timers are cleared. The
   * device stays open (the caller owns it). Idempotent; every other method throws afterwards.
   * On a failed node it only clears what is left (nothing more is written).
   */
  close(): void {
    if (this.#life.phase === 'closed' || this.#life.phase === 'failed') {
      this.#scheduler?.stop();
      return;
    }
    this.#life.guarded(() => {
      this.#commitGroup();
      this.#persistPointers(); // the next boot's scan starts at the tail word (row D4)
    });
    this.#life.phase = 'closed';
    this.engine.delivering = false;
    this.engine.closed = true;
    this.#scheduler?.stop();
  }

  /** Step 217 now for every FIFO: one fence each, with its confirmations and both pointer words. */
  #persistPointers(): void {
    for (const fifo of this.fifos) fifo.persistPointers();
  }

  /** Fail-stop, part of the node's own: what stops when the lifecycle fails (./lifecycle.ts). */
  #halt(failure: NodeError): void {
    this.engine.delivering = false;
    this.engine.failure = failure;
    this.#scheduler?.stop();
    this.recorder.abandonGroup(failure);
  }
}
