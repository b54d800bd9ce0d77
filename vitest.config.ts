import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Many files wait on real time (pacing, deadlines, child processes): three at once keep two
    // cores busy. No test asserts a duration, so a busier machine is slower, never red.
    maxWorkers: 3,
    // Files share their worker's modules instead of loading the AWS SDK afresh each (a fifth of the
    // suite's time). Safe here: src/ keeps no state between calls but pure caches, and a CLI test
    // checks that a command leaves no signal listener behind.
    isolate: false,
  },
});
