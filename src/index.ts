/**
 * nvrelay: persistent and reliable delivery of event messages over NVRAM.
 * The public surface: boot a node on a device, register recipients, emit, confirm.
 */
export { Node } from './node/node.js';
export type {
  NodeOptions,
  NodePhase,
  NodeStats,
  NodeCounters,
  RecipientOptions,
  RecoveryReport,
  Subscription,
} from './node/node.js';
export { Producer } from './node/producer.js';
export {
  formatNode,
  nodeLayout,
  nodeGeometry,
  readNodeGeometry,
  sectionNames,
} from './node/layout.js';
export type { NodeGeometry, NodeLayout, NodeLimits } from './node/layout.js';
export { inspectNode } from './node/inspect.js';
export type { NodeInspection, FifoInspection } from './node/inspect.js';
export { Recipient } from './engine/recipient.js';
export type { RecipientHandler, RetryPolicy } from './engine/recipient.js';
export { EventView } from './engine/event-view.js';
export type { EventCopy } from './engine/event-view.js';
export { DistributionEngine } from './engine/distribution-engine.js';
export type { Clock, EngineCounters } from './engine/distribution-engine.js';
export type { DeadLetter, DeadLetterReason } from './engine/dead-letter.js';
export { PersistentFifo, SlotVerdict, slotVerdictNames } from './fifo/fifo.js';
export type { FifoRecovery } from './fifo/fifo.js';
export { ReplayEngine } from './replay/replay-engine.js';
export type { ReplayPlan, ReplayItem, RecoveryEvent } from './replay/replay-engine.js';
export { NodeError, QueueFull } from './events/errors.js';
export type { NodeErrorCode } from './events/errors.js';
export { severityNames, severityLevel } from './events/severity.js';
export type { Severity, SeverityName } from './events/severity.js';
export { decodeRecord, checkRecord, RecordVerdict } from './events/record.js';
export type { EventRecord } from './events/record.js';
export { formatOrigin, originHopsMax } from './events/origin.js';
export type { OriginHop } from './events/origin.js';
export { Multiplexer, custodianName } from './mux/multiplexer.js';
export type { MultiplexerCounters, MultiplexerOptions } from './mux/multiplexer.js';
export { UpstreamLink } from './mux/upstream-link.js';
export type { RelayMode, RelayedEvent, UpstreamConfirmer } from './mux/upstream-link.js';
export * from './nvram/index.js';
export { openNodeDevice, formatNodeDevice } from './node/device-file.js';
export type { NodeDeviceOptions, OpenedNodeDevice } from './node/device-file.js';
