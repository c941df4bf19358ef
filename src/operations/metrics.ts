/**
 * The daemon's Prometheus metrics: one prom-client Registry per operations endpoint. Every value
 * but the two histograms is read from the live objects when a scrape collects it (node stats,
 * recipients, the dead-letter section, the device, the sinks), so nothing here can drift from
 * what the node holds. The histograms are fed by the hooks the engine and the device offer for
 * them (engine.onConfirmLatency, device.onSync), installed here and so only while an endpoint
 * runs; `close` takes them out again.
 *
 * Names follow the Prometheus conventions: `nvrelay_` first, base units (seconds) last, and
 * `_total` on counters. Counters count since the daemon started, but for the device's boot
 * count, which the device header keeps.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Recipient } from '../engine/recipient.js';
import { severityNames } from '../events/severity.js';
import type { Daemon } from '../daemon/daemon.js';
import type { RecipientSample, RecipientState, Sampler } from './sampler.js';

type Labels = Record<string, string>;
type Rows = Iterable<readonly [Labels, number]>;

export interface OperationsMetrics {
  registry: Registry;
  /** Takes the hooks out (the histograms stop growing). */
  close(): void;
}

/** Confirm latencies: from a sink's milliseconds to a remote recipient's minutes of retries. */
const latencyBuckets = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];
/** msync durations: a page cache flush to an NVDIMM or an SSD. */
const fenceBuckets = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

/** Attached, or a sink not known to be failing: an idle sink has sent nothing, not failed. */
function receiving(state: RecipientState): boolean {
  return state === 'attached' || state === 'up' || state === 'starting';
}

export function createMetrics(daemon: Daemon, sampler: Sampler): OperationsMetrics {
  const registry = new Registry();
  const node = daemon.node;
  const device = daemon.device;
  const sample = () => sampler.sample();
  const one = (value: number): Rows => [[{}, value]];

  const gauge = (name: string, help: string, labelNames: string[], rows: () => Rows): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset(); // a recipient or sink gone since the last scrape leaves no stale series
        for (const [labels, value] of rows()) this.set(labels, value);
      },
    });
  };
  const counter = (name: string, help: string, labelNames: string[], rows: () => Rows): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of rows()) this.inc(labels, value);
      },
    });
  };
  const perRecipient = (value: (row: RecipientSample) => number) =>
    function* (): Rows {
      for (const row of sample().recipients) yield [{ recipient: row.name }, value(row)];
    };
  const perSink = (value: (sink: Daemon['sinks'][number]) => number) =>
    function* (): Rows {
      for (const sink of daemon.sinks) yield [{ sink: sink.name }, value(sink)];
    };

  // ---- the node and its device ----
  const nodeId = device.header.deviceId.toString(16).padStart(16, '0');
  gauge(
    'nvrelay_node_info',
    'The node: its device id (16 hex digits) and durability; always 1.',
    ['node', 'durability'],
    () => [[{ node: nodeId, durability: device.durability }, 1]],
  );
  gauge(
    'nvrelay_node_running',
    '1 while the node runs; 0 once it failed (fail-stop: reopen the device) or closed.',
    [],
    () => one(node.phase === 'running' ? 1 : 0),
  );
  const startedAt = Date.now() / 1000;
  gauge(
    'nvrelay_start_time_seconds',
    'When the operations endpoint started with the daemon, seconds since the epoch.',
    [],
    () => one(startedAt),
  );
  counter(
    'nvrelay_device_boots_total',
    "Boots of this device since it was formatted (the device header's boot count).",
    [],
    () => one(device.header.bootCount),
  );
  gauge('nvrelay_connections', 'Live client connections.', [], () => one(daemon.connections));
  counter(
    'nvrelay_events_emitted_total',
    'Events recorded (acknowledged emits, recovery events, relayed events).',
    [],
    () => one(sample().stats.counters.emitted),
  );
  counter(
    'nvrelay_producer_rejected_total',
    'Emits refused: reason queue_full (the pool has no slot for this severity) or too_large ' +
      '(details over detailsBytesMax), by the syslog severity of the refused event.',
    ['reason', 'severity'],
    function* () {
      const { queueFull, tooLarge } = sample().stats.rejectedByLevel;
      for (const [reason, levels] of [
        ['queue_full', queueFull],
        ['too_large', tooLarge],
      ] as const)
        for (let level = 0; level < severityNames.length; level++)
          yield [{ reason, severity: severityNames[level] as string }, levels[level] ?? 0];
    },
  );

  // ---- the last boot's recovery ----
  gauge(
    'nvrelay_recovery_replayed_events',
    'Events the last boot found published and queued for replay.',
    [],
    () => one(node.recovery.replayed),
  );
  gauge(
    'nvrelay_recovery_discarded_events',
    'Damaged records of the last boot dropped, never delivered (counted as they are examined).',
    [],
    () => one(node.recovery.discarded),
  );
  gauge(
    'nvrelay_recovery_events',
    'Events recovery raised (type nvrelay.*) since the last boot; the status page lists them.',
    [],
    () => one(node.recovery.events.length),
  );
  gauge(
    'nvrelay_recovery_events_rejected',
    'Recovery events the boot pool had no slot for (kept in the recovery report only).',
    [],
    () => one(sample().stats.counters.recoveryEventsRejected),
  );

  // ---- recipients (sinks are recipients too) ----
  gauge(
    'nvrelay_recipient_pending_events',
    'Events owed to the recipient: intended for it and neither confirmed nor dead-lettered.',
    ['recipient'],
    perRecipient((row) => row.pending),
  );
  gauge(
    'nvrelay_recipient_in_flight_events',
    'Events delivered to the recipient and awaiting its confirmation.',
    ['recipient'],
    perRecipient((row) => row.inFlight),
  );
  gauge(
    'nvrelay_recipient_oldest_unconfirmed_age_seconds',
    'Age of the oldest event owed to the recipient (since its emit); 0 when none is owed.',
    ['recipient'],
    perRecipient((row) =>
      row.oldestPendingTime === null
        ? 0
        : Math.max(0, (sample().now - row.oldestPendingTime) / 1000),
    ),
  );
  gauge(
    'nvrelay_recipient_attached',
    '1 if the recipient receives now: a remote one with a connection, a sink not down.',
    ['recipient'],
    perRecipient((row) => (receiving(row.state) ? 1 : 0)),
  );
  const recipientCounters = [
    ['delivered', 'First deliveries to the recipient.', (row) => row.delivered],
    ['redelivered', 'Deliveries again after a confirmation timed out.', (row) => row.redelivered],
    ['confirmed', 'Confirmations received from the recipient.', (row) => row.confirmed],
    [
      'dead_lettered',
      'Events dead-lettered for the recipient (its attempts ran out, or it refused them).',
      (row) => row.deadLettered,
    ],
    [
      'confirms_ignored',
      'Confirmations of events not awaiting one (repeated, late, unknown).',
      (row) => row.confirmsIgnored,
    ],
    ['handler_errors', 'Deliveries whose handler threw.', (row) => row.handlerErrors],
  ] as const satisfies readonly (readonly [string, string, (row: RecipientSample) => number])[];
  for (const [name, help, value] of recipientCounters)
    counter(`nvrelay_recipient_${name}_total`, help, ['recipient'], perRecipient(value));
  const latency = new Histogram({
    name: 'nvrelay_recipient_confirm_latency_seconds',
    help: 'From the first delivery of an event to its confirmation, per recipient (confirmations in the window).',
    labelNames: ['recipient'],
    buckets: latencyBuckets,
    registers: [registry],
    collect() {
      // every recipient has its series from the start, so a rate over it needs no special case
      for (const row of sample().recipients) latencyChild(row.name);
    },
  });
  const latencyChildren = new Map<string, Histogram.Internal<string>>();
  const latencyChild = (name: string): Histogram.Internal<string> => {
    let child = latencyChildren.get(name);
    if (child === undefined) {
      latency.zero({ recipient: name });
      child = latency.labels({ recipient: name });
      latencyChildren.set(name, child);
    }
    return child;
  };

  // ---- FIFOs and dead letters ----
  gauge(
    'nvrelay_fifo_pending_events',
    'Slots of the FIFO between head and tail: published and not yet completely handled.',
    ['fifo'],
    () => sample().stats.fifos.map((fifo) => [{ fifo: fifo.name }, fifo.pending] as const),
  );
  gauge('nvrelay_fifo_capacity_events', 'Slots of the FIFO.', ['fifo'], () =>
    sample().stats.fifos.map((fifo) => [{ fifo: fifo.name }, fifo.slotCount] as const),
  );
  gauge(
    'nvrelay_dead_letters_held',
    'Dead letters held in the dead-letter section (until re-delivered).',
    [],
    () => one(sample().stats.deadLetters.held),
  );
  gauge(
    'nvrelay_dead_letters_capacity',
    'Entries of the dead-letter section; when all are held, events due for it stay in flight.',
    [],
    () => one(sample().stats.deadLetters.capacity),
  );
  gauge(
    'nvrelay_dead_letters_damaged',
    'Dead-letter entries that failed their check at boot (left untouched).',
    [],
    () => one(sample().stats.deadLetters.damaged),
  );
  counter(
    'nvrelay_dead_letter_full_total',
    'Dead-letterings that found the section full (the event stayed in flight).',
    [],
    () => one(sample().stats.counters.deadLetterFull),
  );

  // ---- fences ----
  counter(
    'nvrelay_fences_total',
    "msync calls: fences that reached the device (in 'power' durability). In 'process' " +
      'durability a store survives kill -9 without one, so there are none: this stays 0.',
    [],
    () => one(device.msyncCount),
  );
  const fence = new Histogram({
    name: 'nvrelay_fence_duration_seconds',
    help:
      "Duration of each msync. In 'process' durability there is none, so it stays empty " +
      '(count 0).',
    buckets: fenceBuckets,
    registers: [registry],
  });

  // ---- sinks ----
  gauge(
    'nvrelay_sink_up',
    "0 if the sink's last send failed (down: its events wait for their next attempt) or it is " +
      'closed; 1 otherwise (up, or starting: nothing sent yet).',
    ['sink'],
    perSink((sink) => (receiving(sink.state) ? 1 : 0)),
  );
  gauge(
    'nvrelay_sink_queued_events',
    'Events copied by the sink and not yet answered (waiting for a batch, or being sent).',
    ['sink'],
    perSink((sink) => {
      const status = sink.status();
      return status.queued + status.sending;
    }),
  );
  for (const [name, help] of [
    ['sent', 'Events handed to the transport (again after a retry).'],
    ['held', 'Events the next system holds durably (then confirmed).'],
    ['retried', 'Events the transport did not deliver (a transient error): sent again later.'],
    ['refused', 'Events the next system refused for good (dead-lettered).'],
  ] as const)
    counter(
      `nvrelay_sink_${name}_total`,
      help,
      ['sink'],
      perSink((sink) => sink.counters[name]),
    );

  // ---- the hooks, only now that the endpoint is on ----
  const engine = node.engine;
  const previousLatency = engine.onConfirmLatency;
  const onConfirmLatency = (recipient: Recipient, ms: number): void => {
    latencyChild(recipient.name).observe(ms / 1000);
    previousLatency?.(recipient, ms);
  };
  engine.onConfirmLatency = onConfirmLatency;
  const previousSync = device.onSync;
  const onSync = (ms: number): void => {
    fence.observe(ms / 1000);
    previousSync?.(ms);
  };
  device.onSync = onSync;

  return {
    registry,
    close() {
      if (engine.onConfirmLatency === onConfirmLatency) engine.onConfirmLatency = previousLatency;
      if (device.onSync === onSync) device.onSync = previousSync;
    },
  };
}
