import { describe, expect, test } from 'vitest';
import { summaryJson } from '../../sim/cli/crashtest.js';
import { exploreWorkload } from '../../sim/explore/parallel.js';
import { defaultExploreOptions } from '../../sim/explore/explorer.js';
import { recordWorkload } from '../../sim/explore/recording.js';
import { replayPlan } from '../../sim/replay.js';
import { renderReport } from '../../sim/report/html.js';
import { workloadSubject } from '../../sim/workloads/registry.js';

async function report(workload: string): Promise<{ html: string; tokens: string[] }> {
  const summary = await exploreWorkload({
    workload,
    params: { appends: 5 },
    options: { ...defaultExploreOptions },
    workers: 1,
  });
  const { subject } = workloadSubject(workload, summary.params);
  const violations = summary.violations.slice(0, 3).map((violation) => ({
    violation,
    replay: replayPlan(subject, violation.plan),
  }));
  const html = renderReport({
    summary: summaryJson(summary),
    recording: recordWorkload(subject),
    cutPoints: summary.cutPoints,
    violations,
  });
  return { html, tokens: violations.map(({ violation }) => violation.token) };
}

describe('the HTML report', () => {
  test('is one self-contained file: no scripts, no external resources', async () => {
    const { html } = await report('log');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|href=|@import|url\(/i);
    expect(html).toContain('<svg');
    expect(html).toContain('no invariant broken');
  });

  test('draws stores, flushes, fences and the cut points visited', async () => {
    const { html } = await report('log');
    expect(html).toContain('fill="#2563eb"'); // a store
    expect(html).toContain('fill="#ea580c"'); // a flush
    expect(html).toContain('stroke="#9ca3af"'); // a fence
    expect(html).toContain('stroke="#16a34a"'); // a cut point
  });

  test('marks each violation and gives its replay token and hex diff', async () => {
    const { html, tokens } = await report('log-missing-fence');
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(html).toContain(token);
    expect(html).toContain('stroke="#dc2626"'); // a violation marker
    expect(html).toContain('crash image vs durable image');
    expect(html).toMatch(/durable 00 00/);
    expect(html).toContain('missing fence after instruction');
  });
});
