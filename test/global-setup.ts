/**
 * Builds dist/ once, for the tests that run the compiled bin (test/cli/bin.ts: spawnCli) or load its modules in a child
 * process.
 */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
