/**
 * Seeded simulation of the HA pair [193] (`nvrelay simulate ha`): runs seeds one after the
 * other (./ha-run.ts), checks each history (./ha-check.ts), and says which seed broke which
 * invariant, with the command line that replays exactly that run.
 */
import type { PersistencyModel } from '../../src/nvram/index.js';
import type { Finding } from '../subject.js';
import { checkHa, type HaMark } from './ha-check.js';
import { HaRun } from './ha-run.js';
import type { PairProtocol } from './pair-protocol.js';

export interface SimulateOptions {
  /** The first seed, and how many seeds from it. */
  first: number;
  seeds: number;
  events: number;
  model: PersistencyModel;
  imagesPerCut: number;
  /** A mutant's protocol, and its name (for the replay command). */
  protocol?: PairProtocol;
  mutant?: string;
}

export interface SeedOutcome {
  seed: number;
  findings: Finding[];
  deliveries: number;
  redeliveries: number;
  acked: number;
  /** Faults by kind (cut, fenced, nvram-lost, takeover of X, giveback, ...). */
  faults: Record<string, number>;
  framesLost: number;
  /** The run's marks, one JSON text (two runs of a seed give the same). */
  history: string;
}

export async function simulateSeed(seed: number, options: SimulateOptions): Promise<SeedOutcome> {
  const run = new HaRun({
    seed,
    events: options.events,
    model: options.model,
    imagesPerCut: options.imagesPerCut,
    ...(options.protocol === undefined ? {} : { protocol: options.protocol }),
  });
  const result = await run.run();
  const verdict = checkHa(result.marks, result.grants);
  const findings = [...verdict.findings];
  if (result.leftDown > 0 && findings.length === 0)
    findings.push({
      invariant: 'liveness',
      message: `${result.leftDown} node(s) still down once faults stopped`,
    });
  return {
    seed,
    findings,
    deliveries: verdict.deliveries,
    redeliveries: verdict.redeliveries,
    acked: verdict.acked,
    faults: faultCounts(result.marks),
    framesLost: result.framesLost,
    history: JSON.stringify(result.marks),
  };
}

/** Runs every seed; `onSeed` hears each outcome as it comes. */
export async function simulateSeeds(
  options: SimulateOptions,
  onSeed: (outcome: SeedOutcome) => void = () => {},
): Promise<SeedOutcome[]> {
  const outcomes: SeedOutcome[] = [];
  for (let seed = options.first; seed < options.first + options.seeds; seed++) {
    const outcome = await simulateSeed(seed, options);
    outcomes.push(outcome);
    onSeed(outcome);
  }
  return outcomes;
}

/** The command line that replays one seed exactly. */
export function replayCommand(seed: number, options: SimulateOptions): string {
  const mutant = options.mutant === undefined ? '' : ` --mutant ${options.mutant}`;
  return `nvrelay simulate ha --seed ${seed} --events ${options.events} --model ${options.model}${mutant}`;
}

function faultCounts(marks: readonly HaMark[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const mark of marks) {
    const what = mark.kind === 'fault' ? mark.what.replace(/ of [AB]$/, '') : mark.kind;
    if (mark.kind === 'fault' || mark.kind === 'giveback') counts[what] = (counts[what] ?? 0) + 1;
  }
  return counts;
}
