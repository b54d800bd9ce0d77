/**
 * Emulators for tests, each closed when its tests are done: one shared by a file's tests
 * (`fileEmulator`), or one for a single test (`testEmulator`).
 */
import { afterAll, beforeAll } from 'vitest';
import { type Emulator, type EmulatorOptions, startEmulator } from '../src/emulator/server.js';
import { closeAfterTest } from './cleanup.js';

/**
 * An emulator started before the file's first test and closed after its last. Call it at the top
 * level of a test file; what it returns stands for the emulator in tests and in later hooks.
 */
export function fileEmulator(options: EmulatorOptions = {}): Emulator {
  let started: Emulator | undefined;
  beforeAll(async () => {
    started = await startEmulator(options);
  });
  afterAll(async () => {
    await started?.close();
    started = undefined;
  });
  return new Proxy({} as Emulator, {
    get(_, key) {
      if (!started)
        throw new Error(
          `the file's emulator is not running here (read its ${String(key)} in a test or a hook after fileEmulator's)`,
        );
      const value: unknown = Reflect.get(started, key);
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
}

/** An emulator closed after the test that started it (not for tests that run at once). */
export async function testEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await startEmulator(options);
  closeAfterTest(() => emulator.close());
  return emulator;
}
