/**
 * A setup file of the coverage run only: every node process a test spawns (the `nvrelay`
 * commands, pumps, daemons, crash-lab children) inherits NODE_V8_COVERAGE and writes its raw
 * V8 coverage there when it exits. Set here, in the test worker, rather than in vitest's `env`:
 * a worker started with it would write its own raw coverage too, of vitest-transformed modules
 * that the v8 provider already measures in process.
 */
import { childProcessCoverage } from './paths.js';

process.env.NODE_V8_COVERAGE = childProcessCoverage;
