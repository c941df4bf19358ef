/**
 * sim/report/html.ts beyond test/sim/report.test.ts: a sampled run says so, a run whose
 * violations are not all listed says how many more there are, one whose are all listed says
 * that, and a summary without a violation count reads as none.
 */
import { describe, expect, test } from 'vitest';
import { summaryJson } from '../../../sim/cli/crashtest.js';
import { defaultExploreOptions } from '../../../sim/explore/explorer.js';
import { exploreWorkload } from '../../../sim/explore/parallel.js';
import { recordWorkload } from '../../../sim/explore/recording.js';
import { replayPlan } from '../../../sim/replay.js';
import { renderReport } from '../../../sim/report/html.js';
import { workloadSubject } from '../../../sim/workloads/registry.js';

/** The report of `workload` explored with `options`, listing its first `listed` violations. */
async function report(
  workload: string,
  options: Partial<typeof defaultExploreOptions>,
  listed: number,
  summaryEdit: (summary: Record<string, unknown>) => void = () => undefined,
): Promise<string> {
  const summary = await exploreWorkload({
    workload,
    params: { appends: 4 },
    options: { ...defaultExploreOptions, ...options },
    workers: 1,
  });
  const { subject } = workloadSubject(workload, summary.params);
  const json = summaryJson(summary);
  summaryEdit(json);
  return renderReport({
    summary: json,
    recording: recordWorkload(subject),
    cutPoints: summary.cutPoints,
    violations: summary.violations.slice(0, listed).map((violation) => ({
      violation,
      replay: replayPlan(subject, violation.plan),
    })),
  });
}

describe('the HTML report, less common runs', () => {
  test('a sampled run is marked sampled, with what was visited', async () => {
    const html = await report('log', { cuts: 3 }, 0);
    expect(html).toMatch(
      /<span class="bad">sampled<\/span>: \d+ of \d+ allowed crash states visited/,
    );
    expect(html).not.toContain('exhaustive: every cut point');
  });

  test('violations not all listed: how many more states violate', async () => {
    const html = await report('log-missing-fence', {}, 1);
    expect(html).toMatch(
      /1 findings in 1 crash states listed; \d+ more violating crash states not listed/,
    );
  });

  test('every violation listed: says so', async () => {
    const html = await report('log-missing-fence', { violationsMax: 1 }, 1, (summary) => {
      summary['violationStates'] = 1;
    });
    expect(html).toContain('Every violating crash state is listed (1).');
  });

  test('a summary without a violation count reads as no invariant broken', async () => {
    const html = await report('log', {}, 0, (summary) => {
      delete summary['violationStates'];
    });
    expect(html).toContain('no invariant broken');
    expect(html).toContain('None: every crash state visited satisfied every invariant.');
  });
});
