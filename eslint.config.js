// One linter for the whole tree. Formatting belongs to Prettier (see .prettierrc.json).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

// core/ is pure: time, randomness and I/O come in from the edge (DESIGN.md), so the same
// code runs in a node process, in the simulator and in the browser.
const impureInCore =
  'core/ is pure; pass it in from server/ or sim/ (DESIGN.md, "Shape of the code").';

// sim/ is pure in the same way, and more strictly deterministic: the same seed must print the same
// report byte for byte, so the clock is the simulator's own and randomness a seeded stream.
const impureInSim =
  "sim/ is deterministic: time is its Scheduler's, randomness a seeded stream (sim/random.ts).";

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.next/',
      '.tinycache/',
      'coverage/',
      'test-results/',
      'next-env.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      // With noUncheckedIndexedAccess every typed-array read is `number | undefined`; `!` after
      // a bounds-checked index is the honest way to say so.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The dashboard: hooks called by the rules, with every dependency named.
    files: ['app/**/*.{ts,tsx}', 'components/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  pure(['core/**/*.ts'], impureInCore, {
    group: ['../../server/*', '../../sim/*', '../../app/*', '../../components/*'],
    message: 'core/ imports nothing from outside core/.',
  }),
  pure(['sim/**/*.ts'], impureInSim, {
    group: ['server', 'app', 'components', 'bench'].flatMap((dir) => [
      `../${dir}/*`,
      `../../${dir}/*`,
    ]),
    message: 'sim/ drives core/ as server/node does; it imports nothing from server/ or the app.',
  }),
);

/** The purity rules for `files`: no clock, timers, Math.random, process, Node I/O or `outside`. */
function pure(files, message, outside) {
  return {
    files,
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['node:*'], message }, outside],
          paths: [
            'fs',
            'path',
            'os',
            'http',
            'net',
            'zlib',
            'crypto',
            'child_process',
            'worker_threads',
            'timers',
          ].map((name) => ({ name, message })),
        },
      ],
      'no-restricted-globals': [
        'error',
        ...[
          'process',
          'setTimeout',
          'setInterval',
          'setImmediate',
          'queueMicrotask',
          'performance',
          'Buffer',
          'require',
        ].map((name) => ({ name, message })),
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message },
        { object: 'Math', property: 'random', message },
        { object: 'globalThis', property: 'process', message },
        { object: 'globalThis', property: 'setTimeout', message },
        { object: 'globalThis', property: 'setInterval', message },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message,
        },
      ],
    },
  };
}
