import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers, bottom up: src/ (the library) < sim/ (the crash lab, with the examples/ it
 * runs) < cli/ (the `nvrelay` command). A layer never imports one above it, nor bench/ or
 * test/; cli/ loads sim/ only with `import()` inside a command's action, so the other commands
 * never load the lab. test/docs/layering.test.ts checks that these rules still fire.
 */
const layers = [
  {
    folder: 'src',
    what: 'src/ (the library)',
    forbidden: ['sim', 'cli', 'bench', 'examples', 'test'],
    lazy: [],
  },
  { folder: 'sim', what: 'sim/ (the crash lab)', forbidden: ['cli', 'bench', 'test'], lazy: [] },
  {
    folder: 'cli',
    what: 'cli/ (the command line)',
    forbidden: ['bench', 'test'],
    lazy: ['sim', 'examples'],
  },
];
/** Folder nesting inside a layer that the rules cover (sim/explore/x.ts is depth 1). */
const depthMax = 6;

/** `^(\.\./){up}(a|b)(/|$)`: a relative import of these top-level folders from `up` levels down. */
function topLevel(names, up, slash = '/') {
  return `^(\\.\\.${slash}){${up}}(${names.join('|')})(${slash}|$)`;
}

function layerRules({ folder, what, forbidden, lazy }, depth) {
  const up = depth + 1;
  const message = `${what} must not import ${forbidden.map((name) => `${name}/`).join(', ')}: see the layers in docs/ARCHITECTURE.md`;
  const patterns = [{ regex: topLevel(forbidden, up), message }];
  if (folder === 'src') patterns.push({ group: ['nvrelay', 'nvrelay/*'], message });
  if (lazy.length > 0) {
    patterns.push({
      regex: topLevel(lazy, up),
      allowTypeImports: true,
      message: `${what} loads ${lazy.map((name) => `${name}/`).join(', ')} only with \`await import()\` inside a command's action, so the other commands never load it`,
    });
  }
  return {
    files: [`${folder}/${'*/'.repeat(depth)}*`],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns }],
      'no-restricted-syntax': [
        'error',
        {
          // import('...') is not an import declaration: the rule above does not see it
          selector: `ImportExpression[source.value=/${topLevel(forbidden, up, '\\x2F')}/]`,
          message,
        },
      ],
    },
  };
}

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'build/',
      'build-*/',
      'node_modules/',
      'coverage/',
      'reports/',
      '.stryker-tmp/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  ...layers.flatMap((layer) =>
    Array.from({ length: depthMax + 1 }, (_, depth) => layerRules(layer, depth)),
  ),
);
