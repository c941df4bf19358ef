/**
 * `npm run coverage` (after the build): the suite under vitest.coverage.config.ts, then the
 * child processes' raw V8 coverage merged with the in-process result and reported as one.
 * Arguments are passed to vitest (`npm run coverage -- test/cli` measures those tests only).
 * Exits with vitest's status, once the report is written.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import libCoverage from 'istanbul-lib-coverage';
import { childProcessCoverageMap } from './child-processes.js';
import { mergeChildProcesses } from './merge.js';
import { childProcessCoverage, coverageRoot, inProcessCoverage, projectRoot } from './paths.js';
import { writeReports } from './report.js';

rmSync(coverageRoot, { recursive: true, force: true });
mkdirSync(childProcessCoverage, { recursive: true });

const vitest = spawnSync(
  'npx',
  ['vitest', 'run', '--config', 'vitest.coverage.config.ts', ...process.argv.slice(2)],
  { cwd: projectRoot, stdio: 'inherit' },
);

const inProcessFile = `${inProcessCoverage}/coverage-final.json`;
if (!existsSync(inProcessFile)) {
  console.error(
    `no in-process coverage in ${inProcessFile}: vitest did not get as far as its report`,
  );
  process.exit(1);
}
const merged = libCoverage.createCoverageMap(JSON.parse(readFileSync(inProcessFile, 'utf8')));
const children = await childProcessCoverageMap(childProcessCoverage);
const misaligned = mergeChildProcesses(merged, children.map);
console.log(
  `\nmerged the raw coverage of ${children.processes} child processes (${children.map.files().length} source files)`,
);
for (const file of misaligned) {
  console.log(`not merged (its build differs from the source tested in process): ${file}`);
}
for (const line of writeReports(merged)) console.log(line);
process.exitCode = vitest.status ?? 1;
