/**
 * `nvrelay crashtest --replay` (sim/cli/crashtest.ts) on the tokens the common runs do not
 * replay: a clean plan of a workload, a cluster plan (clean and violating, in text and JSON), a
 * spec token without its input, and the summary of an exploration that explored nothing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCrashtest, summaryJson } from '../../../sim/cli/crashtest.js';
import { clusterPlan } from '../../../sim/cluster/explore-cluster.js';
import { defaultExploreOptions } from '../../../sim/explore/explorer.js';
import type { ExploreSummary } from '../../../sim/explore/parallel.js';
import { exploreWorkload } from '../../../sim/explore/parallel.js';
import { decodePlan, encodePlan, type CrashPlan } from '../../../sim/plan.js';
import { crashtestArgs as args, terminal } from '../crashtest-args.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const correctSpec = join(fixtures, 'correct-log-spec.ts');
const folder = mkdtempSync(join(tmpdir(), 'nvrelay-crashtest-replay-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const options = { ...defaultExploreOptions, cuts: 90, imagesPerCut: 2, violationsMax: 1 };

describe('replaying a workload token', () => {
  test('a plan cut before the first instruction replays clean: exit 0, no findings', async () => {
    const plan: CrashPlan = {
      workload: 'log',
      params: { appends: 2, seed: 1 },
      model: 'px86',
      steps: [{ cut: 0, survivors: [] }],
    };
    const out = terminal();
    expect(await runCrashtest(args({ replay: encodePlan(plan) }), out)).toBe(0);
    const result = JSON.parse(out.stdout.join('\n')) as { findings: unknown[]; token: string };
    expect(result.findings).toEqual([]);
    expect(decodePlan(result.token).steps[0]?.cut).toBe(0);
  });
});

describe('replaying a cluster token', () => {
  let violating = '';
  beforeAll(async () => {
    const summary = await exploreWorkload({
      workload: 'mutant-mux-confirm-before-durable',
      params: {},
      options,
      workers: 1,
    });
    violating = summary.violations[0]?.token ?? '';
  });

  test('the clean run of the mux workload replays to "no violation", exit 0', async () => {
    const plan = clusterPlan('mux', {}, options, []);
    const out = terminal();
    expect(await runCrashtest(args({ replay: encodePlan(plan), json: false }), out)).toBe(0);
    expect(out.stdout.join('\n')).toBe('no violation');
  });

  test('a plan without imagesPerCut still replays, its cut named in the text', async () => {
    const plan = clusterPlan('mux', {}, options, [
      { device: 0, incarnation: 0, instruction: 5, image: 0 },
    ]);
    delete plan.params['imagesPerCut'];
    const out = terminal();
    expect(await runCrashtest(args({ replay: encodePlan(plan), json: false }), out)).toBe(0);
    const lines = out.stdout.join('\n').split('\n');
    expect(lines[0]).toMatch(
      /^power cut: device 0 \(boot image 0\) at instruction 5, image 0 of \d+ allowed$/,
    );
    expect(lines.at(-1)).toBe('no violation');
  });

  test('a violating cut replays to its findings in text, exit 1', async () => {
    expect(violating).toMatch(/^nvr1\./);
    const out = terminal();
    expect(await runCrashtest(args({ replay: violating, json: false }), out)).toBe(1);
    const text = out.stdout.join('\n');
    expect(text).toMatch(/^power cut: device \d \(boot image \d\) at instruction \d+/);
    expect(text).toMatch(/\n\d+ violations:\n {2}no-loss: /);
  });

  test('a violating cut replays in JSON with its plan, token, cuts fired and findings', async () => {
    const out = terminal();
    expect(await runCrashtest(args({ replay: violating, json: true }), out)).toBe(1);
    const result = JSON.parse(out.stdout.join('\n')) as {
      token: string;
      plan: CrashPlan;
      fired: { cut: { device: number } }[];
      findings: { invariant: string }[];
      instructions: number[][];
    };
    expect(result.token).toBe(violating);
    expect(result.plan.workload).toBe('mutant-mux-confirm-before-durable');
    expect(result.fired.length).toBeGreaterThanOrEqual(1);
    expect(result.findings.map((f) => f.invariant)).toContain('no-loss');
    expect(result.instructions).toHaveLength(3);
  });
});

describe('replaying a spec token', () => {
  test('a token without the input replays with the input the module exports', async () => {
    const explored = terminal();
    expect(await runCrashtest(args({ spec: correctSpec }), explored)).toBe(0);
    const summary = JSON.parse(explored.stdout.join('\n')) as { params: { input: string } };
    expect(summary.params.input).toBe('[5,6]');
    const plan: CrashPlan = {
      workload: 'user-log',
      params: {},
      model: 'px86',
      steps: [{ cut: 1, survivors: [] }],
    };
    const out = terminal();
    expect(await runCrashtest(args({ spec: correctSpec, replay: encodePlan(plan) }), out)).toBe(0);
    const result = JSON.parse(out.stdout.join('\n')) as { findings: unknown[]; plan: CrashPlan };
    expect(result.findings).toEqual([]);
    expect(result.plan.params).toEqual({});
  });

  test('an error that is not a usage mistake is not swallowed as exit 2', async () => {
    const throwing = join(folder, 'throwing-workload.mjs');
    writeFileSync(
      throwing,
      [
        'export const spec = {',
        "  name: 'throwing', format: { sizeBytes: 8192, sections: [{ name: 'log', length: 4096 }] },",
        "  workload() { throw new TypeError('the workload itself is broken'); },",
        '  recover() { return []; }, check() { return []; },',
        '};',
        'export const input = [1];',
        '',
      ].join('\n'),
    );
    const out = terminal();
    await expect(runCrashtest(args({ spec: throwing }), out)).rejects.toThrow(
      'the workload itself is broken',
    );
    expect(out.stderr).toEqual([]);
  });
});

describe('summaryJson', () => {
  test('has no pruning factor when no crash state was explored', () => {
    const summary = {
      workload: 'log',
      params: {},
      model: 'px86',
      depth: 1,
      counts: {
        instructions: 0,
        cuts: 0,
        naiveStates: 0,
        imagesVisited: 0,
        crashStates: 0,
        recoveries: 0,
        prunedStates: 0,
        violationStates: 0,
        sampledCuts: 0,
        nestedCutsSkipped: 0,
      },
      violations: [],
      invariants: {},
      outcomes: new Set(),
      cutPoints: [],
      elapsedMs: 0,
      statesPerSecond: 0,
      imagesPerSecond: 0,
      workers: 1,
    } as unknown as ExploreSummary;
    const json = summaryJson(summary);
    expect(json['pruningFactor']).toBeNull();
    expect(json['crashStates']).toBe(0);
    expect(json['violations']).toEqual([]);
  });
});
