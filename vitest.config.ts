import { configDefaults, defineConfig } from 'vitest/config';

// Tests that drive real servers, daemons or whole npm installs run one file at a time,
// after the rest, so they never fight the unit tests (or each other) for the two cores.
const SERIAL = ['test/integration/**/*.test.ts', 'test/package.test.ts', 'test/readme.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...SERIAL], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'serial', include: SERIAL, fileParallelism: false, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
