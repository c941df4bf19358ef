/**
 * The merged report: istanbul's text table, text summary and JSON files in coverage/, and the
 * summary lines (coverage/summary.txt) that .ci/run prints: branches over all the measured
 * sources, per folder, and the least covered file.
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import libCoverage, { type CoverageMap, type CoverageSummary } from 'istanbul-lib-coverage';
import libReport from 'istanbul-lib-report';
import reports from 'istanbul-reports';
import { coverageRoot, measuredFolders, projectRoot } from './paths.js';

function branches(summary: CoverageSummary): string {
  const { pct, covered, total } = summary.branches;
  return `${pct.toFixed(1)}% (${covered.toLocaleString('en')} of ${total.toLocaleString('en')})`;
}

/** `branches 95.1% (3,286 of 3,455): src/ 96.0% ..., lowest cli/pump.ts 86.0% (...)` */
export function summaryLines(map: CoverageMap): string[] {
  const files = map.files().map((file) => ({
    name: relative(projectRoot, file),
    summary: map.fileCoverageFor(file).toSummary(),
  }));
  const folderSummary = (folder: string): CoverageSummary => {
    const summary = libCoverage.createCoverageSummary();
    for (const file of files) if (file.name.startsWith(`${folder}/`)) summary.merge(file.summary);
    return summary;
  };
  const withBranches = files.filter((file) => file.summary.branches.total > 0);
  withBranches.sort((a, b) => a.summary.branches.pct - b.summary.branches.pct);
  const lowest = withBranches.slice(0, 3).map((file) => `${file.name} ${branches(file.summary)}`);
  return [
    `branch coverage (in process and child processes): ${branches(map.getCoverageSummary())}`,
    `  by folder: ${measuredFolders.map((folder) => `${folder}/ ${branches(folderSummary(folder))}`).join(', ')}`,
    `  lowest: ${lowest.join(', ')}`,
  ];
}

export function writeReports(map: CoverageMap): string[] {
  const context = libReport.createContext({ dir: coverageRoot, coverageMap: map });
  for (const reporter of ['text', 'text-summary', 'json-summary', 'json'] as const) {
    reports.create(reporter, { skipFull: reporter === 'text' }).execute(context);
  }
  const lines = summaryLines(map);
  writeFileSync(`${coverageRoot}/summary.txt`, `${lines.join('\n')}\n`);
  return lines;
}
