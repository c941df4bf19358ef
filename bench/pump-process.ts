/**
 * `nvrelay pump` as a child process, and its A/D/Q lines (cli/pump.ts): what the soak
 * (bench/soak.ts) and the pump's kill tests (test/cli/pump.test.ts) both run and read.
 */
import { spawn } from 'node:child_process';

export type PumpFact =
  | { kind: 'A'; seq: number }
  | { kind: 'D'; recipient: string; seq: number }
  | { kind: 'Q'; summary: Record<string, unknown> };

/** One line as a fact, or null if it is not one. */
export function parsePumpLine(line: string): PumpFact | null {
  const emitted = /^A (\d+)$/.exec(line);
  if (emitted) return { kind: 'A', seq: Number(emitted[1]) };
  const delivered = /^D (\S+) (\d+)$/.exec(line);
  if (delivered) return { kind: 'D', recipient: delivered[1] as string, seq: Number(delivered[2]) };
  if (!line.startsWith('Q ')) return null;
  try {
    return { kind: 'Q', summary: JSON.parse(line.slice(2)) as Record<string, unknown> };
  } catch {
    return null;
  }
}

export interface PumpKill {
  /** SIGKILL once this many lines have been printed... */
  afterLines?: number;
  /** ...or this long after the spawn (may land in format, boot or recovery). */
  afterMs?: number;
}

export interface PumpProcess {
  /** Whole lines, each one write(2) of the pump. */
  lines: string[];
  /** What followed the last newline (a line cut short: never a fact). */
  partial: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs `node <main> pump ...args`, killing it as `kill` says; resolves with what it printed. */
export function runPump(main: string, args: string[], kill: PumpKill | null): Promise<PumpProcess> {
  const child = spawn(process.execPath, [main, 'pump', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const killNow = (): boolean => child.kill('SIGKILL');
  const timer = kill?.afterMs !== undefined ? setTimeout(killNow, kill.afterMs) : undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (kill?.afterLines !== undefined && lines.length >= kill.afterLines) killNow();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ lines, partial, code, signal, stderr });
    });
  });
}
