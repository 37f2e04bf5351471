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
    // The read path (src/probes/read.ts) is the only way anything outside src/probes reads
    // a probe: no module there may touch a probe class's `_field`. Node's own timer field
    // `_onTimeout`, which the error domain wraps, is not a probe's.
    files: ['src/**/*.ts'],
    ignores: ['src/probes/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports (one obvious public surface).' },
        {
          selector: 'MemberExpression[property.name=/^_(?!onTimeout$)/]',
          message: 'Read probes through the read path (registry.read, src/probes/read.ts), not their _fields.',
        },
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
    // The dashboard page's script runs in the browser, as served (no build step).
    files: ['src/admin/dashboard/*.js'],
    languageOptions: { globals: { ...globals.browser, uPlot: 'readonly' }, sourceType: 'script' },
  },
  {
    files: ['eslint.config.js', 'vitest.config.ts', 'rolldown.config.mjs', 'test/support/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
