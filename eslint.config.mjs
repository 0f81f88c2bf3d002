import tseslint from 'typescript-eslint';
import importPlugin from 'eslint-plugin-import';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
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
