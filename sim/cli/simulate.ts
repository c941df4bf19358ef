/**
 * What `nvrelay simulate ha` does (cli/simulate.ts only parses the command line and loads this
 * module when the command runs): runs seeds of the HA pair simulation (sim/ha), prints each
 * failing seed with its violation and the command that replays it exactly, and a summary line.
 * Exit codes: 0 no invariant broken, 1 a violation, 2 bad usage (an unknown mutant).
 */
import type { PersistencyModel } from '../../src/nvram/index.js';
import { haMutant, haMutants } from '../mutants/ha-mutants.js';
import { replayCommand, simulateSeeds, type SimulateOptions } from '../ha/simulate.js';
import type { Terminal } from './crashtest.js';

export interface SimulateArgs {
  target: string;
  /** The first seed (with `seeds` unset: that seed alone). */
  seed?: number;
  seeds?: number;
  events: number;
  model: PersistencyModel;
  mutant?: string;
  json: boolean;
}

export const simulateTargets = ['ha'] as const;
const imagesPerCut = 4;
/** Failing seeds printed in full (all are counted). */
const failuresShown = 5;

export async function runSimulate(args: SimulateArgs, terminal: Terminal): Promise<number> {
  const mutant = args.mutant === undefined ? undefined : haMutant(args.mutant);
  if (args.mutant !== undefined && mutant === undefined) {
    const known = haMutants.map((m) => m.name).join(', ');
    terminal.err(`nvrelay simulate: unknown mutant "${args.mutant}" (known: ${known})`);
    return 2;
  }
  const options: SimulateOptions = {
    first: args.seed ?? 1,
    seeds: args.seeds ?? (args.seed === undefined ? 100 : 1),
    events: args.events,
    model: args.model,
    imagesPerCut,
    ...(mutant === undefined ? {} : { protocol: mutant.protocol, mutant: mutant.name }),
  };
  let shown = 0;
  const outcomes = await simulateSeeds(options, (outcome) => {
    if (args.json || outcome.findings.length === 0 || shown++ >= failuresShown) return;
    const first = outcome.findings[0];
    terminal.out(`seed ${outcome.seed}: ${first?.invariant}: ${first?.message}`);
    if (outcome.findings.length > 1)
      terminal.out(`  (${outcome.findings.length - 1} more findings in this seed)`);
    terminal.out(`  replay: ${replayCommand(outcome.seed, options)}`);
  });
  const failing = outcomes.filter((outcome) => outcome.findings.length > 0);
  const totals = { deliveries: 0, redeliveries: 0, acked: 0, framesLost: 0 };
  const faults: Record<string, number> = {};
  for (const outcome of outcomes) {
    totals.deliveries += outcome.deliveries;
    totals.redeliveries += outcome.redeliveries;
    totals.acked += outcome.acked;
    totals.framesLost += outcome.framesLost;
    for (const [what, n] of Object.entries(outcome.faults)) faults[what] = (faults[what] ?? 0) + n;
  }
  const invariants: Record<string, number> = {};
  for (const outcome of failing)
    for (const finding of outcome.findings)
      invariants[finding.invariant] = (invariants[finding.invariant] ?? 0) + 1;
  if (args.json) {
    terminal.out(
      JSON.stringify({
        target: args.target,
        model: args.model,
        events: args.events,
        mutant: options.mutant ?? null,
        seeds: outcomes.length,
        firstSeed: options.first,
        failingSeeds: failing.map((outcome) => ({
          seed: outcome.seed,
          invariant: outcome.findings[0]?.invariant,
          message: outcome.findings[0]?.message,
          replay: replayCommand(outcome.seed, options),
        })),
        invariants,
        ...totals,
        faults,
      }),
    );
  } else {
    const faultText = Object.entries(faults)
      .map(([what, n]) => `${n} ${what}`)
      .join(', ');
    terminal.out(
      `${outcomes.length} seeds (${options.first}..${options.first + outcomes.length - 1}), ` +
        `${failing.length} failing; ${totals.acked} emits acknowledged, ${totals.deliveries} deliveries, ` +
        `${totals.redeliveries} redeliveries after faults; faults: ${faultText || 'none'}`,
    );
  }
  return failing.length > 0 ? 1 : 0;
}
