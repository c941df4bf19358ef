/**
 * `npm run bench`: runs every benchmark suite and prints one table of figures, each beside
 * its target with PASS or FAIL. Exit 1 if any target is missed.
 *
 * To add a suite, write bench/<name>.ts exporting `suite: BenchSuite` and add one line to
 * `suites` below. A suite may declare its own flags (e.g. `--peers`); they are parsed here.
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { parseArgs } from 'node:util';

export interface BenchTarget {
  /** PASS when value >= min (throughputs) or value <= max (latencies). */
  min?: number;
  max?: number;
  /** How the target reads in the table, e.g. '>= 0.5x floor'. */
  label: string;
}

export interface BenchResult {
  measure: string;
  value: number;
  /** The value as printed, e.g. '12.3 M records/s'. */
  display: string;
  target?: BenchTarget;
  /** A short note printed under the table (how it was measured, what it is compared to). */
  note?: string;
}

export interface BenchContext {
  /** Short runs (for a smoke test), not for recorded figures. */
  quick: boolean;
  /** Seconds each timed loop runs for. */
  seconds: number;
  /** A folder for device files. */
  dir: string;
  /** Values of the suite's own flags. */
  flags: Record<string, string | boolean | undefined>;
}

export interface BenchSuite {
  name: string;
  description: string;
  flags?: Record<string, { type: 'boolean' | 'string'; description: string }>;
  run(context: BenchContext): Promise<BenchResult[]>;
}

const suites: BenchSuite[] = [
  (await import('./device.js')).suite,
  (await import('./events.js')).suite,
  (await import('./crashlab.js')).suite,
  (await import('./daemon.js')).suite,
  (await import('./mux.js')).suite,
  (await import('./sinks.js')).suite,
  (await import('./ha.js')).suite,
];

const usage = `usage: npm run bench -- [--only SUITE,...] [--quick] [--seconds S] [--dir DIR] [--json: one JSON object per row and line]
suites: ${suites.map((suite) => suite.name).join(', ')}`;

function parseFlags(): { context: BenchContext; only: string[] | null; json: boolean } {
  const suiteFlags = Object.fromEntries(
    suites.flatMap((suite) =>
      Object.entries(suite.flags ?? {}).map(([name, flag]) => [name, { type: flag.type }]),
    ),
  );
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      dir: { type: 'string', default: tmpdir() },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      ...suiteFlags,
    },
    strict: true,
  });
  if (values.help === true) {
    console.log(usage);
    for (const suite of suites) {
      for (const [name, flag] of Object.entries(suite.flags ?? {}))
        console.log(`  --${name}  ${flag.description}`);
    }
    process.exit(0);
  }
  const quick = values.quick === true;
  const seconds = values.seconds === undefined ? (quick ? 0.2 : 1) : Number(values.seconds);
  if (!(seconds > 0))
    throw new Error(`--seconds must be a positive number, got ${String(values.seconds)}`);
  const only = typeof values.only === 'string' ? values.only.split(',') : null;
  const flags = values as Record<string, string | boolean | undefined>;
  return {
    context: { quick, seconds, dir: String(values.dir), flags },
    only,
    json: values.json === true,
  };
}

function verdict(result: BenchResult): 'PASS' | 'FAIL' | '' {
  const target = result.target;
  if (target === undefined) return '';
  const ok =
    (target.min === undefined || result.value >= target.min) &&
    (target.max === undefined || result.value <= target.max);
  return ok ? 'PASS' : 'FAIL';
}

function printTable(rows: Array<{ suite: string; result: BenchResult }>): void {
  const cells = rows.map(({ suite, result }) => [
    suite,
    result.measure,
    result.display,
    result.target?.label ?? '',
    verdict(result),
  ]);
  const header = ['suite', 'measure', 'result', 'target', ''];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[]): string =>
    row
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of cells) console.log(line(row));
  const notes = rows.filter(({ result }) => result.note !== undefined);
  if (notes.length > 0) console.log('');
  for (const { result } of notes) console.log(`* ${result.measure}: ${result.note}`);
}

async function main(): Promise<void> {
  const { context, only, json } = parseFlags();
  const unknown = (only ?? []).filter((name) => !suites.some((suite) => suite.name === name));
  if (unknown.length > 0) throw new Error(`unknown suite(s) ${unknown.join(', ')}\n${usage}`);
  const rows: Array<{ suite: string; result: BenchResult }> = [];
  for (const suite of suites) {
    if (only !== null && !only.includes(suite.name)) continue;
    if (!json) console.error(`running ${suite.name}: ${suite.description}`);
    for (const result of await suite.run(context)) rows.push({ suite: suite.name, result });
  }
  if (json) {
    // one row per line (JSON Lines), so other tools can read the ratios as they come
    for (const { suite, result } of rows)
      console.log(JSON.stringify({ suite, ...result, verdict: verdict(result) }));
  } else {
    console.log(
      `\nnode ${process.version}, ${context.seconds} s per measure, best of 5 windows${context.quick ? ' (quick)' : ''}; load average ${(loadavg()[0] ?? 0).toFixed(1)} on ${cpus().length} CPUs\n`,
    );
    printTable(rows);
  }
  const failed = rows.filter(({ result }) => verdict(result) === 'FAIL').length;
  if (!json)
    console.log(
      `\n${rows.filter(({ result }) => verdict(result) === 'PASS').length} targets met, ${failed} missed`,
    );
  if (failed > 0) process.exitCode = 1;
}

await main();
