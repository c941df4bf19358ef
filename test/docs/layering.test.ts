/**
 * The layers (src/ < sim/ < cli/, see eslint.config.js): the lint rules that enforce them
 * still fire, and the compiled command loads the crash lab only when `crashtest` runs.
 */
import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, test } from 'vitest';
import { importClosure } from './import-closure.js';

const root = resolve(import.meta.dirname, '../..');
let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

/** The layering messages ESLint reports for `code` as if it were the file at `path`. */
async function layeringMessages(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  return (result?.messages ?? [])
    .filter((message) => /no-restricted-(imports|syntax)$/.test(message.ruleId ?? ''))
    .map((message) => message.message);
}

describe('the layering lint rules', () => {
  test('src/ may not import sim/, cli/, bench/, examples/ or test/', async () => {
    for (const folder of ['sim', 'cli', 'bench', 'examples', 'test']) {
      const code = `import { x } from '../../${folder}/x.js';\nexport const y = x;\n`;
      const messages = await layeringMessages('src/events/probe.ts', code);
      expect(messages, folder).toHaveLength(1);
      expect(messages[0]).toContain('src/ (the library) must not import');
    }
    const fromTop = "export { x } from '../sim/x.js';\n";
    expect(await layeringMessages('src/probe.ts', fromTop)).toHaveLength(1);
    const lazily = "export const load = () => import('../../sim/x.js');\n";
    expect(await layeringMessages('src/events/probe.ts', lazily)).toHaveLength(1);
  });

  test('src/ may import src/', async () => {
    const code = "import { x } from '../nvram/index.js';\nexport const y = x;\n";
    expect(await layeringMessages('src/events/probe.ts', code)).toEqual([]);
  });

  test('sim/ may not import cli/, bench/ or test/, and may import src/, examples/, sim/', async () => {
    const bad = "import { x } from '../../cli/main.js';\nexport const y = x;\n";
    const messages = await layeringMessages('sim/explore/probe.ts', bad);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('sim/ (the crash lab) must not import');
    const good = [
      "import { a } from '../../src/nvram/index.js';",
      "import { b } from '../../examples/persistent-log.js';",
      "import { c } from '../cli/crashtest.js';", // sim/cli, the lab's own runner
      'export const all = [a, b, c];',
    ].join('\n');
    expect(await layeringMessages('sim/explore/probe.ts', `${good}\n`)).toEqual([]);
  });

  test('cli/ loads sim/ only with import(): a static value import is flagged', async () => {
    const bad =
      "import { runCrashtest } from '../sim/cli/crashtest.js';\nexport const y = runCrashtest;\n";
    const messages = await layeringMessages('cli/probe.ts', bad);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain('only with `await import()`');
    const good = [
      "import type { Terminal } from '../sim/cli/crashtest.js';",
      "export const load = () => import('../sim/cli/crashtest.js');",
      'export type T = Terminal;',
    ].join('\n');
    expect(await layeringMessages('cli/probe.ts', `${good}\n`)).toEqual([]);
  });
});

describe('the compiled layers', () => {
  test('the library loads nothing outside dist/src', () => {
    const { files } = importClosure(root, ['dist/src/index.js'], { dynamic: true });
    expect([...files].filter((file) => !file.startsWith('dist/src/'))).toEqual([]);
  });

  test('nvrelay loads the crash lab only when crashtest runs', () => {
    const eager = importClosure(root, ['dist/cli/main.js'], { dynamic: false });
    expect([...eager.files].filter((file) => !/^dist\/(src|cli)\//.test(file))).toEqual([]);
    expect(eager.packages).not.toContain('cli-progress');
    const all = importClosure(root, ['dist/cli/main.js'], { dynamic: true });
    expect(all.files).toContain('dist/sim/cli/crashtest.js');
  });
});
