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
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
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
  {
    files: ['core/**/*.ts'],
    languageOptions: { globals: { ...globals['shared-node-browser'] } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: impureInCore },
            {
              group: ['../../server/*', '../../sim/*', '../../app/*', '../../components/*'],
              message: 'core/ imports nothing from outside core/.',
            },
          ],
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
          ].map((name) => ({ name, message: impureInCore })),
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
        ].map((name) => ({ name, message: impureInCore })),
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: impureInCore },
        { object: 'Math', property: 'random', message: impureInCore },
        { object: 'globalThis', property: 'process', message: impureInCore },
        { object: 'globalThis', property: 'setTimeout', message: impureInCore },
        { object: 'globalThis', property: 'setInterval', message: impureInCore },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: impureInCore,
        },
      ],
    },
  },
);
