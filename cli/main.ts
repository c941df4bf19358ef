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
 * command's own failure verdict; 2 bad usage. With --json, errors are JSON on stdout too:
 * `{"error":{"code":"...","message":"..."}}` (usage errors have the code `USAGE`).
 *
 * The native addon is loaded on first use, so `--help` and `--version` work without it.
 * A reader that goes away (`nvrelay crashtest --self-test | head -1`) ends the command quietly.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerCheck } from './check.js';
import { registerCrashtest } from './crashtest.js';
import { registerDemo } from './demo.js';
import { registerDump, registerRedeliver } from './dump.js';
import { registerInit } from './init.js';
import { registerInspect } from './inspect.js';
import { registerPump } from './pump.js';
import { registerRecipients } from './recipients.js';
import { registerServe } from './serve.js';
import { registerSimulate } from './simulate.js';
import { registerEmit } from './emit.js';
import { registerTail } from './tail.js';

const commands: Array<(program: Command) => void> = [
  registerInit,
  registerInspect,
  registerCheck,
  registerDemo,
  registerCrashtest,
  registerSimulate,
  registerPump,
  registerDump,
  registerRedeliver,
  registerRecipients,
  registerServe,
  registerEmit,
  registerTail,
];

export const exitUsage = 2;
export const exitFailure = 1;

/** The version in our package.json (dist/cli/main.js is two folders below it). */
function packageVersion(): string {
  const manifest = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

function buildProgram(json: boolean): Command {
  const program = new Command('nvrelay')
    .description('persistent and reliable delivery of event messages over NVRAM')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride() // inherited by the commands registered below
    .showHelpAfterError(json ? false : '(run with --help for usage)');
  // Under --json a usage error is printed once, as JSON, by main (commander stays quiet).
  if (json) program.configureOutput({ writeErr: () => undefined });
  for (const register of commands) register(program);
  if (json)
    for (const command of program.commands) command.configureOutput({ writeErr: () => undefined });
  return program;
}

/** True if the command line asks for JSON output (before any `--`). */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

function printJsonError(code: string, message: string): void {
  process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
}

/**
 * A closed stdout (the reader exited) ends the command quietly, with the exit code it had so far:
 * nobody is left to read what it would still print.
 */
function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit();
      throw error;
    });
  }
}

/** Typed errors carry a stable string `code` (NvramError and the runtime's own). */
function isTyped(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}

async function main(argv: string[]): Promise<void> {
  endQuietlyOnClosedPipe();
  const json = wantsJson(argv);
  try {
    await buildProgram(json).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed the usage problem (or the help / version text asked for)
      process.exitCode = error.exitCode === 0 ? 0 : exitUsage;
      if (json && error.exitCode !== 0)
        printJsonError('USAGE', error.message.replace(/^error: /, ''));
      return;
    }
    if (isTyped(error)) {
      // the runtime's messages already start with 'nvrelay: ' (they stand alone in a library)
      const message = error.message.replace(/^nvrelay: /, '');
      if (json) printJsonError(error.code, message);
      else process.stderr.write(`nvrelay: ${message} (${error.code})\n`);
      process.exitCode = exitFailure;
      return;
    }
    throw error; // a bug: let Node print the stack
  }
}

await main(process.argv);
