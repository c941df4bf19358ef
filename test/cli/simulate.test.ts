/**
 * `nvrelay simulate ha` [193] (sim/cli/simulate.ts): the text output prints the first five
 * failing seeds in full (first finding, how many more, the replay command) and a summary line
 * whose totals are the sums over every seed; --json prints one object with the same numbers;
 * the replay command printed for a failing seed runs that seed alone and fails it again; with
 * neither --seed nor --seeds, seeds 1..100 run; an unknown mutant is bad usage (exit 2) and
 * names the known ones. Expected numbers come from sim/ha/simulate.ts run here on the same seeds.
 */
import { describe, expect, test } from 'vitest';
import { runSimulate, type SimulateArgs } from '../../sim/cli/simulate.js';
import { simulateSeeds, type SeedOutcome } from '../../sim/ha/simulate.js';
import { haMutant, haMutants } from '../../sim/mutants/ha-mutants.js';
import { runCli } from './processes.js';

/** Runs the command in this process; what it printed on each stream, and its exit status. */
async function simulate(args: Partial<SimulateArgs>) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runSimulate(
    { target: 'ha', events: 12, model: 'px86', json: false, ...args },
    { out: (text) => out.push(text), err: (text) => err.push(text), tty: false },
  );
  return { status, out, err };
}

function totals(outcomes: SeedOutcome[]) {
  const sum = (pick: (outcome: SeedOutcome) => number) =>
    outcomes.reduce((n, outcome) => n + pick(outcome), 0);
  return {
    acked: sum((outcome) => outcome.acked),
    deliveries: sum((outcome) => outcome.deliveries),
    redeliveries: sum((outcome) => outcome.redeliveries),
    framesLost: sum((outcome) => outcome.framesLost),
  };
}

/** Faults by kind over every seed, in the order they first come. */
function faultSums(outcomes: SeedOutcome[]): Record<string, number> {
  const faults: Record<string, number> = {};
  for (const outcome of outcomes)
    for (const [what, n] of Object.entries(outcome.faults)) faults[what] = (faults[what] ?? 0) + n;
  return faults;
}

const noSelfFence = 'mutant-ha-no-self-fence';

describe('nvrelay simulate ha', () => {
  test('a mutant failing many seeds: the first five in full, every one counted; exit 1', async () => {
    const mutant = haMutant(noSelfFence);
    if (mutant === undefined) throw new Error(`${noSelfFence} is not a mutant`);
    const outcomes = await simulateSeeds({
      first: 1,
      seeds: 12,
      events: 12,
      model: 'px86',
      imagesPerCut: 4,
      protocol: mutant.protocol,
    });
    const failing = outcomes.filter((outcome) => outcome.findings.length > 0);
    expect(failing.length).toBeGreaterThan(5); // else this run shows nothing left out
    const { status, out } = await simulate({ seed: 1, seeds: 12, mutant: noSelfFence });
    expect(status).toBe(1);
    const expected = failing.slice(0, 5).flatMap((outcome) => {
      const [first] = outcome.findings;
      const more = outcome.findings.length - 1;
      return [
        `seed ${outcome.seed}: ${first?.invariant}: ${first?.message}`,
        ...(more > 0 ? [`  (${more} more findings in this seed)`] : []),
        `  replay: nvrelay simulate ha --seed ${outcome.seed} --events 12 --model px86 --mutant ${noSelfFence}`,
      ];
    });
    expect(out.slice(0, -1)).toEqual(expected);
    const sums = totals(outcomes);
    const faults = Object.entries(faultSums(outcomes)).map(([what, n]) => `${n} ${what}`);
    expect(faults.length).toBeGreaterThan(0);
    expect(out.at(-1)).toBe(
      `12 seeds (1..12), ${failing.length} failing; ${sums.acked} emits acknowledged, ` +
        `${sums.deliveries} deliveries, ${sums.redeliveries} redeliveries after faults; ` +
        `faults: ${faults.join(', ')}`,
    );
  });

  test('--json: one object with the seeds, the failing ones with their replay, the sums; no mutant is null', async () => {
    const outcomes = await simulateSeeds({
      first: 3,
      seeds: 4,
      events: 12,
      model: 'px86',
      imagesPerCut: 4,
    });
    const { status, out } = await simulate({ seed: 3, seeds: 4, json: true });
    expect(status).toBe(0);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] ?? '')).toEqual({
      target: 'ha',
      model: 'px86',
      events: 12,
      mutant: null,
      seeds: 4,
      firstSeed: 3,
      failingSeeds: [],
      invariants: {},
      ...totals(outcomes),
      faults: faultSums(outcomes),
    });
  });

  test("a failing seed's replay command, run, fails that seed alone again (exit 1)", async () => {
    const { out } = await simulate({ seed: 1, seeds: 3, mutant: noSelfFence, json: true });
    const summary = JSON.parse(out[0] ?? '') as {
      failingSeeds: { seed: number; invariant: string; message: string; replay: string }[];
      invariants: Record<string, number>;
    };
    expect(Object.keys(summary.invariants)).toContain('fencing');
    const [failing] = summary.failingSeeds;
    if (failing === undefined) throw new Error('no failing seed');
    const replay = failing.replay.split(' ');
    expect(replay.slice(0, 2)).toEqual(['nvrelay', 'simulate']);
    const again = await runCli(replay.slice(1));
    expect(again.status).toBe(1);
    expect(again.stdout.split('\n')[0]).toBe(
      `seed ${failing.seed}: ${failing.invariant}: ${failing.message}`,
    );
    expect(again.stdout).toMatch(
      new RegExp(`^1 seeds \\(${failing.seed}\\.\\.${failing.seed}\\), 1 failing;`, 'm'),
    );
  });

  test('neither --seed nor --seeds: seeds 1..100; with no emits, no faults', async () => {
    const { status, out } = await simulate({ events: 0 });
    expect(status).toBe(0);
    expect(out).toEqual([
      '100 seeds (1..100), 0 failing; 0 emits acknowledged, 0 deliveries, 0 redeliveries after faults; faults: none',
    ]);
  });

  test('an unknown mutant: exit 2, the known ones named, nothing run', async () => {
    const known = haMutants.map((mutant) => mutant.name).join(', ');
    const here = await simulate({ mutant: 'mutant-ha-nope' });
    expect(here).toEqual({
      status: 2,
      out: [],
      err: [`nvrelay simulate: unknown mutant "mutant-ha-nope" (known: ${known})`],
    });
    const child = await runCli(['simulate', 'ha', '--mutant', 'mutant-ha-nope', '--json']);
    expect(child.status).toBe(2);
    expect(child.stdout).toBe('');
    expect(child.stderr).toBe(
      `nvrelay simulate: unknown mutant "mutant-ha-nope" (known: ${known})\n`,
    );
  });
});
