/**
 * src/nvram/addon.ts as the built library loads it in a fresh process: $NVRELAY_ADDON absolute,
 * relative to the package root, or naming nothing (NVRAM_ADDON_MISSING with the places tried).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const library = pathToFileURL(join(root, 'dist/src/nvram/index.js')).href;
const sourceBuild = join(root, 'build-cmake/Release/nvrelay.node');
const elsewhere = mkdtempSync(join(tmpdir(), 'nvrelay-addon-'));
afterAll(() => rmSync(elsewhere, { recursive: true, force: true }));

/** Runs the first device operation (a CRC) with NVRELAY_ADDON set; its output or its error. */
function firstUse(addon: string): string {
  const script = `
    import(${JSON.stringify(library)}).then(
      ({ crc32c }) => console.log('crc ' + crc32c(new Uint8Array([1, 2, 3]))),
      (error) => console.log('import failed ' + error.message),
    ).catch((error) => console.log(error.code + ' ' + error.message));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: elsewhere,
    encoding: 'utf8',
    env: { ...process.env, NVRELAY_ADDON: addon },
  });
  return result.stdout.trim();
}

describe.skipIf(!existsSync(sourceBuild))('NVRELAY_ADDON', () => {
  test('an absolute path, or one relative to the package root, is loaded', () => {
    const absolute = firstUse(sourceBuild);
    expect(absolute).toMatch(/^crc \d+$/);
    expect(firstUse('build-cmake/Release/nvrelay.node')).toBe(absolute);
  });

  test('a path where no addon is: NVRAM_ADDON_MISSING naming the places looked at', () => {
    const missing = join(elsewhere, 'no-such.node');
    expect(firstUse(missing)).toBe(
      `NVRAM_ADDON_MISSING nvram: native addon not built (looked for ${missing}); ` +
        `no prebuilt binary for ${process.platform}-${process.arch}: ` +
        `run \`npm run build:native\` (cmake-js) or \`npx node-gyp rebuild\` in ${root.replace(/\/$/, '')}`,
    );
    const relative = firstUse('nowhere/nvrelay.node');
    expect(relative).toContain(`looked for ${join(elsewhere, 'nowhere/nvrelay.node')}, `);
    expect(relative).toContain(join(root, 'nowhere/nvrelay.node'));
  });
});
