/**
 * The crash-test HTML report (issue 4): one self-contained file (no scripts, no external
 * resources) with the summary, a picture of the workload's instruction trace over time
 * (stores and flushes by address, fences, the cut points visited, violations marked) and, for
 * each violation, its replay token and the explanation with the hex diff.
 */
import type { HeaderInfo } from '../../src/nvram/addon-api.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { formatReplay } from '../explain/explain.js';
import type { ViolationReport } from '../explore/explorer.js';
import type { StageRecording } from '../explore/recording.js';
import type { ReplayResult } from '../replay.js';

export interface ReportViolation {
  violation: ViolationReport;
  replay: ReplayResult<unknown>;
}

export interface ReportInput {
  summary: Record<string, unknown>;
  recording: StageRecording<unknown>;
  cutPoints: number[];
  violations: ReportViolation[];
}

/** Fits a 1280-pixel window with the page margins (and scales down below that). */
const plot = { width: 1000, height: 300, left: 150, top: 30, cutStrip: 18 };
const colors = {
  store: '#2563eb',
  flush: '#ea580c',
  fence: '#9ca3af',
  cut: '#16a34a',
  violation: '#dc2626',
};

export function renderReport(input: ReportInput): string {
  const title = `nvrelay crash test: ${String(input.summary['workload'])} (${String(input.summary['model'])})`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#111827;background:#fff}
h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse}td{padding:2px 14px 2px 0}td:first-child{color:#4b5563}
.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}
pre{background:#f3f4f6;padding:10px;font-size:12px;line-height:1.35;white-space:pre-wrap;overflow-wrap:anywhere}
svg{max-width:100%;height:auto}h3{overflow-wrap:anywhere}
code.token{word-break:break-all;background:#fef3c7;padding:2px 4px}
.legend span{margin-right:16px}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
</style></head><body>
<h1>${escape(title)}</h1>
${summaryTable(input.summary)}
<h2>Instruction trace over time</h2>
${legend()}
${traceSvg(input)}
<h2>Violations</h2>
${violationSections(input.violations, Number(input.summary['violationStates'] ?? 0))}
</body></html>
`;
}

function summaryTable(summary: Record<string, unknown>): string {
  const violations = Number(summary['violationStates'] ?? 0);
  const rows: [string, string][] = [
    [
      'verdict',
      violations === 0
        ? '<span class="ok">no invariant broken</span>'
        : `<span class="bad">${violations} violating crash states</span>`,
    ],
    ['workload', escape(`${String(summary['workload'])} ${JSON.stringify(summary['params'])}`)],
    ['model / depth', escape(`${String(summary['model'])} / ${String(summary['depth'])}`)],
    ['instructions', escape(String(summary['instructions']))],
    ['cut points visited', escape(String(summary['cuts']))],
    ['naive crash states', escape(String(summary['naiveStates']))],
    [
      'coverage',
      summary['exhaustive'] === true
        ? 'exhaustive: every cut point, every image the model allows'
        : `<span class="bad">sampled</span>: ${escape(
            `${String(summary['statesVisited'])} of ${String(summary['statesAllowed'])} allowed crash states visited, ` +
              `images sampled at ${String(summary['sampledCuts'])} cuts, ${String(summary['cuts'])} of ${String(summary['cutPoints'])} cut points`,
          )}`,
    ],
    [
      'crash states explored',
      escape(
        `${String(summary['crashStates'])} (${String(summary['prunedStates'])} images pruned)`,
      ),
    ],
    ['states per second', escape(String(summary['statesPerSecond']))],
    [
      'elapsed',
      escape(`${String(summary['elapsedMs'])} ms on ${String(summary['workers'])} core(s)`),
    ],
  ];
  return `<table>${rows.map(([name, value]) => `<tr><td>${name}</td><td>${value}</td></tr>`).join('')}</table>`;
}

function legend(): string {
  const item = (color: string, text: string): string =>
    `<span><i class="swatch" style="background:${color}"></i>${text}</span>`;
  return `<p class="legend">${item(colors.store, 'store')}${item(colors.flush, 'flush')}${item(colors.fence, 'fence')}${item(colors.cut, 'cut point visited')}${item(colors.violation, 'violation (at its cut)')}</p>`;
}

/** The trace as SVG: x = instruction index (time), y = device address. */
function traceSvg(input: ReportInput): string {
  const { trace, instructions } = input.recording;
  const header = headerOf(input.recording.start);
  const [low, high] = addressRange(input.recording, header);
  const x = (i: number): number => plot.left + (i / Math.max(1, instructions)) * plot.width;
  const y = (offset: number): number =>
    plot.top + ((offset - low) / Math.max(1, high - low)) * plot.height;
  const parts: string[] = [sectionBands(header, low, high, y)];
  const drawn = new Set<string>();
  for (let i = 0; i < instructions; i++) {
    const kind = trace.kinds[i] as number;
    const px = Math.round(x(i));
    if (kind >= 2) {
      // a fence, or an asynchronous fence's issue (3) or completion (4): a vertical line
      if (drawn.has(`f${px}`)) continue;
      drawn.add(`f${px}`);
      parts.push(
        `<line x1="${px}" x2="${px}" y1="${plot.top}" y2="${plot.top + plot.height}" stroke="${colors.fence}" stroke-width="0.6" opacity="0.7"/>`,
      );
      continue;
    }
    const offset = trace.offsets[i] as number;
    const top = Math.round(y(offset));
    const height = Math.max(4, Math.round(y(offset + (trace.lengths[i] as number)) - top));
    const key = `${kind}:${px}:${top}:${height}`;
    if (drawn.has(key)) continue;
    drawn.add(key);
    const color = kind === 0 ? colors.store : colors.flush;
    parts.push(`<rect x="${px - 1}" y="${top}" width="3" height="${height}" fill="${color}"/>`);
  }
  parts.push(cutStrip(input.cutPoints, x));
  parts.push(violationMarks(input.violations, x));
  parts.push(axes(instructions, low, high, x));
  const width = plot.left + plot.width + 30;
  const height = plot.top + plot.height + plot.cutStrip + 50;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui,sans-serif" font-size="11">${parts.join('')}</svg>`;
}

function headerOf(image: Uint8Array): HeaderInfo {
  const device = TracedNvram.fromImage(image, { boot: false });
  const header = device.header;
  device.close();
  return header;
}

/** The address range the trace touches, widened to whole lines and a little margin. */
function addressRange(recording: StageRecording<unknown>, header: HeaderInfo): [number, number] {
  let low = Infinity;
  let high = 0;
  for (let i = 0; i < recording.instructions; i++) {
    if ((recording.trace.kinds[i] as number) >= 2) continue; // fences name no address
    low = Math.min(low, recording.trace.offsets[i] as number);
    high = Math.max(
      high,
      (recording.trace.offsets[i] as number) + (recording.trace.lengths[i] as number),
    );
  }
  if (low === Infinity) return [0, header.sizeBytes];
  const margin = Math.max(64, Math.round((high - low) * 0.04));
  return [Math.max(0, Math.floor((low - margin) / 64) * 64), Math.ceil((high + margin) / 64) * 64];
}

function sectionBands(
  header: HeaderInfo,
  low: number,
  high: number,
  y: (offset: number) => number,
): string {
  return header.sections
    .filter((section) => section.offset < high && section.offset + section.length > low)
    .map((section, i) => {
      const top = y(Math.max(low, section.offset));
      const bottom = y(Math.min(high, section.offset + section.length));
      const fill = i % 2 === 0 ? '#f9fafb' : '#eef2ff';
      // The label sits in the left margin, level with the band's top: never on the marks.
      const name = section.name.length > 20 ? `${section.name.slice(0, 19)}…` : section.name;
      const labelY = Math.min(Math.max(top + 12, plot.top + 24), plot.top + plot.height - 16);
      return `<rect x="${plot.left}" y="${top}" width="${plot.width}" height="${bottom - top}" fill="${fill}"/><text x="${plot.left - 8}" y="${labelY}" text-anchor="end" fill="#6b7280"><title>${escape(section.name)}</title>${escape(name)}</text>`;
    })
    .join('');
}

function cutStrip(cutPoints: number[], x: (i: number) => number): string {
  const top = plot.top + plot.height + 4;
  const seen = new Set<number>();
  const ticks: string[] = [];
  for (const cut of cutPoints) {
    const px = Math.round(x(cut));
    if (seen.has(px)) continue;
    seen.add(px);
    ticks.push(
      `<line x1="${px}" x2="${px}" y1="${top}" y2="${top + plot.cutStrip - 6}" stroke="${colors.cut}" stroke-width="1"/>`,
    );
  }
  return ticks.join('');
}

function violationMarks(violations: ReportViolation[], x: (i: number) => number): string {
  let lastLabel = -Infinity;
  return violations
    .map(({ violation }, n) => {
      const cut = violation.plan.steps[0]?.cut ?? 0;
      const at = x(cut);
      const px = at.toFixed(1);
      const bottom = plot.top + plot.height + plot.cutStrip;
      // Numbers of neighbouring violations would overlap: label only the first of a cluster.
      const label = at - lastLabel >= 14;
      if (label) lastLabel = at;
      const number = label
        ? `<path d="M${px} ${plot.top - 2} l-6 -10 h12 z" fill="${colors.violation}"/><text x="${px}" y="${plot.top - 16}" text-anchor="middle" fill="${colors.violation}">${n + 1}</text>`
        : '';
      return `<g><title>${escape(`#${n + 1} [${violation.invariant}] ${violation.message} (cut ${cut})`)}</title><line x1="${px}" x2="${px}" y1="${plot.top}" y2="${bottom}" stroke="${colors.violation}" stroke-width="1.5" stroke-dasharray="4 3"/>${number}</g>`;
    })
    .join('');
}

function axes(instructions: number, low: number, high: number, x: (i: number) => number): string {
  const bottom = plot.top + plot.height + plot.cutStrip + 4;
  const parts = [
    `<line x1="${plot.left}" x2="${plot.left + plot.width}" y1="${bottom}" y2="${bottom}" stroke="#374151"/>`,
    `<text x="${plot.left + plot.width / 2}" y="${bottom + 30}" text-anchor="middle" fill="#374151">instruction (time) — ${instructions} instructions</text>`,
    `<text x="${plot.left - 8}" y="${plot.top + 4}" text-anchor="end" fill="#374151">0x${low.toString(16)}</text>`,
    `<text x="${plot.left - 8}" y="${plot.top + plot.height}" text-anchor="end" fill="#374151">0x${high.toString(16)}</text>`,
  ];
  const step = niceStep(instructions);
  for (let i = 0; i <= instructions; i += step) {
    const px = x(i).toFixed(1);
    parts.push(
      `<line x1="${px}" x2="${px}" y1="${bottom}" y2="${bottom + 5}" stroke="#374151"/><text x="${px}" y="${bottom + 16}" text-anchor="middle" fill="#374151">${i}</text>`,
    );
  }
  return parts.join('');
}

function niceStep(count: number): number {
  const raw = Math.max(1, count / 10);
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= raw) ?? power * 10;
}

function violationSections(violations: ReportViolation[], violationStates: number): string {
  if (violations.length === 0)
    return '<p class="ok">None: every crash state visited satisfied every invariant.</p>';
  const listed = new Set(violations.map(({ violation }) => violation.token)).size;
  const more =
    violationStates > listed
      ? `<p>${violations.length} findings in ${listed} crash states listed; ${violationStates - listed} more violating crash states not listed (raise violationsMax to see them).</p>`
      : `<p>Every violating crash state is listed (${listed}).</p>`;
  return (
    more +
    violations
      .map(({ violation, replay }, n) => {
        const title = `#${n + 1} [${violation.invariant}] ${violation.message}`;
        return `<h3 class="bad">${escape(title)}</h3><p>replay token: <code class="token">${escape(violation.token)}</code></p><p>plan: <code>${escape(JSON.stringify(violation.plan))}</code></p><pre>${escape(formatReplay(replay, violation.token))}</pre>`;
      })
      .join('\n')
  );
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
