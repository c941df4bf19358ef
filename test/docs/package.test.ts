/**
 * What `npm pack` puts in the tarball (package.json `files`): everything the library, the
 * harness and the `nvrelay` command load, the native sources, the documents the README links
 * and the typings cite, and no benchmarks, tests or source maps. (The prebuilt binaries are
 * built by `prepack`, which this dry run skips; .ci/run packs for real and checks them.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { importClosure } from './import-closure.js';

const root = resolve(import.meta.dirname, '../..');
const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  files: string[];
  scripts: Record<string, string>;
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

  test('holds what the README links: the specification, the manuals, the screenshot, the licence', () => {
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)\)/g)]
      .map((match) => match[1] ?? '')
      .filter((target) => !/^[a-z]+:/.test(target));
    expect(links).toEqual(
      expect.arrayContaining(['docs/crash-report.png', 'sim/README.md', 'docs/SPEC.md']),
    );
    for (const link of links) expect(packed, link).toContain(link);
    for (const path of ['LICENSE', 'CHANGELOG.md', 'docs/ARCHITECTURE.md'])
      expect(packed, path).toContain(path);
    expect(readFileSync(resolve(root, 'LICENSE'), 'utf8')).toContain('Apache License');
  });

  test('the typings cite only documents the tarball holds', () => {
    // dist/**/*.d.ts carry the source's doc comments: `SPEC 4.5` and friends are docs/SPEC.md
    const cites = [...packed].filter((path) => path.endsWith('.d.ts'));
    expect(cites.length).toBeGreaterThan(10);
    for (const path of cites) {
      const text = readFileSync(resolve(root, path), 'utf8');
      for (const match of text.matchAll(/[\w./-]*\.md\b/g)) {
        const doc = match[0].replace(/^\.\//, '');
        // a document of the repository that a typing cites ships with it
        if (doc.includes('/') && existsSync(resolve(root, doc)))
          expect(packed, `${path} cites ${doc}`).toContain(doc);
      }
      expect(text, path).not.toMatch(/\bSTYLE \d|(?<!docs\/)SPEC\.md/);
    }
  });

  test('ships prebuilt binaries for linux-x64 and linux-arm64, built at pack time', () => {
    expect(manifest.files).toContain('prebuilds/*/nvrelay.node');
    expect(manifest.scripts['prepack']).toContain('npm run build:prebuilds');
    expect(manifest.scripts['build:prebuilds:x64']).toMatch(/prebuildify --napi .*--arch x64/);
    expect(manifest.scripts['build:prebuilds:arm64']).toMatch(/prebuildify --napi .*--arch arm64/);
    // an install tries the shipped binary first and builds from source only if none loads
    expect(manifest.scripts['install']).toMatch(/node-gyp-build-test \|\| cmake-js compile/);
  });

  test('leaves out benchmarks, tests, the native self-test, source maps and stale output', () => {
    const unwanted = [...packed].filter(
      (path) =>
        /^(dist\/(bench|test|src\/cli)|native\/test|build[^/]*|prebuilds\/[^/]+\/(?!nvrelay\.node$))\//.test(
          path,
        ) ||
        path.endsWith('.map') ||
        /^BENCHMARKS\.md$/.test(path),
    );
    expect(unwanted).toEqual([]);
  });
});
