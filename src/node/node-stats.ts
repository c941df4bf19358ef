/** `Node.stats()`: counters, pools, FIFOs and recipients, for operators and tests. */
import type { EngineCounters } from '../engine/distribution-engine.js';
import type { PersistentFifo } from '../fifo/fifo.js';
import type { Node } from './node.js';

export type NodePhase = 'booting' | 'running' | 'failed' | 'closed';

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
  /** Refused emits by syslog level (index 0..7). */
  rejectedByLevel: { queueFull: number[]; tooLarge: number[] };
}

/** Counters, pools, FIFOs and recipients (allocates; not for the hot path). */
export function nodeStats(node: Node, phase: NodePhase, seqNext: number): NodeStats {
  return {
    phase,
    seqNext,
    fifos: node.fifos.map((fifo) => ({
      name: fifo.name,
      head: fifo.head,
      tail: fifo.tail,
      pending: fifo.pending(),
      slotCount: fifo.slotCount,
      oldestPendingTime: oldestPendingTime(fifo),
    })),
    pools: [node.bootPool, node.runtimePool].map((pool) => ({
      name: pool.name,
      capacity: pool.capacity,
      used: pool.used(),
      urgentReserve: pool.urgentReserve,
      rejected: pool.rejected,
      rejectedByReserve: pool.rejectedByReserve,
    })),
    queue: { length: node.queue.length(), capacity: node.queue.capacity },
    recipients: recipientStats(node),
    deadLetters: {
      held: node.deadLetters.held(),
      damaged: node.deadLetters.damaged(),
      capacity: node.deadLetters.entryCount,
    },
    counters: { ...node.counters },
    rejectedByLevel: {
      queueFull: Array.from(node.rejectedByLevel.queueFull),
      tooLarge: Array.from(node.rejectedByLevel.tooLarge),
    },
  };
}

function oldestPendingTime(fifo: PersistentFifo): number | null {
  if (fifo.pending() === 0 || !fifo.isExamined(fifo.head)) return null;
  return fifo.shadowView.getFloat64(fifo.slotBase(fifo.head) + 32, true);
}

function recipientStats(node: Node): NodeStats['recipients'] {
  const rows: NodeStats['recipients'] = [];
  node.recipientTable.names.forEach((name, id) => {
    if (name === null) return;
    const recipient = node.engine.recipients[id];
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
