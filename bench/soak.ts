/**
 * Soak: `npm run soak -- --rounds N [--count K] [--recipients R] [--durability D] [--seed S]`.
 *
 * Each round, on one device file that every round shares, runs `nvrelay pump <device> --count K`
 * and kills it with SIGKILL at a seeded random moment (after a random number of printed lines,
 * or a random number of milliseconds after the spawn, which may land in the boot or the
 * recovery), then runs `pump --count 0`, which must recover, drain and exit 0. From the A/D/Q
 * lines of the two runs (cli/pump.ts) it checks:
 *
 *  - no garbage: every line is an A, D or Q line, and every delivered seq was printed by an
 *    `A` line this round, or lies where a seq with no `A` line can: the node's own events
 *    (recovery reports such as nvrelay.record.torn, raised at start() from the new seq lease:
 *    above every earlier seq, below the run's first `A`; `D` lines do not tell them apart), and
 *    the one emit a kill can leave without its `A` line (above every seq the killed run printed);
 *  - unique seqs: no `A` seq printed twice, in any round; every round's seqs above the last's;
 *  - no loss: every `A` seq, and every seq delivered without one, delivered to every recipient
 *    in the round;
 *  - order: each recipient's first deliveries come in seq order, and within a run its
 *    deliveries are strictly increasing;
 *  - the draining run completes (exit 0, a last `Q` line, nothing on stderr, `emitted` 0).
 *
 * Prints one summary line; exits 1 (listing the problems) if any check failed. Needs the
 * built CLI (`npm run build`).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Prng } from '../sim/prng.js';
import { parsePumpLine, runPump, type PumpFact, type PumpKill } from './pump-process.js';

const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));

interface Run {
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** A fact of this soak: its recipients are r0..rR-1, so a D line naming another is garbage. */
function parseFact(line: string): PumpFact | null {
  const fact = parsePumpLine(line);
  return fact?.kind === 'D' && !/^r\d+$/.test(fact.recipient) ? null : fact;
}

/** The pump's lines, a piece after the last newline kept as a line: garbage, not a cut fact. */
async function runPumpLines(args: string[], kill: PumpKill | null): Promise<Run> {
  const run = await runPump(main, args, kill);
  if (run.partial !== '') run.lines.push(run.partial);
  return run;
}

export interface RoundTally {
  emitted: number;
  unprinted: number;
  killed: boolean;
  replayed: number;
  seqMax: number;
}

/**
 * The checks above for one round: the killed run's lines, then the draining run's. `seqFloor`:
 * every seq of earlier rounds is at or below it. Pushes what is wrong onto `problems`.
 */
export function checkRound(
  killed: Run,
  drain: Run,
  recipients: string[],
  seqFloor: number,
  problems: string[],
): RoundTally {
  const runs = [killed, drain];
  const facts: PumpFact[][] = runs.map((run, k) =>
    run.lines.flatMap((line) => {
      const fact = parseFact(line);
      if (fact === null) problems.push(`run ${k}: garbage line ${JSON.stringify(line)}`);
      return fact === null ? [] : [fact];
    }),
  );
  const killedRun = killed.code !== 0;
  const printed = new Set<number>();
  for (const [k, list] of facts.entries()) {
    for (const fact of list) {
      if (fact.kind !== 'A') continue;
      if (printed.has(fact.seq)) problems.push(`run ${k}: seq ${fact.seq} emitted twice`);
      if (fact.seq <= seqFloor)
        problems.push(`run ${k}: seq ${fact.seq} reissued (<= ${seqFloor})`);
      printed.add(fact.seq);
    }
  }
  const killedSeqMax = Math.max(
    seqFloor,
    ...(facts[0] ?? []).flatMap((fact) => (fact.kind === 'Q' ? [] : [fact.seq])),
  );
  // seqs delivered without an A line: the node's own events (recovery reports, raised at
  // start() from the new lease, so above every earlier seq and below the run's first A), and
  // the one emit a kill can leave without its A line (above all the killed run printed)
  const unprinted = new Set<number>();
  const floors = [seqFloor, killedSeqMax];
  const firstA = facts.map((list) =>
    Math.min(Infinity, ...list.flatMap((fact) => (fact.kind === 'A' ? [fact.seq] : []))),
  );
  const first = new Map(recipients.map((name) => [name, [] as number[]]));
  const seen = new Map(recipients.map((name) => [name, new Set<number>()]));
  let replayed = 0;
  for (const [k, list] of facts.entries()) {
    const last = new Map<string, number>();
    for (const fact of list) {
      if (fact.kind !== 'D') continue;
      const where = `run ${k}: D ${fact.recipient} ${fact.seq}`;
      const firsts = first.get(fact.recipient);
      const got = seen.get(fact.recipient);
      if (firsts === undefined || got === undefined) {
        problems.push(`${where}: unknown recipient`);
        continue;
      }
      if (!printed.has(fact.seq) && !unprinted.has(fact.seq)) {
        if (fact.seq > (floors[k] as number) && fact.seq < (firstA[k] as number))
          unprinted.add(fact.seq);
        else problems.push(`${where}: garbage (never emitted)`);
      }
      const previous = last.get(fact.recipient);
      if (previous !== undefined && fact.seq <= previous)
        problems.push(`${where}: out of order after ${previous}`);
      last.set(fact.recipient, fact.seq);
      if (got.has(fact.seq)) {
        replayed++;
        continue;
      }
      got.add(fact.seq);
      const before = firsts[firsts.length - 1];
      if (before !== undefined && fact.seq < before)
        problems.push(`${where}: first delivered after ${before}`);
      firsts.push(fact.seq);
    }
  }
  const durable = [...printed, ...unprinted];
  for (const seq of durable) {
    for (const [recipient, got] of seen) {
      if (!got.has(seq)) problems.push(`loss: seq ${seq} never delivered to ${recipient}`);
    }
  }
  const tail = facts[1]?.[facts[1].length - 1];
  if (drain.code !== 0 || tail?.kind !== 'Q')
    problems.push(`the draining run did not complete (exit ${drain.code}, ${drain.signal})`);
  else if (tail.summary['emitted'] !== 0) problems.push('the draining run emitted events');
  if (drain.stderr !== '') problems.push(`the draining run wrote to stderr: ${drain.stderr}`);
  if (killed.stderr !== '') problems.push(`the killed run wrote to stderr: ${killed.stderr}`);
  const seqMax = Math.max(seqFloor, ...durable);
  return { emitted: printed.size, unprinted: unprinted.size, killed: killedRun, replayed, seqMax };
}

async function soak(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '50' },
      count: { type: 'string', default: '300' },
      recipients: { type: 'string', default: '3' },
      durability: { type: 'string', default: 'process' },
      seed: { type: 'string', default: '20261204' },
      'max-kill-ms': { type: 'string', default: '400' },
    },
  });
  const rounds = Number(values.rounds);
  const count = Number(values.count);
  const recipientCount = Number(values.recipients);
  const seed = Number(values.seed);
  const killMsMax = Number(values['max-kill-ms']);
  for (const [name, value] of [
    ['rounds', rounds],
    ['count', count],
    ['recipients', recipientCount],
    ['seed', seed],
    ['max-kill-ms', killMsMax],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      process.stderr.write(`soak: --${name} must be a non-negative integer\n`);
      return 2;
    }
  }
  if (!existsSync(main)) {
    process.stderr.write(`soak: ${main} is missing: run 'npm run build' first\n`);
    return 2;
  }
  const durability = values.durability as string;
  const recipients = Array.from({ length: recipientCount }, (_, r) => `r${r}`);
  const prng = new Prng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-soak-'));
  const device = join(dir, 'soak.nvram');
  const common = ['--recipients', String(recipientCount), '--durability', durability];
  const problems: string[] = [];
  const totals = { killed: 0, unprinted: 0, emitted: 0, replayed: 0 };
  let seqFloor = 0;
  const started = performance.now();
  try {
    for (let round = 0; round < rounds; round++) {
      const kill: PumpKill =
        prng.below(4) === 0
          ? { afterMs: prng.below(killMsMax + 1) }
          : { afterLines: 1 + prng.below(count * (1 + recipientCount)) };
      const killed = await runPumpLines([device, '--count', String(count), ...common], kill);
      const drain = await runPumpLines([device, '--count', '0', ...common], null);
      const found: string[] = [];
      const tally = checkRound(killed, drain, recipients, seqFloor, found);
      for (const problem of found) {
        const line = `round ${round} (${JSON.stringify(kill)}): ${problem}`;
        if (problems.length < 100) process.stdout.write(`${line}\n`); // as found
        problems.push(line);
      }
      seqFloor = tally.seqMax;
      totals.killed += tally.killed ? 1 : 0;
      totals.unprinted += tally.unprinted;
      totals.emitted += tally.emitted;
      totals.replayed += tally.replayed;
      if ((round + 1) % 50 === 0)
        process.stderr.write(`soak: ${round + 1}/${rounds} rounds, ${problems.length} problems\n`);
      if (problems.length >= 100) break;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `soak: ${rounds} rounds (seed ${seed}, --count ${count}, ${recipientCount} recipients, ` +
      `${durability}) in ${seconds} s: ${totals.killed} killed, ${totals.emitted} A lines, ` +
      `${totals.unprinted} events delivered without one (the node's own recovery reports, or ` +
      `the emit a kill cut off), ${totals.replayed} deliveries replayed, ` +
      `${problems.length} problems\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await soak();
