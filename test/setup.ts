/** Run before each test file (vitest.config.ts: setupFiles): the clean-up of test/cleanup.ts, for this file. */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { afterFile, afterTest, beforeFile } from './cleanup.js';

beforeAll(beforeFile);
afterEach(afterTest);
afterAll(afterFile);
