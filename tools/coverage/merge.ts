/**
 * Merging the child processes' coverage into the in-process one.
 *
 * istanbul merges two maps of a file by the items' source locations. The two sides here map
 * the same TypeScript through different builds (vitest's transform in process, tsc's dist/ in
 * the children), whose source maps place many starts and ends a few columns apart: merged by
 * location, one `if` would count as two branches. Both sides are converted by the same
 * converter from the same program, though, so they list the same items in the same order; a
 * child file whose items line up with the in-process file's (same count, each branch of the
 * same kind with as many paths) takes the in-process locations, and istanbul adds the counts.
 * A file that does not line up (its source changed between the build and the test run) keeps
 * only its in-process counts and is named in the result.
 */
import libCoverage, { type CoverageMap, type FileCoverageData } from 'istanbul-lib-coverage';

function sameItems(reference: FileCoverageData, other: FileCoverageData): boolean {
  const ids = (items: object) => Object.keys(items).join();
  if (ids(reference.statementMap) !== ids(other.statementMap)) return false;
  if (ids(reference.fnMap) !== ids(other.fnMap)) return false;
  if (ids(reference.branchMap) !== ids(other.branchMap)) return false;
  return Object.entries(reference.branchMap).every(([id, branch]) => {
    const counterpart = other.branchMap[id];
    return (
      counterpart?.type === branch.type && counterpart.locations.length === branch.locations.length
    );
  });
}

/** Adds `children` into `inProcess`; returns the files whose counts could not be added. */
export function mergeChildProcesses(inProcess: CoverageMap, children: CoverageMap): string[] {
  const misaligned: string[] = [];
  const known = new Set(inProcess.files());
  for (const file of children.files()) {
    const child = children.fileCoverageFor(file).data;
    if (!known.has(file)) {
      // measured only in child processes (a partial run leaves untested files out in process)
      inProcess.merge(libCoverage.createCoverageMap({ [file]: child }));
      continue;
    }
    const reference = inProcess.fileCoverageFor(file).data;
    if (!sameItems(reference, child)) {
      misaligned.push(file);
      continue;
    }
    const relocated: FileCoverageData = {
      ...child,
      statementMap: reference.statementMap,
      fnMap: reference.fnMap,
      branchMap: reference.branchMap,
    };
    inProcess.merge(libCoverage.createCoverageMap({ [file]: relocated }));
  }
  return misaligned;
}
