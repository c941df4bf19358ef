/**
 * `nvrelay crashtest`: the crash lab on the command line (issue 4). This file only parses
 * and validates the command line; the lab itself is sim/ (sim/cli/crashtest.ts), loaded with
 * `import()` when the command runs, so the other commands never load the lab.
 *
 *   nvrelay crashtest [--workload NAME] [--model px86|relaxed|eadr] [--cuts all|N]
 *                     [--images-per-cut N] [--depth D] [--seed S] [--json] [--report FILE.html]
 *   nvrelay crashtest --replay TOKEN        re-run one crash state and explain it
 *   nvrelay crashtest --spec FILE.js [--replay TOKEN]   a user's crash spec module
 *   nvrelay crashtest --self-test           every mutant must be caught
 *
 * Exit 0 when no invariant is broken, 1 when one is (or a mutant survives), 2 on bad usage.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { CrashtestArgs } from '../sim/cli/crashtest.js';
import type { PersistencyModel } from '../src/nvram/index.js';
import { integerAtLeast, parseModel } from './arguments.js';

const defaultWorkload = 'events';

function parseCuts(text: string): 'all' | number {
  return text === 'all' ? 'all' : integerAtLeast(1)(text);
}

/** The workloads are the lab's: checked once it is loaded, before the action runs. */
async function checkWorkload(command: Command): Promise<void> {
  const name = command.opts()['workload'] as string | undefined;
  if (name === undefined) return;
  const { workloadNames } = await import('../sim/workloads/registry.js');
  if (!workloadNames().includes(name)) {
    command.error(
      `error: option '--workload <name>' argument '${name}' is invalid. unknown workload ` +
        `(known: ${workloadNames().join(', ')})`,
      { exitCode: 2, code: 'commander.invalidArgument' },
    );
  }
}

/** "--param appends=32": workload parameters (numbers where they look like numbers). */
function parseParam(
  text: string,
  previous: Record<string, number | string | boolean> = {},
): Record<string, number | string | boolean> {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new InvalidArgumentError(`--param wants key=value, got '${text}'`);
  const value = text.slice(equals + 1);
  const parsed = /^-?\d+(\.\d+)?$/.test(value)
    ? Number(value)
    : value === 'true'
      ? true
      : value === 'false'
        ? false
        : value;
  return { ...previous, [text.slice(0, equals)]: parsed };
}

export function registerCrashtest(program: Command): void {
  program
    .command('crashtest')
    .description(
      'crash-test a workload: cut power at every instruction, recover each post-crash image, check it',
    )
    .option('--workload <name>', `workload to crash (default: ${defaultWorkload})`)
    .option('--model <model>', 'persistency model: px86, relaxed or eadr', parseModel, 'px86')
    .option('--cuts <all|N>', 'every cut point, or a seeded sample of N', parseCuts, 'all' as const)
    .option(
      '--images-per-cut <N>',
      'enumerate up to N images per cut, else sample N',
      integerAtLeast(2),
      64,
    )
    .option('--depth <D>', 'power cuts in a row (2 = also crash recovery)', integerAtLeast(1), 1)
    .option(
      '--nested-cuts <all|N>',
      'with --depth > 1: every cut of each recovery, or a seeded sample of N',
      parseCuts,
      4,
    )
    .option(
      '--nested-images-per-cut <N>',
      'with --depth > 1: images per cut of each recovery',
      integerAtLeast(2),
      4,
    )
    .option(
      '--media-faults <bits>',
      'also crash images with this many flipped bits (0: none)',
      integerAtLeast(0),
      0,
    )
    .option('--seed <S>', 'seed of the workload and of all sampling', integerAtLeast(0), 1)
    .option('--param <key=value>', 'a workload parameter (repeatable)', parseParam)
    .option(
      '--workers <N>',
      'cores to use: this process and N - 1 worker processes (default: 2 when the work is large)',
      integerAtLeast(1),
    )
    .option('--no-prune', 'explore every image (to compare with pruning)')
    .option('--json', 'print one JSON object')
    .option('--report <file.html>', 'write a self-contained HTML report')
    .option('--replay <token>', 're-run exactly one crash state from its token and explain it')
    .option(
      '--spec <module.js>',
      "a module exporting a crash spec (as 'spec' or default) and its 'input': explore it, or --replay its tokens",
    )
    .option('--self-test', 'explore every mutant; fail if one is not caught')
    .hook('preAction', checkWorkload)
    .action(async (options: Record<string, unknown>) => {
      // Explanations name .ts lines: maps are read only for modules loaded from now on.
      process.setSourceMapsEnabled(true);
      const { runCrashtest } = await import('../sim/cli/crashtest.js');
      const { workloadNames } = await import('../sim/workloads/registry.js');
      const { progressBar } = await import('./crashtest-progress.js');
      const workload =
        (options['workload'] as string | undefined) ?? defaultWorkloadName(workloadNames());
      const args: CrashtestArgs = {
        workload,
        params: (options['param'] as CrashtestArgs['params'] | undefined) ?? {},
        model: options['model'] as PersistencyModel,
        cuts: options['cuts'] as 'all' | number,
        imagesPerCut: options['imagesPerCut'] as number,
        depth: options['depth'] as number,
        nestedCuts: options['nestedCuts'] as 'all' | number,
        nestedImagesPerCut: options['nestedImagesPerCut'] as number,
        mediaFaults: options['mediaFaults'] as number,
        seed: options['seed'] as number,
        prune: options['prune'] !== false,
        json: options['json'] === true,
        selfTest: options['selfTest'] === true,
      };
      if (options['workers'] !== undefined) args.workers = options['workers'] as number;
      if (options['report'] !== undefined) args.report = options['report'] as string;
      if (options['replay'] !== undefined) args.replay = options['replay'] as string;
      if (options['spec'] !== undefined) args.spec = options['spec'] as string;
      process.exitCode = await runCrashtest(args, {
        out: (text) => process.stdout.write(`${text}\n`),
        err: (text) => process.stderr.write(`${text}\n`),
        tty: process.stderr.isTTY === true,
        progress: progressBar,
      });
    });
}

function defaultWorkloadName(names: readonly string[]): string {
  return names.includes(defaultWorkload) ? defaultWorkload : (names[0] as string);
}
