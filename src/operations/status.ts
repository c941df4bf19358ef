/**
 * `/status.json`: the daemon at one instant, for the status page and for scripts. The device,
 * the FIFOs' occupancy, each recipient's state and lag, the dead letters (the latest few, never
 * their event details), the last recovery, the sinks. Read from the same sample as the metrics
 * (./sampler.ts).
 */
import type { Daemon } from '../daemon/daemon.js';
import { severityName } from '../events/severity.js';
import type { NodeGeometry } from '../node/layout.js';
import type { NodePhase } from '../node/node-stats.js';
import type { SinkStatus } from '../sinks/sink-recipient.js';
import type { RecipientSample, Sampler } from './sampler.js';

/** Dead letters listed, newest first. */
export const latestDeadLettersMax = 10;

export interface StatusSnapshot {
  /** When it was taken, ms since the epoch. */
  time: number;
  /** Since the operations endpoint started with the daemon. */
  uptimeSeconds: number;
  node: {
    id: string;
    phase: NodePhase;
    /** Every seq issued so far is below it. */
    seqNext: number;
    emitted: number;
    connections: number;
    rejected: { queueFull: number; tooLarge: number };
  };
  device: {
    path: string;
    id: string;
    durability: string;
    bootCount: number;
    sizeBytes: number;
    geometry: NodeGeometry;
    /** msync calls so far (none in 'process' durability). */
    fences: number;
  };
  fifos: {
    name: string;
    pending: number;
    capacity: number;
    oldestPendingTime: number | null;
  }[];
  queue: { length: number; capacity: number; unexamined: number };
  recipients: (RecipientSample & { oldestAgeSeconds: number | null })[];
  deadLetters: {
    held: number;
    capacity: number;
    damaged: number;
    latest: {
      recipient: string;
      seq: number;
      reason: string;
      /** The refusing recipient's code (reason refused: a sink's HTTP status, RELP code). */
      detail: number;
      attempts: number;
      time: number;
      type: string;
      source: string;
      severity: string;
    }[];
  };
  recovery: {
    replayed: number;
    discarded: number;
    eventsRejected: number;
    events: { type: string; severity: string; details: Record<string, unknown> }[];
  };
  sinks: SinkStatus[];
}

export function statusSnapshot(
  daemon: Daemon,
  sampler: Sampler,
  startedAt: number,
): StatusSnapshot {
  const node = daemon.node;
  const device = daemon.device;
  const { now, stats, recipients, unexamined } = sampler.sample();
  const id = device.header.deviceId.toString(16).padStart(16, '0');
  return {
    time: now,
    uptimeSeconds: Math.max(0, (Date.now() - startedAt) / 1000),
    node: {
      id,
      phase: stats.phase,
      seqNext: stats.seqNext,
      emitted: stats.counters.emitted,
      connections: daemon.connections,
      rejected: {
        queueFull: stats.counters.rejectedQueueFull,
        tooLarge: stats.counters.rejectedTooLarge,
      },
    },
    device: {
      path: device.path,
      id,
      durability: device.durability,
      bootCount: device.header.bootCount,
      sizeBytes: device.sizeBytes,
      geometry: { ...node.geometry },
      fences: device.msyncCount,
    },
    fifos: stats.fifos.map((fifo) => ({
      name: fifo.name,
      pending: fifo.pending,
      capacity: fifo.slotCount,
      oldestPendingTime: fifo.oldestPendingTime,
    })),
    queue: { ...stats.queue, unexamined },
    recipients: recipients.map((row) => ({
      ...row,
      oldestAgeSeconds:
        row.oldestPendingTime === null ? null : Math.max(0, (now - row.oldestPendingTime) / 1000),
    })),
    deadLetters: {
      held: stats.deadLetters.held,
      capacity: stats.deadLetters.capacity,
      damaged: stats.deadLetters.damaged,
      latest: latestDeadLetters(daemon),
    },
    recovery: {
      replayed: node.recovery.replayed,
      discarded: node.recovery.discarded,
      eventsRejected: stats.counters.recoveryEventsRejected,
      events: node.recovery.events.map((event) => ({
        type: event.type,
        severity: event.severity,
        details: event.details,
      })),
    },
    sinks: daemon.sinks.map((sink) => sink.status()),
  };
}

function latestDeadLetters(daemon: Daemon): StatusSnapshot['deadLetters']['latest'] {
  const node = daemon.node;
  // the list reads the node's volatile copy; a closed or failed node refuses (and has no news)
  if (node.phase !== 'running' && node.phase !== 'booting') return [];
  return node
    .deadLetterList()
    .sort((a, b) => b.deadLetteredAt - a.deadLetteredAt || b.seq - a.seq)
    .slice(0, latestDeadLettersMax)
    .map((letter) => ({
      recipient: letter.recipient,
      seq: letter.seq,
      reason: letter.reason,
      detail: letter.detail,
      attempts: letter.attempts,
      time: letter.deadLetteredAt,
      type: letter.record.type,
      source: letter.record.source,
      severity: severityName(letter.record.severity),
    }));
}

/** JSON text of a snapshot; a recovery event's details may hold a bigint. */
export function statusJson(snapshot: StatusSnapshot): string {
  return JSON.stringify(snapshot, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}
