// Type-aware lint. Workflow files run in Temporal's deterministic sandbox: they may import only
// @temporalio/workflow and the shared definitions, never Node built-ins or the client/worker/activity packages.
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'crypto',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'https',
  'net',
  'os',
  'path',
  'process',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'worker_threads',
  'zlib',
];

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.tools/**',
      '.data/**',
      'bin/**',
      'scripts/*.js',
      '**/*.js',
      '**/*.mjs',
      'test-artifacts/**',
      'bench/results/**',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts', 'shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((m) => [
              { name: m, message: 'Workflow code is deterministic: no Node built-ins.' },
              { name: `node:${m}`, message: 'Workflow code is deterministic: no Node built-ins.' },
            ]),
            { name: '@temporalio/client', message: 'Workflows may not use the client.' },
            { name: '@temporalio/worker', message: 'Workflows may not use the worker.' },
            { name: '@temporalio/activity', message: 'Workflows may not use the activity package.' },
            { name: 'pg', message: 'All I/O lives in activities.' },
          ],
          patterns: [
            {
              group: ['../services/*', '../activities/*', '../workers/*', '../client/*'],
              allowTypeImports: true,
              message: 'Workflows import only @temporalio/workflow and shared definitions (types are fine).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use workflow timers.' },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
    },
  },
);
