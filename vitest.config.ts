import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Per file: temp folders and per-test emulators cleaned up (test/cleanup.ts).
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Many files wait on real time (pacing, deadlines, child processes): three at once keep two
    // cores busy. No test asserts a duration, so a busier machine is slower, never red.
    maxWorkers: 3,
    // Files share their worker's modules instead of loading the AWS SDK afresh each (a fifth of the
    // suite's time). Safe here: src/ keeps no state between calls but pure caches, and every test
    // checks that a command left no signal listener behind. A shared module is loaded once per
    // worker, so a hook it registered would serve one file: test/setup.ts registers them per file.
    isolate: false,
  },
});
