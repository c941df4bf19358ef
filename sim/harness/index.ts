/**
 * The crash lab's harness for persistent code written against `NvramDevice` (issue 4).
 * See crash-test.ts for the exploring API and fast-check.ts for property tests that shrink.
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
export {
  assertCrashSafe,
  closeUnderModel,
  crashCases,
  CrashCounterexample,
  expectCrashSafe,
  planOfCase,
  runCrashCase,
  type AssertCrashSafeOptions,
  type CaseVerdict,
  type CrashCase,
} from './fast-check.js';
export type { CrashOutcome, DeviceFormat, Finding, StageContext, CheckResult } from '../subject.js';
export type { ViolationReport, ExploreOptions, ExploreCounts } from '../explore/explorer.js';
export { isExhaustive } from '../explore/explorer.js';
export { CrashPlanError, decodePlan, encodePlan, type CrashPlan, type CrashStep } from '../plan.js';
