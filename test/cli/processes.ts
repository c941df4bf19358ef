/**
 * Processes of the multi-process tests (nvrelay serve, emit, tail): each a role whose stdout
 * lines are kept, killed with SIGKILL at seeded random moments and started again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Role {
  name: string;
  args: string[];
  /** Restarted after a kill, and (producers) after a normal exit, until the chaos ends. */
  loop: boolean;
  child: ChildProcess | null;
  lines: string[];
  /** Seqs of its `D` lines, as they arrive (a recipient), and of its `A` lines (a producer). */
  seqs: Set<number>;
  kills: number;
  /** Lines printed before its current run started. */
  linesAtStart: number;
  /** What its runs printed on stderr, and how they ended. */
  errors: string[];
  exits: string[];
}

export function role(name: string, args: string[]): Role {
  return {
    name,
    args,
    loop: true,
    child: null,
    lines: [],
    seqs: new Set(),
    kills: 0,
    linesAtStart: 0,
    errors: [],
    exits: [],
  };
}

/** Every child still running: `killAll` when the file ends, whatever happened. */
const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

export function start(role: Role): void {
  const child = spawn(process.execPath, [main, ...role.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  role.child = child;
  role.linesAtStart = role.lines.length;
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      role.lines.push(line);
      const match = /^[AD] (?:\S+ )?(\d+)/.exec(line);
      if (match !== null) role.seqs.add(Number(match[1]));
    }
  });
  live.add(child);
  child.on('exit', () => live.delete(child));
  child.stderr.on('data', (chunk: Buffer) => role.errors.push(chunk.toString('utf8')));
  child.on('exit', (code, signal) => {
    role.exits.push(signal ?? String(code));
    if (role.child === child) role.child = null;
  });
}

/** A seeded PRNG (mulberry32): a test is the same every run. */
export function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (condition()) return true;
    await sleep(50);
  }
  return condition();
}

/**
 * The chaos: `steps` times, after a seeded pause, one role chosen by `pick` is killed with
 * SIGKILL, then every role that should run and does not is started again.
 */
export async function killAtRandom(
  roles: Role[],
  steps: number,
  seed: number,
  pick: (step: number, random: () => number) => Role,
): Promise<void> {
  const random = prng(seed);
  for (let step = 0; step < steps; step++) {
    await sleep(150 + random() * 250);
    const victim = pick(step, random);
    // a victim just restarted is up again and has done something (on a loaded machine a
    // process may take a second to start: killed before its first line, it tests nothing)
    await waitFor(() => victim.child !== null && victim.lines.length > victim.linesAtStart, 3_000);
    if (victim.child !== null) {
      victim.child.kill('SIGKILL');
      victim.kills++;
      await sleep(30 + random() * 100);
    }
    for (const r of roles) if (r.child === null && r.loop) start(r); // restarted
  }
}

export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The CLI in a child process, without blocking this one (a daemon may run here). Killed after
 * `timeoutMs`: a command that never ends shows as signal SIGKILL.
 */
export function runCli(
  args: string[],
  options: { timeoutMs?: number; cwd?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}
