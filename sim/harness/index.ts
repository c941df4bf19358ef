/**
 * The crash lab's harness for persistent code written against `NvramDevice` (issue 4).
 * See crash-test.ts for the exploring API. The property tests that shrink (fast-check.ts) are
 * an entry point of their own, `nvrelay/harness/fast-check`, so that this one loads and
 * type-checks without fast-check installed.
 */
export {
  coverageOf,
  crashTest,
  replayCrashTest,
  type Coverage,
  subjectOf,
  type CrashSpec,
  type CrashTestOptions,
  type CrashTestResult,
} from './crash-test.js';
export type { CrashOutcome, DeviceFormat, Finding, StageContext, CheckResult } from '../subject.js';
export type { ViolationReport, ExploreOptions, ExploreCounts } from '../explore/explorer.js';
export { isExhaustive } from '../explore/explorer.js';
export { CrashPlanError, decodePlan, encodePlan, type CrashPlan, type CrashStep } from '../plan.js';
