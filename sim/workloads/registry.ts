/**
 * The named workloads of `nvrelay crashtest --workload NAME`. A crash plan names its workload
 * and parameters, so every workload here must be rebuildable from (name, params) alone, on any
 * machine and in any worker process.
 */
import { logCrashSpec } from '../../examples/log-crash-spec.js';
import { MissingFenceLog } from '../../examples/persistent-log-missing-fence.js';
import { PersistentLog } from '../../examples/persistent-log.js';
import { subjectOf } from '../harness/crash-test.js';
import { eventMutants } from '../mutants/event-mutants.js';
import { deadLetterOptions, deadLetterSubject } from './dead-letters.js';
import { eventOptions, eventSubject } from './events.js';
import type { WorkloadParams } from '../plan.js';
import { Prng } from '../prng.js';
import type { CrashSubject } from '../subject.js';
import type { ClusterWorkload } from '../cluster/explore-cluster.js';
import { muxMutants } from '../mutants/mux-mutants.js';
import { haMirrorSubject, haMirrorUpdates } from './ha-mirror.js';

export interface WorkloadEntry {
  name: string;
  description: string;
  /** Parameters the workload takes, with their defaults (seed is always one). */
  defaults: WorkloadParams;
  create(params: WorkloadParams): CrashSubject<unknown, unknown>;
  /** A workload of several devices (sim/cluster): explored by exploreCluster instead. */
  cluster?: (params: WorkloadParams) => ClusterWorkload;
}

/** A cluster workload asked for as a single-device subject. */
export class ClusterWorkloadError extends Error {
  readonly code = 'CRASH_CLUSTER_WORKLOAD';
  constructor(name: string) {
    super(`"${name}" is a workload of several devices: it has no single-device crash subject`);
    this.name = 'ClusterWorkloadError';
  }
}

export class UnknownWorkloadError extends Error {
  readonly code = 'CRASH_UNKNOWN_WORKLOAD';
  constructor(name: string) {
    super(`unknown workload "${name}" (known: ${[...registry.keys()].join(', ')})`);
    this.name = 'UnknownWorkloadError';
  }
}

const registry = new Map<string, WorkloadEntry>();

export function registerWorkload(entry: WorkloadEntry): void {
  registry.set(entry.name, entry);
}

export function workloadNames(): string[] {
  return [...registry.keys()];
}

export function workloadEntry(name: string): WorkloadEntry {
  const entry = registry.get(name);
  if (entry === undefined) throw new UnknownWorkloadError(name);
  return entry;
}

/** The full parameters and the cluster workload, if `name` is one of several devices. */
export function clusterWorkload(
  name: string,
  given: WorkloadParams = {},
): { params: WorkloadParams; workload: ClusterWorkload } | null {
  const entry = workloadEntry(name);
  if (entry.cluster === undefined) return null;
  const params = { ...entry.defaults, ...given };
  return { params, workload: entry.cluster(params) };
}

/** The full parameters (defaults filled in) and the subject they build. */
export function workloadSubject(
  name: string,
  given: WorkloadParams = {},
): { params: WorkloadParams; subject: CrashSubject<unknown, unknown> } {
  const entry = workloadEntry(name);
  const params = { ...entry.defaults, ...given };
  return { params, subject: entry.create(params) };
}

function numberParam(params: WorkloadParams, name: string): number {
  const value = params[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(
      `workload parameter ${name} must be a non-negative integer, got ${String(value)}`,
    );
  }
  return value;
}

/** Seeded values for the log examples. */
function logValues(params: WorkloadParams): number[] {
  const prng = new Prng(numberParam(params, 'seed'));
  return Array.from({ length: numberParam(params, 'appends') }, () => 1 + prng.below(1_000_000));
}

registerWorkload({
  name: 'log',
  description: 'the example persistent log (examples/persistent-log.ts): seeded appends',
  defaults: { seed: 1, appends: 16 },
  create: (params) =>
    subjectOf(logCrashSpec(PersistentLog, 'log'), logValues(params)) as CrashSubject,
});

registerWorkload({
  name: 'log-missing-fence',
  description: 'the example log with one fence missing (must fail)',
  defaults: { seed: 1, appends: 16 },
  create: (params) =>
    subjectOf(
      logCrashSpec(MissingFenceLog, 'log-missing-fence'),
      logValues(params),
    ) as CrashSubject,
});

registerWorkload({
  name: 'ha',
  description:
    "an HA pair's partner mirror applying a node's updates (persist order H): no acknowledged event lost",
  defaults: { seed: 1, events: 30 },
  create: (params) =>
    haMirrorSubject(
      haMirrorUpdates(numberParam(params, 'seed'), numberParam(params, 'events')),
    ) as CrashSubject,
});

registerWorkload({
  name: 'events',
  description:
    'an nvrelay node: boot-pool and runtime emits, four recipients with faults, SPEC 4 checked',
  defaults: { seed: 1, events: 40, bootEvents: 3 },
  create: (params) => eventSubject(eventOptions(params, 'events')) as CrashSubject,
});

registerWorkload({
  name: 'events-small',
  description: 'the events workload with few events (for comparing pruned and unpruned runs)',
  defaults: { seed: 1, events: 6, bootEvents: 1 },
  create: (params) => eventSubject(eventOptions(params, 'events-small')) as CrashSubject,
});

registerWorkload({
  name: 'events-pipelined',
  description:
    'the events workload with pipelined group commit: fences issued, events emitted, then completed',
  defaults: { seed: 1, events: 40, bootEvents: 3, pipelined: 1 },
  create: (params) => eventSubject(eventOptions(params, 'events-pipelined')) as CrashSubject,
});

const deadLetterDefaults = { seed: 1, events: 6, attemptsMax: 2, deferredFence: 1 };

registerWorkload({
  name: 'dead-letters',
  description:
    'an nvrelay node whose sink never confirms: retries exhausted, dead-lettered, re-delivered by an operator, confirmed',
  defaults: deadLetterDefaults,
  create: (params) => deadLetterSubject(deadLetterOptions(params, 'dead-letters')) as CrashSubject,
});

/** The mutants' workload: small, but with a late confirmer, boot-pool events and wrap-around. */
const mutantDefaults = { seed: 1, events: 10, bootEvents: 1 };

for (const mutant of eventMutants) {
  if (mutant.workload === 'dead-letters') {
    registerWorkload({
      name: mutant.name,
      description: `${mutant.description} (must fail)`,
      defaults: deadLetterDefaults,
      create: (params) =>
        deadLetterSubject({
          ...deadLetterOptions(params, mutant.name),
          variant: mutant.variant,
        }) as CrashSubject,
    });
    continue;
  }
  registerWorkload({
    name: mutant.name,
    description: `${mutant.description} (must fail)`,
    defaults:
      mutant.workload === 'events-pipelined' ? { ...mutantDefaults, pipelined: 1 } : mutantDefaults,
    create: (params) =>
      eventSubject({
        ...eventOptions(params, mutant.name),
        variant: mutant.variant,
      }) as CrashSubject,
  });
}

/** The multiplexing recipient across three devices (sim/cluster): origin -> mux -> mux. */
const muxDefaults = { seed: 1, events: 12 };

function clusterEntry(
  name: string,
  description: string,
  Multiplexer?: (typeof muxMutants)[number]['Multiplexer'],
): WorkloadEntry {
  return {
    name,
    description,
    defaults: muxDefaults,
    create: () => {
      throw new ClusterWorkloadError(name);
    },
    cluster: (params) => ({
      name,
      run: {
        seed: numberParam(params, 'seed'),
        events: numberParam(params, 'events'),
        ...(Multiplexer === undefined ? {} : { Multiplexer }),
      },
    }),
  };
}

registerWorkload(
  clusterEntry(
    'mux',
    'three nodes on three devices: an origin, a custody mux of it, an end-to-end mux of that; every device cut in turn, frames lost, SPEC 4 checked end to end',
  ),
);
for (const mutant of muxMutants)
  registerWorkload(
    clusterEntry(mutant.name, `${mutant.description} (must fail)`, mutant.Multiplexer),
  );
