import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

// The SDK's lib/ paths are its internals: they move between releases without notice.
const sdkInternals = {
  group: ['@temporalio/*/lib/*'],
  message: "Import from the package's public index; where it has no export, use a local type or function.",
};

export default tseslint.config(
  // The consumer app is a project of its own, type-checked and run against the packed library by its test.
  {
    // What the project's scripts download or write (Go modules under .tools, services' scratch folders) is not its code.
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'test/consumer-app/**',
      '.tools/**',
      '.data/**',
      '.rabbitmq/**',
      '.seaweedfs/**',
      '.prometheus/**',
      '.cluster/**',
      'test-results/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { import: importPlugin },
    settings: { 'import/resolver': { node: { extensions: ['.ts', '.js'] } } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import/no-cycle': 'error',
      'no-restricted-imports': ['error', { patterns: [sdkInternals] }],
    },
  },
  {
    // Benchmarks and scripts are built and shipped without the tests: they use src/ (and each other) only.
    files: ['bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            sdkInternals,
            {
              regex: '(^|/)test(/|$)',
              message: 'bench/ and scripts/ must not import from test/: move what is shared.',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflow code runs in the deterministic sandbox: no Node built-ins, ever. Nor zod: the sandbox evaluates a
    // workflow's modules for every execution, so workflows take only types from contracts (values from constants).
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node built-ins.' })),
            ...['zod', '../contracts'].map((name) => ({
              name,
              allowTypeImports: true,
              message: 'Workflows import types only from here (it loads zod): take values from ../constants.',
            })),
          ],
        },
      ],
    },
  },
  {
    // Every patch id is declared once, with why and since when, in src/workflows/patches.ts.
    files: ['**/*.ts'],
    ignores: ['src/workflows/patches.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            'CallExpression[callee.name=/^(patched|deprecatePatch)$/] > .arguments:not(Identifier[name=/^PATCH_/])',
          message: 'Declare the patch id as a PATCH_ constant in src/workflows/patches.ts and pass that constant.',
        },
      ],
    },
  },
);
