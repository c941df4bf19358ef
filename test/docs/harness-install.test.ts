/**
 * `nvrelay/harness` as a user installs it, from the packed tarball into an empty project without
 * fast-check (an optional peer): it loads, `crashTest` runs, and a file using it type-checks
 * under `tsc --strict`. Only `nvrelay/harness/fast-check` needs fast-check.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const project = mkdtempSync(join(tmpdir(), 'nvrelay-harness-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** The repository's own addon build, as NVRELAY_ADDON (the tarball is packed without prebuilds). */
function addonBuild(): string {
  for (const path of ['build-cmake/Release/nvrelay.node', 'build/Release/nvrelay.node']) {
    if (existsSync(join(root, path))) return join(root, path);
  }
  throw new Error('no addon build: run `npm run build:native` first');
}

beforeAll(() => {
  // dist/ is built by `npm test`'s pretest; --ignore-scripts: no prepack rebuild, no prebuilds
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', project], {
    cwd: root,
    encoding: 'utf8',
  });
  const tarball = readdirSync(project).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack wrote no tarball');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user', type: 'module' }));
  execFileSync(
    'npm',
    ['install', `./${tarball}`, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
    { cwd: project, encoding: 'utf8' },
  );
}, 240_000);

function node(code: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: project,
    encoding: 'utf8',
    env: { ...process.env, NVRELAY_ADDON: addonBuild() },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const crashSpec = `
import { crashTest } from 'nvrelay/harness';

export const spec = {
  format: { sizeBytes: 8192, sections: [{ name: 'log', length: 4096 }] },
  workload: (device) => {
    const base = device.section('log').offset;
    device.storeU64(base + 64, 7);
    device.persist(base + 64, 8);
    device.storeU64(base, 1);
    device.persist(base, 8);
  },
  recover: (device) => {
    const base = device.section('log').offset;
    return { flag: device.loadU64(base), value: device.loadU64(base + 64) };
  },
  check: ({ recovered }) => recovered.flag === 0 || recovered.value === 7,
};
`;

describe('nvrelay/harness without fast-check', () => {
  test('fast-check is not installed in the project', () => {
    expect(existsSync(join(project, 'node_modules/nvrelay/package.json'))).toBe(true);
    expect(existsSync(join(project, 'node_modules/fast-check'))).toBe(false);
  });

  test('import("nvrelay/harness") loads, and crashTest explores a workload', () => {
    const result = node(`
      ${crashSpec}
      const result = crashTest(spec, { input: undefined, model: 'px86' });
      console.log(JSON.stringify({ ok: result.ok, exhaustive: result.exhaustive }));
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ ok: true, exhaustive: true });
  });

  test('only nvrelay/harness/fast-check asks for fast-check', () => {
    const result = node(`await import('nvrelay/harness/fast-check');`);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Cannot find package 'fast-check'/);
  });

  test('tsc --strict type-checks a file using crashTest', () => {
    writeFileSync(
      join(project, 'crash.ts'),
      `import { crashTest, type CrashSpec, type CrashTestResult } from 'nvrelay/harness';
import type { NvramDevice } from 'nvrelay';

export function run(spec: CrashSpec<undefined, { value: number }>): boolean {
  const result: CrashTestResult<{ value: number }> = crashTest(spec, {
    input: undefined,
    model: 'relaxed',
  });
  return result.ok;
}
export function recover(device: NvramDevice): { value: number } {
  return { value: device.loadU64(device.section('log').offset) };
}
`,
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const result = spawnSync(
      process.execPath,
      [
        tsc,
        '--strict',
        '--noEmit',
        '--target',
        'es2022',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--typeRoots',
        join(root, 'node_modules/@types'),
        '--types',
        'node',
        'crash.ts',
      ],
      { cwd: project, encoding: 'utf8' },
    );
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 120_000);
});
