/** The part of @bcoe/v8-coverage (which ships no typings) that the coverage merge uses. */
declare module '@bcoe/v8-coverage' {
  import type { Profiler } from 'node:inspector';

  export interface ProcessCov {
    result: Profiler.ScriptCoverage[];
  }
  /** Adds up the counts of every script over the processes, block by block. */
  export function mergeProcessCovs(processCovs: readonly ProcessCov[]): ProcessCov;
}
