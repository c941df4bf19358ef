/**
 * tools/coverage/merge.ts: a child process's coverage of a file joins the in-process one item
 * by item when both list the same items, even where their source maps place them a few
 * columns apart; a file whose items differ is left out and named.
 */
import libCoverage, { type FileCoverageData } from 'istanbul-lib-coverage';
import { describe, expect, test } from 'vitest';
import { mergeChildProcesses } from '../../tools/coverage/merge.js';

const file = '/project/src/pool.ts';

/** One `if` (two paths) and one statement; `endColumn` stands for the build's source map. */
function coverage(endColumn: number, taken: [number, number], ran: number): FileCoverageData {
  const at = (line: number) => ({
    start: { line, column: 2 },
    end: { line, column: endColumn },
  });
  return {
    path: file,
    statementMap: { '0': at(3) },
    fnMap: {},
    branchMap: {
      '0': { type: 'if', loc: at(4), locations: [at(4), at(4)], line: 4 },
    },
    s: { '0': ran },
    f: {},
    b: { '0': taken },
  };
}

describe('mergeChildProcesses', () => {
  test('adds the counts of items that line up, under the in-process locations', () => {
    const inProcess = libCoverage.createCoverageMap({ [file]: coverage(30, [2, 0], 2) });
    const children = libCoverage.createCoverageMap({ [file]: coverage(26, [0, 5], 5) });
    expect(mergeChildProcesses(inProcess, children)).toEqual([]);
    const merged = inProcess.fileCoverageFor(file);
    expect(merged.b).toEqual({ '0': [2, 5] });
    expect(merged.s).toEqual({ '0': 7 });
    expect(merged.toSummary().branches).toMatchObject({ total: 2, covered: 2 });
  });

  test('a file whose items differ keeps its in-process counts and is named', () => {
    const inProcess = libCoverage.createCoverageMap({ [file]: coverage(30, [2, 0], 2) });
    const changed = coverage(26, [0, 5], 5);
    changed.branchMap['0']!.type = 'cond-expr';
    const children = libCoverage.createCoverageMap({ [file]: changed });
    expect(mergeChildProcesses(inProcess, children)).toEqual([file]);
    expect(inProcess.fileCoverageFor(file).b).toEqual({ '0': [2, 0] });
  });

  test('a file measured only in child processes is taken as it is', () => {
    const inProcess = libCoverage.createCoverageMap({});
    const children = libCoverage.createCoverageMap({ [file]: coverage(26, [1, 1], 1) });
    expect(mergeChildProcesses(inProcess, children)).toEqual([]);
    expect(inProcess.fileCoverageFor(file).b).toEqual({ '0': [1, 1] });
  });
});
