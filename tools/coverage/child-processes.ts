/**
 * The coverage of the child processes: the raw V8 coverage that every spawned node process
 * wrote (NODE_V8_COVERAGE), of the compiled dist/src, dist/cli and dist/sim, added up over the
 * processes and mapped back to the TypeScript sources through the build's source maps.
 *
 * Converted with ast-v8-to-istanbul, the converter @vitest/coverage-v8 uses in process, so that
 * a branch has one definition (and one location key) on both sides and the two maps merge.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mergeProcessCovs, type ProcessCov } from '@bcoe/v8-coverage';
import { parse } from 'acorn';
import convert from 'ast-v8-to-istanbul';
import libCoverage, { type CoverageMap } from 'istanbul-lib-coverage';
import { measuredFolders, projectRoot } from './paths.js';

const compiled = measuredFolders.map(
  (folder) => pathToFileURL(`${projectRoot}/dist/${folder}/`).href,
);
const sources = measuredFolders.map((folder) => `${projectRoot}/${folder}/`);

/** The measured scripts' coverage in one raw file (others: npm, node's internals, tests' own). */
function measuredScripts(file: string): ProcessCov {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as ProcessCov;
  return {
    result: raw.result.filter(
      ({ url }) => url.endsWith('.js') && compiled.some((folder) => url.startsWith(folder)),
    ),
  };
}

async function toIstanbul(script: ProcessCov['result'][number]): Promise<CoverageMap> {
  const path = fileURLToPath(script.url);
  const code = readFileSync(path, 'utf8');
  const sourceMap = JSON.parse(readFileSync(`${path}.map`, 'utf8')) as {
    version: number;
    mappings: string;
    sources: string[];
    names: string[];
  };
  const ast = parse(code, { ecmaVersion: 'latest', sourceType: 'module' });
  // node runs an ES module's text as it is: no wrapper before the code
  const data = await convert({ code, sourceMap, ast: ast as never, coverage: script });
  return libCoverage.createCoverageMap(data);
}

/** Everything the child processes wrote into `directory`, as one map over the sources. */
export async function childProcessCoverageMap(
  directory: string,
): Promise<{ map: CoverageMap; processes: number }> {
  const files = existsSync(directory)
    ? readdirSync(directory).filter((name) => name.endsWith('.json'))
    : [];
  const perProcess = files.map((name) => measuredScripts(`${directory}/${name}`));
  const merged = mergeProcessCovs(perProcess.filter(({ result }) => result.length > 0));
  const map = libCoverage.createCoverageMap({});
  for (const script of merged.result) {
    if (existsSync(`${fileURLToPath(script.url)}.map`)) map.merge(await toIstanbul(script));
  }
  // a dist/ file whose source is gone (left over from an older build) measures nothing
  map.filter((file) => existsSync(file) && sources.some((folder) => file.startsWith(folder)));
  return { map, processes: files.length };
}
