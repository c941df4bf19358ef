/**
 * `nvrelay simulate ha`: a seeded, deterministic simulation of an HA pair [193] (sim/ha). This
 * file only parses the command line; the simulation is sim/ (sim/cli/simulate.ts), loaded with
 * `import()` when the command runs, so the other commands never load the lab.
 *
 *   nvrelay simulate ha [--seeds N] [--seed S] [--events K] [--model px86|relaxed|eadr]
 *                       [--mutant NAME] [--json]
 *
 * `--seed S` alone replays seed S exactly; with `--seeds N`, seeds S..S+N-1 run.
 * Exit 0 when no invariant is broken, 1 when one is, 2 on bad usage.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { SimulateArgs } from '../sim/cli/simulate.js';
import type { PersistencyModel } from '../src/nvram/index.js';
import { integerAtLeast, parseModel } from './arguments.js';

function parseTarget(text: string): string {
  if (text !== 'ha') throw new InvalidArgumentError(`'${text}' is not a simulation (ha)`);
  return text;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description(
      'run seeded simulations of an HA pair: faults injected by the seed, every history checked',
    )
    .argument('<target>', 'what to simulate: ha', parseTarget)
    .option(
      '--seeds <N>',
      'how many seeds to run (default 100, or 1 with --seed)',
      integerAtLeast(1),
    )
    .option('--seed <S>', 'the first seed (alone: replay that seed)', integerAtLeast(0))
    .option('--events <K>', 'emits per run', integerAtLeast(1), 12)
    .option('--model <model>', 'persistency model: px86, relaxed or eadr', parseModel, 'px86')
    .option('--mutant <name>', 'a deliberately broken pair (must fail)')
    .option('--json', 'print one JSON object')
    .action(async (target: string, options: Record<string, unknown>) => {
      const { runSimulate } = await import('../sim/cli/simulate.js');
      const args: SimulateArgs = {
        target,
        events: options['events'] as number,
        model: options['model'] as PersistencyModel,
        json: options['json'] === true,
      };
      if (options['seed'] !== undefined) args.seed = options['seed'] as number;
      if (options['seeds'] !== undefined) args.seeds = options['seeds'] as number;
      if (options['mutant'] !== undefined) args.mutant = options['mutant'] as string;
      process.exitCode = await runSimulate(args, {
        out: (text) => process.stdout.write(`${text}\n`),
        err: (text) => process.stderr.write(`${text}\n`),
        tty: false,
      });
    });
}
