import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';
import { inProcessCoverage } from './tools/coverage/paths.js';

/**
 * The suite under @vitest/coverage-v8, for `npm run coverage` (tools/coverage/run.ts), which
 * then merges in what the child processes wrote and reports both as one.
 */
export default mergeConfig(
  base,
  defineConfig({
    test: {
      setupFiles: ['tools/coverage/child-processes.setup.ts'],
      // coverage counters allocate: the no-allocation checks cannot hold under coverage
      exclude: [...configDefaults.exclude, 'test/node/no-allocation.test.ts'],
      testNamePattern: /^(?!.*trigger no garbage collection)/,
      // .ci/run reads build-test/results.json of `npm test`: leave it alone
      outputFile: { json: `${inProcessCoverage}/results.json` },
      coverage: {
        enabled: true,
        provider: 'v8',
        include: ['src/**', 'cli/**', 'sim/**'],
        // the include globs also match test/sim/: test helpers are not measured
        exclude: ['test/**'],
        reporter: [['json', { file: 'coverage-final.json' }]],
        reportsDirectory: inProcessCoverage,
        reportOnFailure: true,
      },
    },
  }),
);
