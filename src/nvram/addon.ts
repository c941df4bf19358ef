/**
 * Loads the native addon (native/) on first use and hands it the error classes it throws (the
 * better-sqlite3 pattern), so native errors are ordinary `instanceof NvramError` exceptions with
 * a string `code`. Loading is lazy: importing the library (or running `nvrelay --help`) needs
 * no addon; the first device operation does, and without one it throws NvramError
 * NVRAM_ADDON_MISSING.
 *
 * Where it looks, first match wins:
 *   1. $NVRELAY_ADDON (absolute, or relative to the working folder or the package root),
 *   2. <package root>/build-cmake/Release/nvrelay.node  (a source build: `npm run build:native`,
 *      or `npm install` where no prebuilt binary loads),
 *   3. what node-gyp-build finds in the package root: build/Release/nvrelay.node
 *      (`npx node-gyp rebuild`), then prebuilds/<platform>-<arch>/nvrelay.node (the binaries
 *      shipped in the npm package, made by prebuildify at pack time).
 * The addon uses Node-API only (ABI-stable), so one binary per platform serves every Node.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NvramAddon } from './addon-api.js';
import { NvramError, PowerCutError } from './errors.js';

const require = createRequire(import.meta.url);

/** The folder holding our package.json: two levels up from src/nvram, three from dist/src/nvram. */
function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth++) {
    if (existsSync(join(folder, 'package.json'))) return folder;
    const parent = dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  throw new Error(
    `nvram: cannot find the nvrelay package root above ${fileURLToPath(import.meta.url)}`,
  );
}

/** The addon file to load, or the places looked at. */
function locate(root: string): { found: string } | { tried: string[] } {
  const fromEnv = process.env.NVRELAY_ADDON;
  if (fromEnv !== undefined && fromEnv !== '') {
    const tried = isAbsolute(fromEnv)
      ? [fromEnv]
      : [resolve(process.cwd(), fromEnv), resolve(root, fromEnv)];
    const found = tried.find((path) => existsSync(path));
    return found === undefined ? { tried } : { found };
  }
  const sourceBuild = join(root, 'build-cmake', 'Release', 'nvrelay.node');
  if (existsSync(sourceBuild)) return { found: sourceBuild };
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  try {
    return { found: nodeGypBuild.path(root) };
  } catch {
    return {
      tried: [
        sourceBuild,
        join(root, 'build', 'Release', 'nvrelay.node'),
        join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'nvrelay.node'),
      ],
    };
  }
}

function load(): NvramAddon {
  const root = packageRoot();
  const located = locate(root);
  if (!('found' in located)) {
    throw new NvramError(
      'NVRAM_ADDON_MISSING',
      `nvram: native addon not built (looked for ${located.tried.join(', ')}); ` +
        `no prebuilt binary for ${process.platform}-${process.arch}: ` +
        'run `npm run build:native` (cmake-js) or `npx node-gyp rebuild` in ' +
        root,
    );
  }
  const loaded = require(located.found) as NvramAddon;
  loaded.setErrorClasses(NvramError, PowerCutError);
  return loaded;
}

let loaded: NvramAddon | null = null;

/** The native addon, loaded now if it is not yet. */
export function nativeAddon(): NvramAddon {
  loaded ??= load();
  return loaded;
}

/**
 * The native addon, typed by addon-api.ts; loaded on the first property read (a failed load is
 * retried at the next one).
 */
export const addon: NvramAddon = new Proxy({} as NvramAddon, {
  get: (_target, key) => Reflect.get(nativeAddon(), key) as unknown,
});
