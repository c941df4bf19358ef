/**
 * `nvrelay pump` under kill -9 (issue 3, "what it must show" 3): the built CLI runs as a child
 * process and is SIGKILLed at seeded random moments, several times, on the same device; a final
 * `--count 0` run recovers and drains. From the printed A/D/Q lines alone we check SPEC 4:
 * no loss, no garbage, unique sequence numbers, per-recipient order (replayed before new) and
 * no zombies. Run `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Prng } from '../../sim/prng.js';
import { parsePumpLine, runPump, type PumpFact, type PumpKill } from '../../bench/pump-process.js';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-pump-'));

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What one pump process printed, and how it ended. */
export interface PumpRun {
  lines: string[];
  /** Exit code 0 and a Q line: the run completed (everything it saw is completely handled). */
  clean: boolean;
}

function parseFact(line: string): PumpFact {
  const fact = parsePumpLine(line);
  if (fact === null) throw new Error(`not a pump line: ${JSON.stringify(line)}`);
  return fact;
}

/**
 * SPEC 4 from the lines of successive runs on one device. An event may be emitted (durable)
 * but its `A` line lost to the kill; such an orphan is the one emit in flight when a run was
 * killed, so its seq lies above every seq printed up to that run and below every later `A`.
 * Returns the violations found (empty when the runs are sound).
 */
export function checkPumpRuns(runs: PumpRun[], recipients: string[]): string[] {
  const facts = runs.map((run) => run.lines.map(parseFact));
  const problems: string[] = [];
  const emittedIn = emissions(facts, problems);
  const windows = runs.map((run, k) => (run.clean ? null : orphanWindow(facts, k)));
  const orphans = new Map<number, number>(); // killed run -> the seq of its orphan emit
  // first run each recipient received each seq in
  const firstRun = new Map(recipients.map((r) => [r, new Map<number, number>()]));
  facts.forEach((list, k) => {
    const printedA = new Set<number>();
    const last = new Map<string, { seq: number; isNew: boolean }>();
    for (const fact of list) {
      if (fact.kind === 'A') printedA.add(fact.seq);
      if (fact.kind !== 'D') continue;
      const where = `run ${k}: D ${fact.recipient} ${fact.seq}`;
      const received = firstRun.get(fact.recipient);
      if (received === undefined) {
        problems.push(`${where}: unknown recipient`);
        continue;
      }
      const origin = emittedIn.get(fact.seq);
      const isNew = origin === k;
      if (origin === undefined && !claimOrphan(windows, orphans, fact.seq, k))
        problems.push(`${where}: garbage (never emitted)`);
      if (origin !== undefined && (origin > k || (isNew && !printedA.has(fact.seq))))
        problems.push(`${where}: delivered before it was emitted`);
      const first = received.get(fact.seq);
      if (first !== undefined && runs.slice(first, k).some((run) => run.clean))
        problems.push(`${where}: zombie (completely handled by a clean run since run ${first})`);
      const previous = last.get(fact.recipient);
      if (previous !== undefined && fact.seq <= previous.seq)
        problems.push(`${where}: out of order after ${previous.seq}`);
      if (previous !== undefined && previous.isNew && !isNew)
        problems.push(`${where}: a replayed event after a new one`);
      last.set(fact.recipient, { seq: fact.seq, isNew });
      if (first === undefined) received.set(fact.seq, k);
    }
  });
  const durable = [...emittedIn, ...[...orphans].map(([k, seq]) => [seq, k] as const)];
  for (const [seq, k] of durable) {
    for (const [recipient, received] of firstRun) {
      if (!received.has(seq))
        problems.push(`loss: seq ${seq} (run ${k}) never delivered to ${recipient}`);
    }
  }
  if (runs[runs.length - 1]?.clean !== true) problems.push('the last run did not complete');
  return problems;
}

/** seq -> the run that printed its `A` line; a seq printed twice is a problem. */
function emissions(facts: PumpFact[][], problems: string[]): Map<number, number> {
  const emittedIn = new Map<number, number>();
  facts.forEach((list, k) => {
    for (const fact of list) {
      if (fact.kind !== 'A') continue;
      const before = emittedIn.get(fact.seq);
      if (before !== undefined)
        problems.push(`seq ${fact.seq} emitted twice (runs ${before}, ${k})`);
      emittedIn.set(fact.seq, k);
    }
  });
  return emittedIn;
}

interface OrphanWindow {
  low: number;
  high: number;
}

/** Where killed run k's orphan emit can lie: above every seq printed so far, below later `A`s. */
function orphanWindow(facts: PumpFact[][], k: number): OrphanWindow {
  const seqs = (list: PumpFact[]): number[] => list.flatMap((f) => (f.kind === 'Q' ? [] : [f.seq]));
  const emits = (list: PumpFact[]): number[] =>
    list.flatMap((f) => (f.kind === 'A' ? [f.seq] : []));
  return {
    low: Math.max(0, ...facts.slice(0, k + 1).flatMap(seqs)),
    high: Math.min(Number.MAX_SAFE_INTEGER, ...facts.slice(k + 1).flatMap(emits)),
  };
}

/** True if `seq`, delivered in run k, can be the orphan of an earlier killed run (at most one each). */
function claimOrphan(
  windows: (OrphanWindow | null)[],
  orphans: Map<number, number>,
  seq: number,
  k: number,
): boolean {
  for (let j = 0; j < k; j++) {
    const window = windows[j];
    if (window === null || window === undefined || seq <= window.low || seq >= window.high)
      continue;
    const claimed = orphans.get(j);
    if (claimed !== undefined && claimed !== seq) continue;
    orphans.set(j, seq);
    return true;
  }
  return false;
}

/**
 * Deliveries of events a run did not emit itself (the replay at work): emitted by an earlier
 * run, whether or not its `A` line was printed before the kill (in 'power' durability a kill
 * lands mostly in the next event's msync, after its record but before its line).
 */
function replayedDeliveries(runs: PumpRun[]): number {
  const emittedIn = new Map<number, number>();
  let replayed = 0;
  runs.forEach((run, k) => {
    for (const fact of run.lines.map(parseFact)) {
      if (fact.kind === 'A') emittedIn.set(fact.seq, k);
      if (fact.kind === 'D' && emittedIn.get(fact.seq) !== k) replayed++;
    }
  });
  return replayed;
}

/** Runs `nvrelay pump`, killing it as `kill` says; a line cut by the kill is not a fact. */
async function pumpRun(
  args: string[],
  kill: PumpKill | null,
): Promise<PumpRun & { stderr: string }> {
  const { lines, code, stderr } = await runPump(main, args, kill);
  const finished = code === 0 && lines[lines.length - 1]?.startsWith('Q ') === true;
  return { lines, clean: finished, stderr };
}

function nvrelay(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const recipients = ['r0', 'r1', 'r2'];

describe('nvrelay pump', () => {
  test('formats a missing device, emits, delivers to every recipient and exits 0', async () => {
    const device = join(dir, 'plain.nvram');
    const run = await pumpRun(
      [device, '--count', '50', '--recipients', '3', '--payload-bytes', '300'],
      null,
    );
    expect(run.stderr).toBe('');
    expect(run.clean).toBe(true);
    expect(checkPumpRuns([run], recipients)).toEqual([]);
    expect(run.lines.filter((line) => line.startsWith('A '))).toHaveLength(50);
    expect(run.lines.filter((line) => line.startsWith('D '))).toHaveLength(150);
    const summary = parseFact(run.lines[run.lines.length - 1] as string);
    expect(summary).toMatchObject({
      kind: 'Q',
      summary: { emitted: 50, formatted: true, confirmed: 150 },
    });
    const again = await pumpRun([device, '--count', '0', '--recipients', '3'], null);
    expect(again.lines).toHaveLength(1); // nothing pending: only the summary
    expect(again.lines[0]).toMatch(/^Q \{.*"formatted":false/);
  });

  test('bad usage exits 2', () => {
    const device = join(dir, 'usage.nvram');
    expect(nvrelay('pump', device).status).toBe(2); // --count is required
    expect(nvrelay('pump', device, '--count', '-1').status).toBe(2);
    expect(nvrelay('pump', device, '--count', '1', '--recipients', '65').status).toBe(2);
    expect(nvrelay('pump', device, '--count', '1', '--durability', 'battery').status).toBe(2);
    expect(existsSync(device)).toBe(false);
  });

  test.each([
    { durability: 'process', seed: 0x5eed01, kills: 6, count: 3000 },
    { durability: 'power', seed: 0x5eed03, kills: 3, count: 150 },
  ])(
    'survives $kills kill -9s at seeded random moments ($durability durability, seed $seed)',
    async ({ durability, seed, kills, count }) => {
      const prng = new Prng(seed);
      const device = join(dir, `kill9-${durability}.nvram`);
      const args = [
        device,
        '--count',
        String(count),
        '--recipients',
        '3',
        '--durability',
        durability,
      ];
      const runs: PumpRun[] = [];
      for (let k = 0; k < kills; k++) {
        const linesMax = count * (1 + recipients.length);
        const kill =
          prng.below(4) === 0
            ? { afterMs: prng.below(400) }
            : { afterLines: 1 + prng.below(linesMax) };
        const run = await pumpRun(args, kill);
        expect(run.stderr, `seed ${seed}, run ${k}`).toBe('');
        runs.push(run);
      }
      // A seeded kill may land when nothing is owed (in 'power' durability a run is short), so one
      // more kill right after the second printed line (an event durable, its deliveries under
      // way) makes sure the final run has something to replay.
      const owing = await pumpRun(args, { afterLines: 2 });
      expect(owing.stderr, `seed ${seed}, the owing run`).toBe('');
      runs.push(owing);
      const final = await pumpRun(
        [...args.slice(0, 1), '--count', '0', '--recipients', '3', '--durability', durability],
        null,
      );
      expect(final.stderr).toBe('');
      runs.push(final);
      const killed = runs.filter((run) => !run.clean).length;
      expect(killed, `seed ${seed}: the kills landed`).toBeGreaterThanOrEqual(Math.ceil(kills / 2));
      expect(checkPumpRuns(runs, recipients), `seed ${seed}`).toEqual([]);
      expect(
        replayedDeliveries(runs),
        `seed ${seed}: some kill left events to replay`,
      ).toBeGreaterThan(0);
      const dump = JSON.parse(nvrelay('dump', device, '--json').stdout) as { pending: unknown[] };
      expect(dump.pending).toEqual([]);
    },
  );
});

describe('the pump-run checker', () => {
  const sound: PumpRun[] = [
    { lines: ['A 1', 'A 2', 'D r0 1', 'D r1 1'], clean: false }, // killed: seq 3 was in flight
    {
      lines: [
        'D r0 1',
        'D r1 1',
        'D r0 2',
        'D r1 2',
        'D r0 3',
        'D r1 3',
        'A 65537',
        'D r0 65537',
        'D r1 65537',
        'Q {}',
      ],
      clean: true,
    },
  ];
  const two = ['r0', 'r1'];
  const edit = (k: number, change: (lines: string[]) => string[]): PumpRun[] =>
    sound.map((run, j) => (j === k ? { ...run, lines: change([...run.lines]) } : run));

  test('accepts sound runs, with a replay and an orphan emit', () => {
    expect(checkPumpRuns(sound, two)).toEqual([]);
  });

  test('reports a loss, garbage, a duplicate seq, disorder and a zombie', () => {
    expect(
      checkPumpRuns(
        edit(1, (l) => l.filter((x) => x !== 'D r1 2')),
        two,
      ).join(),
    ).toMatch(/loss: seq 2 .* r1/);
    expect(
      checkPumpRuns(
        edit(1, (l) => [...l.slice(0, 9), 'D r0 70000', 'Q {}']),
        two,
      ).join(),
    ).toMatch(/garbage/);
    expect(
      checkPumpRuns(
        edit(1, (l) => l.map((x) => (x === 'A 65537' ? 'A 2' : x))),
        two,
      ).join(),
    ).toMatch(/emitted twice/);
    expect(
      checkPumpRuns(
        edit(1, (l) => [l[2], l[3], l[0], l[1], ...l.slice(4)] as string[]),
        two,
      ).join(),
    ).toMatch(/out of order/);
    expect(
      checkPumpRuns(
        edit(1, (l) => [...l.slice(0, 6), 'A 65537', 'D r0 65537', 'D r1 65537', 'D r0 3', 'Q {}']),
        two,
      ).join(),
    ).toMatch(/out of order|replayed event after a new one/);
    expect(
      checkPumpRuns([...sound, { lines: ['D r0 2', 'Q {}'], clean: true }], two).join(),
    ).toMatch(/zombie/);
    expect(checkPumpRuns(sound.slice(0, 1), two).join()).toMatch(/did not complete/);
  });
});
