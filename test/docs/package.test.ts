/**
 * What `npm pack` puts in the tarball (package.json `files`): everything the library, the
 * harness and the `nvrelay` command load, the native sources, and no benchmarks, tests or
 * source maps.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { importClosure } from './import-closure.js';

const root = resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};
/** What users load: the exports, the bin, and the crash lab's worker (forked by path). */
const entries = [
  ...Object.values(manifest.exports).map((entry) => entry.default),
  ...Object.values(manifest.bin),
  './dist/sim/explore/worker.js',
].map((path) => path.replace(/^\.\//, ''));

let packed: Set<string>;
beforeAll(() => {
  const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
  });
  const [pack] = JSON.parse(json) as [{ files: { path: string }[] }];
  packed = new Set(pack.files.map((file) => file.path));
});

describe('npm pack', () => {
  test('holds the library, the command, the harness and the native sources', () => {
    for (const path of [
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/cli/main.js',
      'dist/sim/harness/index.js',
      'dist/sim/harness/index.d.ts',
      'native/addon.cpp',
      'native/nvram.h',
      'CMakeLists.txt',
      'binding.gyp',
    ]) {
      expect(packed, path).toContain(path);
    }
  });

  test('holds every module the entry points load', () => {
    const { files } = importClosure(root, entries, { dynamic: true });
    expect([...files].filter((file) => !packed.has(file))).toEqual([]);
    for (const entry of Object.values(manifest.exports))
      expect(packed).toContain(entry.types.slice(2));
  });

  test('the packages they import are dependencies (or an optional peer)', () => {
    const { packages } = importClosure(root, entries, { dynamic: true });
    const known = new Set([
      ...Object.keys(manifest.dependencies),
      ...Object.keys(manifest.peerDependencies),
    ]);
    const builtin = (name: string) => name.startsWith('node:') || builtinModules.includes(name);
    const missing = [...packages].filter((name) => !builtin(name) && !known.has(name));
    expect(missing).toEqual([]);
  });

  test('leaves out benchmarks, tests, the native self-test, source maps and stale output', () => {
    const unwanted = [...packed].filter(
      (path) => /^(dist\/(bench|test|src\/cli)|native\/test)\//.test(path) || path.endsWith('.map'),
    );
    expect(unwanted).toEqual([]);
  });
});
