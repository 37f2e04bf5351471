import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'bench/node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Wrappers that keep the caller's `this` name the domain they close over.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['domain'] }],
      'no-restricted-syntax': [
        'error',
        { selector: "ExportDefaultDeclaration", message: 'Use named exports (one obvious public surface).' },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only', message: 'No focused tests.' },
        { object: 'describe', property: 'only', message: 'No focused tests.' },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['eslint.config.js', 'vitest.config.ts', 'rolldown.config.mjs', 'test/support/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
