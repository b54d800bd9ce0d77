/**
 * The results file deleted or cut short while a run writes it: the run notices (it holds the file
 * open) and ends non-zero saying what happened and the way on — never "Done", exit 0.
 */
import { appendFileSync, existsSync, rmSync, statSync, truncateSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { ResultsLostError } from '../../src/errors.js';
import { runImport } from '../../src/run/run.js';
import { taskRows, writeCsv } from '../helpers.js';

let e: Emulator;
beforeAll(async () => {
  e = await startEmulator({ rate: 1000, burst: 1000 });
});
afterAll(() => e?.close());

describe('the results file under a running run', () => {
  it.each([
    ['deleted', (path: string) => rmSync(path), /was deleted or replaced while this run wrote it/],
    ['truncated', (path: string) => truncateSync(path, 10), /was cut short while this run wrote it/],
    [
      'appended to',
      (path: string) => appendFileSync(path, 'garbage,line\n'),
      /was written to by something else while this run wrote it/,
    ],
  ])('%s mid-run: the run stops, exit 3, saying so', async (_what, damage, message) => {
    const input = writeCsv(taskRows(200));
    const results = input.replace(/\.csv$/, '.results.csv');
    let done = false;
    const err = await runImport({
      input,
      endpoint: e.url,
      instanceId: DEMO_INSTANCE_ID,
      contactFlowId: DEMO_CONTACT_FLOW_ID,
      rate: 50,
      burst: 1,
      env: {},
      onProgress: (p) => {
        if (!done && p.stats.rows.created >= 5 && existsSync(results) && statSync(results).size > 10) {
          done = true;
          damage(results);
        }
      },
    }).catch((x: unknown) => x);
    expect(done).toBe(true);
    expect(err).toBeInstanceOf(ResultsLostError);
    expect((err as ResultsLostError).exitCode).toBe(3);
    expect((err as Error).message).toMatch(message);
  });
});
