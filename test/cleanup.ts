/**
 * What tests leave behind — temp folders, per-test emulators — undone after each test or each file,
 * and the check that in-process commands leave no signal listener behind. The hooks that call these
 * are registered by test/setup.ts, for every file: files share their worker's modules
 * (vitest.config.ts, `isolate: false`), so a hook a helper module registered as it loaded would run
 * for the first file of each worker that imported it, and never again.
 */
import { rmSync } from 'node:fs';
import { expect } from 'vitest';

const testDirs: string[] = [];
const fileDirs: string[] = [];
const testClosers: (() => Promise<void>)[] = [];

/** Removed after the test that made it. */
export function removeAfterTest(dir: string): void {
  testDirs.push(dir);
}

/** Removed after the file's last test. */
export function removeAfterFile(dir: string): void {
  fileDirs.push(dir);
}

/** Closed after the test that started it. */
export function closeAfterTest(close: () => Promise<void>): void {
  testClosers.push(close);
}

// Commands run in this process leave no signal handler behind (a run installs them for its length):
// checked after each test, when no command is running (tests may run at once), against what the file
// started with.
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const listeners = () => SIGNALS.map((s) => process.listenerCount(s));
let baseline = listeners();
let running = 0;

/** An in-process command starts, or ends (test/cli/bin.ts: cli). */
export const commandStarted = () => void running++;
export const commandEnded = () => void running--;

export function beforeFile(): void {
  baseline = listeners();
}

export async function afterTest(): Promise<void> {
  while (testClosers.length) await testClosers.pop()!();
  while (testDirs.length) rmSync(testDirs.pop()!, { recursive: true, force: true });
  if (running === 0)
    expect(listeners(), `signal listeners (${SIGNALS.join(', ')}) left behind by a command`).toEqual(baseline);
}

export function afterFile(): void {
  while (fileDirs.length) rmSync(fileDirs.pop()!, { recursive: true, force: true });
}
