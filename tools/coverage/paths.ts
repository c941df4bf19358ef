/**
 * Where the coverage run keeps its files, shared by vitest.coverage.config.ts (which writes
 * them) and tools/coverage/report.ts (which merges them). Absolute: the child processes that
 * write raw V8 coverage run in folders of their own.
 */
import { fileURLToPath } from 'node:url';

/** Run as tools/coverage/paths.ts (by vitest) or as dist/tools/coverage/paths.js (by node). */
const up = import.meta.url.endsWith('.ts') ? '../..' : '../../..';
export const projectRoot = fileURLToPath(new URL(`${up}/`, import.meta.url)).replace(/\/$/, '');

export const coverageRoot = `${projectRoot}/coverage`;
/** Raw V8 coverage written by every node process the tests spawn (NODE_V8_COVERAGE). */
export const childProcessCoverage = `${coverageRoot}/child-processes`;
/** The in-process coverage, as vitest's v8 provider converted it (coverage-final.json). */
export const inProcessCoverage = `${coverageRoot}/in-process`;
/** The measured source folders; child processes run their build in dist/. */
export const measuredFolders = ['src', 'cli', 'sim'];
