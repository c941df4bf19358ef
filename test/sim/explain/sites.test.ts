/**
 * sim/explain/sites.ts on stack texts: which frame names an instruction's site, and when a
 * helper's line is blamed on its caller instead.
 */
import { describe, expect, test } from 'vitest';
import { blameSites, callerSite, userFrames } from '../../../sim/explain/sites.js';

const here = process.cwd();

describe('callerSite', () => {
  test('the first frame outside sites.ts, relative to the working folder', () => {
    const stack = [
      'Error',
      `    at callerSite (${here}/sim/explain/sites.ts:60:18)`,
      `    at Log.append (${here}/examples/persistent-log.ts:42:9)`,
    ].join('\n');
    expect(callerSite(stack)).toBe('examples/persistent-log.ts:42 (Log.append)');
  });

  test('a frame without a function name, a path that is not absolute, and no frame at all', () => {
    expect(callerSite(`Error\n    at ${here}/examples/run.ts:7:1`)).toBe('examples/run.ts:7');
    expect(callerSite('Error\n    at async Log.flush (pmem.js:3:5)')).toBe('pmem.js:3 (Log.flush)');
    expect(callerSite('Error')).toBe('unknown site');
    expect(callerSite('Error\n    at <anonymous>')).toBe('unknown site');
  });
});

describe('userFrames', () => {
  test("the lab's, the device's, node's and dependencies' frames are left out", () => {
    const stack = [
      'Error',
      `    at TracedNvram.store (${here}/src/nvram/traced.ts:80:5)`,
      `    at issue (${here}/sim/explain/sites.ts:25:20)`,
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      `    at run (${here}/node_modules/vitest/dist/index.js:1:1)`,
      `    at Log.append (${here}/examples/persistent-log.ts:42:9)`,
      `    at main (${here}/examples/run.ts:7:1)`,
    ].join('\n');
    expect(userFrames(stack)).toEqual([
      'examples/persistent-log.ts:42 (Log.append)',
      'examples/run.ts:7 (main)',
    ]);
  });

  test('at most four frames', () => {
    const lines = Array.from({ length: 6 }, (_, i) => `    at f${i} (${here}/app/a.ts:${i + 1}:1)`);
    expect(userFrames(['Error', ...lines].join('\n'))).toHaveLength(4);
  });
});

describe('blameSites', () => {
  test('a helper line used by several callers is named via its caller; else the line itself', () => {
    const persist = 'pmem.ts:7 (persist)';
    const sites = blameSites([
      [persist, 'log.ts:42 (Log.append)'],
      [persist, 'log.ts:50 (Log.trim)'],
      ['log.ts:60 (Log.reset)', 'main.ts:1 (main)'],
      ['main.ts:3'],
      [],
    ]);
    expect(sites).toEqual([
      'log.ts:42 (Log.append) via pmem.ts:7',
      'log.ts:50 (Log.trim) via pmem.ts:7',
      'log.ts:60 (Log.reset)',
      'main.ts:3',
      'unknown site',
    ]);
  });
});
