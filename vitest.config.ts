import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 60_000,
    setupFiles: ['testkit/vitest-setup.ts'],
    globalSetup: ['testkit/vitest-global.ts'],
    hookTimeout: 120_000,
    // Real processes and servers per file: two at a time fits the 2-core machines.
    maxWorkers: 2,
    // The JSON report lets .ci/run print one plain `N passed, N failed` line at the end.
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
