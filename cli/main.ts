#!/usr/bin/env node
/**
 * The `nvrelay` command. Each command lives in its own file and registers itself on the
 * program; to add one, write cli/<name>.ts exporting `register<Name>(program)` and list
 * it in `commands` below.
 *
 * cli/ is the top layer: it imports src/, and sim/ only with `import()` inside the crashtest
 * action (eslint.config.js enforces both), so `init`, `pump` and the rest never load the lab.
 *
 * Exit codes: 0 success; 1 a typed error (printed as `nvrelay: <message> (<code>)`) or a
 * command's own failure verdict; 2 bad usage.
 */
import { Command, CommanderError } from 'commander';
import { registerCheck } from './check.js';
import { registerCrashtest } from './crashtest.js';
import { registerDemo } from './demo.js';
import { registerDump, registerRedeliver } from './dump.js';
import { registerInit } from './init.js';
import { registerInspect } from './inspect.js';
import { registerPump } from './pump.js';
import { registerRecipients } from './recipients.js';

const commands: Array<(program: Command) => void> = [
  registerInit,
  registerInspect,
  registerCheck,
  registerDemo,
  registerCrashtest,
  registerPump,
  registerDump,
  registerRedeliver,
  registerRecipients,
];

export const exitUsage = 2;
export const exitFailure = 1;

function buildProgram(): Command {
  const program = new Command('nvrelay')
    .description('persistent and reliable delivery of event messages over NVRAM')
    .exitOverride() // inherited by the commands registered below
    .showHelpAfterError('(run with --help for usage)');
  for (const register of commands) register(program);
  return program;
}

/** Typed errors carry a stable string `code` (NvramError and the runtime's own). */
function isTyped(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed the usage problem (or the help / version text asked for)
      process.exitCode = error.exitCode === 0 ? 0 : exitUsage;
      return;
    }
    if (isTyped(error)) {
      // the runtime's messages already start with 'nvrelay: ' (they stand alone in a library)
      const message = error.message.replace(/^nvrelay: /, '');
      process.stderr.write(`nvrelay: ${message} (${error.code})\n`);
      process.exitCode = exitFailure;
      return;
    }
    throw error; // a bug: let Node print the stack
  }
}

await main(process.argv);
