/**
 * The modules a compiled entry point loads, read from dist/ (what tsc emitted, so what a user
 * runs): relative imports are followed, bare ones ('commander', 'node:fs') are collected.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

export interface Closure {
  /** Files reached, relative to `root` ('dist/src/index.js'). */
  files: Set<string>;
  /** Bare specifiers imported by those files ('commander', 'node:fs', 'cli-progress'). */
  packages: Set<string>;
}

const staticImport = /^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"]([^'"]+)['"]/gm;
const dynamicImport = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** What `entries` load; with `dynamic: false`, only what loads before any `import()` runs. */
export function importClosure(
  root: string,
  entries: string[],
  options: { dynamic: boolean },
): Closure {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = entries.map((entry) => resolve(root, entry));
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    const name = relative(root, file);
    if (files.has(name)) continue;
    if (!existsSync(file)) throw new Error(`${name} is imported but missing: run 'npm run build'`);
    files.add(name);
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(staticImport)].map((match) => match[1] as string);
    if (options.dynamic) {
      specifiers.push(...[...text.matchAll(dynamicImport)].map((match) => match[1] as string));
    }
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier));
      else packages.add(specifier);
    }
  }
  return { files, packages };
}
