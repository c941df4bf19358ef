/**
 * The trace picture of sim/report/html.ts on workloads made for it: one of thousands of
 * instructions (more than the plot has pixels: marks on one pixel are drawn once), two
 * sections (alternating bands, a long name cut short), neighbouring violations (one number
 * for the cluster), and a workload that touches no address (the whole device is shown).
 */
import { describe, expect, test } from 'vitest';
import { recordWorkload } from '../../../sim/explore/recording.js';
import { subjectOf, type CrashSpec } from '../../../sim/harness/crash-test.js';
import { encodePlan, type CrashPlan } from '../../../sim/plan.js';
import { replayPlan } from '../../../sim/replay.js';
import { renderReport, type ReportViolation } from '../../../sim/report/html.js';

const longName = 'a-section-with-a-long-name';

/** `rounds` times: a store in the first section, two in the second, a flush, three fences. */
const spec: CrashSpec<number, number, number> = {
  name: 'layout',
  format: {
    sizeBytes: 16384,
    sections: [
      { name: longName, length: 4096 },
      { name: 'second', length: 4096 },
    ],
  },
  workload(device, context, rounds) {
    const first = device.section(longName).offset;
    const second = device.section('second').offset;
    for (let i = 0; i < rounds; i++) {
      device.storeU64(first + (i % 8) * 8, i);
      device.storeU64(second, i);
      device.storeU64(second, i + 1);
      device.flush(first + (i % 8) * 8, 8);
      device.fence();
      device.fence();
      device.fence();
    }
    context.mark(rounds);
  },
  recover: (device) => device.loadU64(device.section('second').offset),
  check: () => [],
};

function violationAt(subject: ReturnType<typeof subjectOf>, cut: number): ReportViolation {
  const plan: CrashPlan = {
    workload: 'layout',
    params: {},
    model: 'px86',
    steps: [{ cut, survivors: [] }],
  };
  return {
    violation: { invariant: 'made-up', message: `at ${cut}`, plan, token: encodePlan(plan) },
    replay: replayPlan(subject, plan),
  };
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('the trace picture', () => {
  test('a long trace: one mark per pixel, alternating section bands, one number per cluster', () => {
    const subject = subjectOf(spec, 200);
    const recording = recordWorkload(subject);
    expect(recording.instructions).toBe(200 * 7);
    const cutPoints = Array.from({ length: 1401 }, (_, i) => i);
    const html = renderReport({
      summary: { violationStates: 2 },
      recording,
      cutPoints,
      violations: [violationAt(subject, 100), violationAt(subject, 101)],
    });
    // 1400 instructions on 1000 pixels: marks that fall on one pixel are drawn once
    const fences = count(html, 'stroke="#9ca3af" stroke-width="0.6"');
    expect(fences).toBeGreaterThanOrEqual(200);
    expect(fences).toBeLessThan(600);
    const stores = count(html, 'fill="#2563eb"/>');
    expect(stores).toBeGreaterThanOrEqual(200);
    expect(stores).toBeLessThan(600);
    // cut ticks: one per pixel, not one per cut point
    expect(count(html, 'stroke="#16a34a" stroke-width="1"')).toBeLessThan(cutPoints.length);
    // two bands, the long name cut short in the label and whole in its title
    expect(html).toContain('fill="#f9fafb"');
    expect(html).toContain('fill="#eef2ff"');
    expect(html).toContain(`<title>${longName}</title>${longName.slice(0, 19)}…</text>`);
    expect(html).toContain('<title>second</title>second</text>');
    // two violations one instruction apart: both drawn, only the first numbered
    expect(count(html, 'stroke-dasharray="4 3"')).toBe(2);
    expect(html).toMatch(/fill="#dc2626">1<\/text>/);
    expect(html).not.toMatch(/fill="#dc2626">2<\/text>/);
  });

  test('a workload that touches no address shows the whole device', () => {
    const subject = subjectOf(spec, 0);
    const recording = recordWorkload(subject);
    expect(recording.instructions).toBe(0);
    const html = renderReport({ summary: {}, recording, cutPoints: [0], violations: [] });
    expect(html).toContain('text-anchor="end" fill="#374151">0x0</text>');
    expect(html).toContain('text-anchor="end" fill="#374151">0x4000</text>');
    expect(html).toContain('0 instructions');
  });
});
