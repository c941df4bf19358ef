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
 * replayed ones are delivered first), 'closed'.
 *
 * Scheduling: 'auto' (default) drains on the event loop (one reused setImmediate callback per
 * burst, one timer for retries); 'manual' leaves it to the caller (`drain()`), for tests and
 * the crash lab, where a power cut must surface in the caller's stack.
 */
import { inFlightMaxDefault, producersMax, seqLeaseStep, seqMax } from '../constants.js';
import { DeadLetterStore, type DeadLetter } from '../engine/dead-letter.js';
import { ClockCell, type Clock } from '../engine/clock.js';
import { DistributionEngine, type EngineCounters } from '../engine/distribution-engine.js';
import { EventIndicationQueue } from '../engine/indication-queue.js';
import { Recipient, type RecipientHandler, type RetryPolicy } from '../engine/recipient.js';
import { RecipientTable } from '../engine/recipient-table.js';
import { NameTable, TypeTable } from '../engine/subscriptions.js';
import { assert } from '../events/assert.js';
import { NodeError, QueueFull, badArgument } from '../events/errors.js';
import { encodeName } from '../events/names.js';
import { recordFlagRedelivery, writeRecord } from '../events/record.js';
import { severityLevel } from '../events/severity.js';
import { PersistentFifo, slotVerdictNames } from '../fifo/fifo.js';
import type { NvramDevice } from '../nvram/device.js';
import { EventPool, indicationQueueCapacity } from '../pools/pool.js';
import { ReplayEngine, type RecoveryEvent } from '../replay/replay-engine.js';
import {
  deadLetterGeometry,
  fifoGeometry,
  leaseOffset,
  readNodeGeometry,
  sectionNames,
  type NodeGeometry,
} from './layout.js';
import { GroupCommit } from './group-commit.js';
import {
  checkOptions,
  inFlightMax,
  resolveSubscription,
  retryPolicy,
  type NodeOptions,
  type RecipientOptions,
  type Subscription,
} from './options.js';
import { Producer } from './producer.js';

export type { NodeOptions, RecipientOptions, Subscription } from './options.js';

export type NodePhase = 'booting' | 'running' | 'closed';

export interface NodeCounters extends EngineCounters {
  emitted: number;
  /** Producers' emits refused with QueueFull (recovery's own: recoveryEventsRejected). */
  rejectedQueueFull: number;
  rejectedTooLarge: number;
  replayed: number;
  discarded: number;
  /** Recovery events that could not be recorded (boot pool full); see `recovery`. */
  recoveryEventsRejected: number;
}

export interface NodeStats {
  phase: NodePhase;
  seqNext: number;
  fifos: {
    name: string;
    head: number;
    tail: number;
    pending: number;
    slotCount: number;
    oldestPendingTime: number | null;
  }[];
  pools: {
    name: string;
    capacity: number;
    used: number;
    urgentReserve: number;
    rejected: number;
    rejectedByReserve: number;
  }[];
  queue: { length: number; capacity: number };
  recipients: {
    id: number;
    name: string;
    registered: boolean;
    delivered: number;
    redelivered: number;
    confirmed: number;
    inFlight: number;
    deadLettered: number;
    confirmsIgnored: number;
    handlerErrors: number;
  }[];
  deadLetters: { held: number; damaged: number; capacity: number };
  counters: NodeCounters;
}

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
  recovery: RecoveryReport = { replayed: 0, discarded: 0, events: [] };
  readonly counters: NodeCounters;

  #phase: NodePhase = 'booting';
  readonly #controlOffset: number;
  #seqNext = 1;
  #seqLease = 1;
  readonly #retry: RetryPolicy;
  readonly #inFlightMax: number;
  readonly #producers = new Map<string, Producer>();
  // Group commit (emitAsync): reserved positions [group.from, fifo.reserved) of one FIFO.
  #group: GroupCommit | null = null;
  #groupScheduled = false;
  readonly #groupCallback = (): void => this.#commitScheduledGroup();
  // Auto scheduling: one reused callback for drains, one timer for retries.
  #drainScheduled = false;
  #drainImmediate: NodeJS.Immediate | null = null;
  readonly #drainCallback = (): void => this.#drainNow();
  // Discarded recovered records not reported yet, by FIFO name (row R2).
  readonly #discards = new Map<
    string,
    { count: number; reasons: Record<string, number>; positions: number[] }
  >();
  #fenceScheduled = false;
  readonly #fenceCallback = (): void => this.#fenceNow();
  #timer: NodeJS.Timeout | null = null;
  #timerDeadline = Infinity;

  /** Recovers the node on `device` [231] and returns it in the 'booting' phase. */
  static boot(device: NvramDevice, options: NodeOptions = {}): Node {
    checkOptions(options);
    const node = new Node(device, readNodeGeometry(device), options);
    node.#recover();
    return node;
  }

  protected constructor(device: NvramDevice, geometry: NodeGeometry, options: NodeOptions) {
    this.device = device;
    this.geometry = geometry;
    this.time = new ClockCell(options.clock);
    this.clock = this.time.clock;
    this.scheduling = options.scheduling ?? 'auto';
    this.#retry = retryPolicy(options.retry, undefined);
    this.#inFlightMax = inFlightMax(options.inFlightMax, inFlightMaxDefault);
    this.#controlOffset = device.section(sectionNames.control).offset;
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
    this.engine.onConfirmed = () => this.#scheduleDrain();
    this.engine.onDiscard = (fifo, position, verdict) => this.#noteDiscard(fifo, position, verdict);
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
  }

  get phase(): NodePhase {
    return this.#phase;
  }

  /**
   * Boot steps 231-232: tables, dead letters, FIFO pointers, lease; the replay is queued here
   * (records are examined as the engine reaches them, see ReplayEngine.recover).
   */
  #recover(): void {
    this.recipientTable.load();
    const deadLetters = this.deadLetters.recover();
    const plan = this.replay.recover();
    const events = this.replay.recoveryEvents();
    if (deadLetters.damaged > 0) {
      events.push({
        type: 'nvrelay.deadletter.damaged',
        severity: 'err',
        details: { section: this.deadLetters.name, damaged: deadLetters.damaged },
      });
    }
    this.#guardDamagedRecipients(plan.published, events);
    const leaseEvent = this.#renewLease();
    if (leaseEvent !== null) events.push(leaseEvent);
    const replayed = this.replay.admit('boot');
    this.recovery = { replayed: plan.published, discarded: 0, events };
    this.counters.replayed = replayed;
  }

  /**
   * A damaged recipient entry may be named by a pending event (its id was in use), which only
   * examining that event would tell; so while events are pending at boot, damaged ids are not
   * handed out again this boot, and are reported. With nothing pending they are reused.
   */
  #guardDamagedRecipients(published: number, events: RecoveryEvent[]): void {
    if (published === 0) return;
    const damaged: number[] = [];
    this.recipientTable.states.forEach((state, id) => {
      if (state !== 'damaged') return;
      this.recipientTable.quarantine(id);
      damaged.push(id);
    });
    if (damaged.length === 0) return;
    events.push({
      type: 'nvrelay.recipient.damaged',
      severity: 'crit',
      details: { section: this.recipientTable.sectionName, ids: damaged },
    });
  }

  /**
   * SPEC 4.5: reserve the next seqLeaseStep numbers durably before using any of them. Every
   * seq issued before is below the stored lease; only a damaged lease (row L1) needs a scan.
   */
  #renewLease(): RecoveryEvent | null {
    const stored = this.device.loadU64(this.#controlOffset + leaseOffset);
    const valid = Number.isSafeInteger(stored) && stored >= 1 && stored <= seqMax;
    const seen = valid ? 0 : this.#seqHighestSeen();
    this.#seqNext = valid ? stored : seen + 1;
    this.#extendLease();
    if (valid) return null;
    return {
      type: 'nvrelay.lease.repaired',
      severity: 'crit',
      details: { stored: String(stored), seqSeen: seen },
    };
  }

  /**
   * Row L1: the highest seq the device still shows: pending and retired records in every FIFO
   * slot, and dead letters. Reads every slot (only when the lease word is damaged).
   */
  #seqHighestSeen(): number {
    const deadLetterSeqs = this.deadLetters.list().map((letter) => letter.seq);
    const slotSeqs = this.fifos.map((fifo) => fifo.highestSeqInSlots());
    return Math.max(this.replay.seqHighest(), ...deadLetterSeqs, ...slotSeqs);
  }

  #extendLease(): void {
    const lease = this.#seqNext + seqLeaseStep;
    assert(lease <= seqMax + seqLeaseStep, 'sequence numbers exhausted');
    this.device.storeU64(this.#controlOffset + leaseOffset, lease);
    this.device.persist(this.#controlOffset + leaseOffset, 8);
    this.#seqLease = lease;
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
    this.#checkOpen('registerRecipient');
    if (typeof handler !== 'function') badArgument('handler must be a function');
    encodeName('recipient', name);
    const known = this.recipientTable.find(name);
    if (known >= 0 && this.engine.recipients[known] !== undefined) {
      badArgument(`recipient '${name}' is already registered`);
    }
    const resolved = resolveSubscription(subscription);
    const id = this.recipientTable.register(name);
    const recipient = new Recipient(
      this.engine,
      id,
      name,
      resolved,
      handler,
      retryPolicy(options.retry, this.#retry),
      inFlightMax(options.inFlightMax, this.#inFlightMax),
    );
    this.engine.activate(recipient);
    this.types.resolveAll();
    this.#scheduleDrain();
    return recipient;
  }

  /** The producer handle for a system element (one per name). */
  producer(name: string): Producer {
    this.#checkOpen('producer');
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
    if (this.#group !== null) this.#commitGroup(); // keep publish order = seq order
    const fifo = this.fifos[fifoIndex] as PersistentFifo;
    const position = fifo.reserve();
    const seq = this.#encode(fifo, position, sourceId, typeId, level, details, 0, 0, -1);
    fifo.commitAppend(position); // step 213: the record persisted (publishes it), then the tail hint
    this.#enqueue(fifoIndex, position, seq, typeId, sourceId);
    return seq;
  }

  /** @internal Producer.emitAsync: group commit. */
  emitEventAsync(
    sourceId: number,
    typeId: number,
    level: number,
    details: Uint8Array | null,
  ): Promise<number> {
    const fifoIndex = this.#admit(level, details);
    const fifo = this.fifos[fifoIndex] as PersistentFifo;
    if (this.#group === null) this.#group = new GroupCommit(fifoIndex, fifo.reserved);
    const group = this.#group;
    assert(group.fifoIndex === fifoIndex, 'group commit spans two FIFOs');
    const position = fifo.reserve();
    const seq = this.#encode(fifo, position, sourceId, typeId, level, details, 0, 0, -1);
    fifo.writeRecord(position); // stored and flushed; the group's one fence makes it durable
    group.add(seq, typeId, sourceId);
    if (!this.#groupScheduled && this.scheduling === 'auto') {
      this.#groupScheduled = true;
      setImmediate(this.#groupCallback);
    }
    return group.promise.then(() => seq);
  }

  /** Pool admission [212]: the FIFO index to record in, or a typed error (counted). */
  #admit(level: number, details: Uint8Array | null): number {
    if (this.#phase === 'closed') this.#checkOpen('emit');
    if (details !== null && details.length > this.geometry.detailsBytesMax) {
      this.counters.rejectedTooLarge++;
      throw new NodeError(
        'EVENT_TOO_LARGE',
        `nvrelay: details of ${details.length} bytes exceed detailsBytesMax ${this.geometry.detailsBytesMax}`,
      );
    }
    const pool = this.#pool();
    if (!this.#poolFits(level)) {
      pool.refuse();
      this.counters.rejectedQueueFull++;
      throw new QueueFull(
        pool.name,
        `nvrelay: the ${pool.name} pool is full (${pool.used()} of ${pool.capacity} slots taken, ` +
          `${pool.urgentReserve} reserved for err or worse)`,
      );
    }
    return this.#phase === 'running' ? runtimeFifoIndex : bootFifoIndex;
  }

  /** Step 212: the record in the slot's shadow; returns its seq. `intended` -1: by subscription. */
  #encode(
    fifo: PersistentFifo,
    position: number,
    sourceId: number,
    typeId: number,
    level: number,
    details: Uint8Array | null,
    flags: number,
    originalSeq: number,
    intendedRecipient: number,
  ): number {
    if (this.#seqNext >= this.#seqLease) this.#extendLease();
    const seq = this.#seqNext++;
    let low = this.types.masksLo[typeId * 8 + level] as number;
    let high = this.types.masksHi[typeId * 8 + level] as number;
    if (intendedRecipient >= 0) {
      low = intendedRecipient < 32 ? 1 << intendedRecipient : 0;
      high = intendedRecipient < 32 ? 0 : 1 << (intendedRecipient - 32);
    }
    const base = fifo.slotBase(position);
    this.#stampTime(fifo.shadowView, base);
    writeRecord(
      fifo.buffer,
      base,
      position,
      seq,
      level,
      flags,
      low,
      high,
      originalSeq,
      this.sources.bytes[sourceId] as Uint8Array,
      this.types.bytes[typeId] as Uint8Array,
      details,
    );
    return seq;
  }

  /** [111] The time the event was recognised, written into the record (offset 32). */
  #stampTime(view: DataView, base: number): void {
    this.time.read();
    view.setFloat64(base + 32, this.time.cell[0] as number, true);
  }

  /** Step 214: the published event enters the indication queue. */
  #enqueue(
    fifoIndex: number,
    position: number,
    seq: number,
    typeId: number,
    sourceId: number,
  ): void {
    const fifo = this.fifos[fifoIndex] as PersistentFifo;
    const base = fifo.slotBase(position);
    const low = fifo.shadowView.getInt32(base + 40, true);
    const high = fifo.shadowView.getInt32(base + 44, true);
    this.queue.push(fifoIndex, position, seq, low, high, 0, 0, typeId, sourceId, 0);
    this.counters.emitted++;
    this.#scheduleDrain();
  }

  #commitScheduledGroup(): void {
    this.#groupScheduled = false;
    if (this.#group !== null && this.#phase !== 'closed') this.#commitGroup();
  }

  /** Group commit: one fence for the records (it publishes them), then queue them all. */
  #commitGroup(): void {
    const group = this.#group;
    if (group === null) return;
    this.#group = null;
    const fifo = this.fifos[group.fifoIndex] as PersistentFifo;
    try {
      fifo.commitGroup(group.from + group.count);
    } catch (error) {
      group.reject(error);
      throw error;
    }
    for (let k = 0; k < group.count; k++) {
      this.#enqueue(
        group.fifoIndex,
        group.from + k,
        group.seqs[k] as number,
        group.typeIds[k] as number,
        group.sourceIds[k] as number,
      );
    }
    group.resolve();
  }

  // ---- phases and distribution ----

  /**
   * Initialisation is complete: recovery's own events are recorded (boot pool), the boot pool's
   * events are released into the normal path, and delivery begins: replayed events first.
   */
  start(): void {
    this.#checkOpen('start');
    if (this.#phase !== 'booting')
      throw new NodeError('NODE_STATE', 'nvrelay: start: the node is already running');
    this.#emitRecoveryEvents();
    this.#reportDiscards(true);
    this.#commitGroup();
    this.#phase = 'running';
    this.replay.admit('started');
    this.engine.delivering = true;
    this.#scheduleDrain();
  }

  /** Recovery's findings as events (boot pool); the full report stays in `recovery`. */
  #emitRecoveryEvents(): void {
    this.#raise(this.recovery.events);
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
      system.emit(event.type, event.severity, this.#fitDetails(event.details));
    }
  }

  /** The pool an emit takes now: the boot pool while initialising [130], else the runtime's. */
  #pool(): EventPool {
    return this.#phase === 'running' ? this.runtimePool : this.bootPool;
  }

  /** The pool an emit takes now has a slot for `level`, once retired slots are reclaimed. */
  #poolFits(level: number): boolean {
    const pool = this.#pool();
    if (!pool.fits(level)) this.#persistPointers(); // reclaim slots retired since the last fence
    return pool.fits(level);
  }

  /** The details as JSON, shortened to a few fields, then to nothing, to fit the limit. */
  #fitDetails(details: Record<string, unknown>): Uint8Array | null {
    const encoder = new TextEncoder();
    const short = { section: details['section'], discarded: details['discarded'] };
    for (const candidate of [details, short, { section: details['section'] }]) {
      const bytes = encoder.encode(JSON.stringify(candidate));
      if (bytes.length <= this.geometry.detailsBytesMax) return bytes;
    }
    return null;
  }

  /**
   * One distribution pass (auto scheduling calls it for you): timeouts, deliveries,
   * retirement. When it returns, every confirmation received so far is durable.
   * Returns true if anything was delivered or retired.
   */
  drain(): boolean {
    this.#checkOpen('drain');
    this.#commitGroup();
    const progress = this.engine.drain();
    return this.#reportDiscards() || progress;
  }

  /** Row R2: one discarded record counted (the engine examined it and dropped it). */
  #noteDiscard(fifo: PersistentFifo, position: number, verdict: number): void {
    this.recovery.discarded++;
    this.counters.discarded++;
    let tally = this.#discards.get(fifo.name);
    if (tally === undefined)
      this.#discards.set(fifo.name, (tally = { count: 0, reasons: {}, positions: [] }));
    const reason = slotVerdictNames[verdict] ?? String(verdict);
    tally.count++;
    tally.reasons[reason] = (tally.reasons[reason] ?? 0) + 1;
    if (tally.positions.length < 16) tally.positions.push(position);
  }

  /**
   * Raises `nvrelay.record.discarded` (one per FIFO) for the discards found since the last
   * report; while booting they wait for start (the boot pool). True if it raised any.
   */
  #reportDiscards(starting = false): boolean {
    if (this.#discards.size === 0 || this.#phase === 'closed') return false;
    if (this.#phase === 'booting' && !starting) return false;
    const events: RecoveryEvent[] = [...this.#discards].map(([section, tally]) => ({
      type: 'nvrelay.record.discarded',
      severity: 'err',
      details: {
        section,
        discarded: tally.count,
        reasons: tally.reasons,
        positions: tally.positions,
      },
    }));
    this.#discards.clear();
    this.recovery.events.push(...events);
    this.#raise(events);
    return true;
  }

  /**
   * Publishes an open group commit now (auto scheduling does it on the next turn of the event
   * loop; manual scheduling leaves it to this, or to drain).
   */
  commit(): void {
    this.#checkOpen('commit');
    this.#commitGroup();
  }

  /** Manual scheduling: drains until a pass makes no progress (at most `passesMax` passes). */
  drainUntilIdle(passesMax = 1_000): number {
    let passes = 0;
    while (passes < passesMax && this.drain()) passes++;
    return passes;
  }

  #scheduleDrain(): void {
    if (this.scheduling !== 'auto' || this.#drainScheduled || this.#phase !== 'running') return;
    this.#drainScheduled = true;
    this.#drainImmediate = setImmediate(this.#drainCallback);
  }

  #drainNow(): void {
    this.#drainScheduled = false;
    this.#drainImmediate = null;
    if (this.#phase !== 'running') return;
    this.engine.drain();
    this.#reportDiscards();
    this.#armRetryTimer();
    if (!this.#fenceScheduled && this.engine.confirmationsPending()) {
      this.#fenceScheduled = true;
      setImmediate(this.#fenceCallback);
    }
  }

  /** After the turn: the pass's confirmations durable, unless a group commit's fence did it. */
  #fenceNow(): void {
    this.#fenceScheduled = false;
    if (this.#phase === 'running') this.engine.confirmationsDurable();
  }

  /** One timer for the earliest retry deadline (re-armed only when that deadline changes). */
  #armRetryTimer(): void {
    const deadline = this.engine.nextDeadline();
    if (deadline === this.#timerDeadline) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerDeadline = deadline;
    if (deadline === Infinity) return;
    const delay = Math.max(0, deadline - this.clock.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerDeadline = Infinity;
      this.#drainNow();
    }, delay);
    this.#timer.unref();
  }

  // ---- dead letters (operator) ----

  deadLetterList(): (DeadLetter & { recipient: string })[] {
    this.#checkOpen('deadLetterList');
    return this.deadLetters.list().map((letter) => ({
      ...letter,
      recipient: this.recipientTable.names[letter.recipientId] ?? `#${letter.recipientId}`,
    }));
  }

  /**
   * Re-delivers dead letters (all, or those of one recipient / one seq) as new events to that
   * recipient alone, with `originalSeq` set; each entry is freed once its re-delivery is durable.
   * Returns how many were re-delivered (stops early on QueueFull).
   */
  redeliverDeadLetters(filter: { recipient?: string; seq?: number } = {}): number {
    this.#checkOpen('redeliverDeadLetters');
    if (this.#phase !== 'running')
      throw new NodeError('NODE_STATE', 'nvrelay: redeliver after start()');
    let count = 0;
    for (const letter of this.deadLetterList()) {
      if (filter.recipient !== undefined && letter.recipient !== filter.recipient) continue;
      if (filter.seq !== undefined && letter.seq !== filter.seq) continue;
      const record = letter.record;
      const typeId = this.typeId(record.type);
      const sourceId = this.sources.intern(record.source);
      try {
        this.#admit(record.severity, record.details);
      } catch (error) {
        if (error instanceof QueueFull) break; // the rest stay dead letters, nothing is lost
        throw error;
      }
      if (this.#group !== null) this.#commitGroup();
      const fifo = this.fifos[runtimeFifoIndex] as PersistentFifo;
      const position = fifo.reserve();
      const original = record.originalSeq !== 0 ? record.originalSeq : record.seq;
      const seq = this.#encode(
        fifo,
        position,
        sourceId,
        typeId,
        record.severity,
        record.details,
        recordFlagRedelivery,
        original,
        letter.recipientId,
      );
      fifo.commitAppend(position);
      this.#enqueue(runtimeFifoIndex, position, seq, typeId, sourceId);
      this.deadLetters.remove(letter.index); // after the re-delivery is durable
      count++;
    }
    return count;
  }

  // ---- observation ----

  /** Counters, pools, FIFOs and recipients (allocates; not for the hot path). */
  stats(): NodeStats {
    return {
      phase: this.#phase,
      seqNext: this.#seqNext,
      fifos: this.fifos.map((fifo, index) => ({
        name: fifo.name,
        head: fifo.head,
        tail: fifo.tail,
        pending: fifo.pending(),
        slotCount: fifo.slotCount,
        oldestPendingTime: this.#oldestPendingTime(index),
      })),
      pools: [this.bootPool, this.runtimePool].map((pool) => ({
        name: pool.name,
        capacity: pool.capacity,
        used: pool.used(),
        urgentReserve: pool.urgentReserve,
        rejected: pool.rejected,
        rejectedByReserve: pool.rejectedByReserve,
      })),
      queue: { length: this.queue.length(), capacity: this.queue.capacity },
      recipients: this.#recipientStats(),
      deadLetters: {
        held: this.deadLetters.held(),
        damaged: this.deadLetters.damaged(),
        capacity: this.deadLetters.entryCount,
      },
      counters: { ...this.counters },
    };
  }

  #oldestPendingTime(fifoIndex: number): number | null {
    const fifo = this.fifos[fifoIndex] as PersistentFifo;
    if (fifo.pending() === 0 || !fifo.isExamined(fifo.head)) return null;
    return fifo.shadowView.getFloat64(fifo.slotBase(fifo.head) + 32, true);
  }

  #recipientStats(): NodeStats['recipients'] {
    const rows: NodeStats['recipients'] = [];
    this.recipientTable.names.forEach((name, id) => {
      if (name === null) return;
      const recipient = this.engine.recipients[id];
      rows.push({
        id,
        name,
        registered: recipient !== undefined,
        delivered: recipient?.delivered ?? 0,
        redelivered: recipient?.redelivered ?? 0,
        confirmed: recipient?.confirmed ?? 0,
        inFlight: recipient?.inFlight() ?? 0,
        deadLettered: recipient?.deadLettered ?? 0,
        confirmsIgnored: recipient?.confirmsIgnored ?? 0,
        handlerErrors: recipient?.handlerErrors ?? 0,
      });
    });
    return rows;
  }

  /** True when nothing is queued: every event is completely handled and retired. */
  idle(): boolean {
    return this.queue.length() === 0;
  }

  /**
   * Stops the node: an open group commit is committed first, then timers are cleared. The
   * device stays open (the caller owns it). Idempotent; every other method throws afterwards.
   */
  close(): void {
    if (this.#phase === 'closed') return;
    try {
      this.#commitGroup();
      this.#persistPointers(); // the next boot's scan starts at the tail word (row D4)
    } finally {
      this.#phase = 'closed';
      this.engine.delivering = false;
      if (this.#drainImmediate !== null) clearImmediate(this.#drainImmediate);
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#drainImmediate = null;
      this.#timer = null;
    }
  }

  /** Step 217 now for every FIFO: one fence each, with its confirmations and both pointer words. */
  #persistPointers(): void {
    for (const fifo of this.fifos) fifo.persistPointers();
  }

  #checkOpen(method: string): void {
    if (this.#phase === 'closed')
      throw new NodeError('NODE_CLOSED', `nvrelay: ${method}: the node is closed`);
  }
}
