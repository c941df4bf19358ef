/**
 * Loads the native addon (native/, built by cmake-js or node-gyp) once and hands it the
 * error classes it throws (the better-sqlite3 pattern), so native errors are ordinary
 * `instanceof NvramError` exceptions with a string `code`.
 *
 * Where it looks, first match wins:
 *   1. $NVRELAY_ADDON (absolute, or relative to the working folder or the package root),
 *   2. <package root>/build-cmake/Release/nvrelay.node   (`npm install`, `npm run build:native`),
 *   3. <package root>/build/Release/nvrelay.node         (`npx node-gyp rebuild`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NvramAddon } from './addon-api.js';
import { NvramError, PowerCutError } from './errors.js';

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

function candidates(root: string): string[] {
  const fromEnv = process.env.NVRELAY_ADDON;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (isAbsolute(fromEnv)) return [fromEnv];
    return [resolve(process.cwd(), fromEnv), resolve(root, fromEnv)];
  }
  return [
    join(root, 'build-cmake', 'Release', 'nvrelay.node'),
    join(root, 'build', 'Release', 'nvrelay.node'),
  ];
}

function load(): NvramAddon {
  const root = packageRoot();
  const tried = candidates(root);
  const found = tried.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      `nvram: native addon not built (looked for ${tried.join(', ')}); ` +
        'run `npm run build:native` (cmake-js) or `npx node-gyp rebuild` in ' +
        root,
    );
  }
  const require = createRequire(import.meta.url);
  const loaded = require(found) as NvramAddon;
  loaded.setErrorClasses(NvramError, PowerCutError);
  return loaded;
}

/** The native addon, typed by addon-api.ts. */
export const addon: NvramAddon = load();
