import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // real emulators (swtpm, moto_server) start per file; keep the 2-core machines calm
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    disableConsoleIntercept: true,
    // the generations-seen state file of verify/request: one temp folder per test file
    setupFiles: ['test/helpers/isolate-state.ts'],
  },
});
