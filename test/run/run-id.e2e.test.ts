/**
 * The run id through the library: a caller's own (a scheduler's execution id) or a new one per run;
 * on every line of the logger it is given; each --resume of a results file gets its own, and the
 * run state, the timeline and the report name them all.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { readState } from '../../src/ledger/state.js';
import { timelinePath } from '../../src/observe/timeline.js';
import { buildReport } from '../../src/report/model.js';
import { formatReport } from '../../src/report/text.js';
import { runImport } from '../../src/run/run.js';
import { newRunId } from '../../src/run/run-id.js';
import type { Logger } from '../../src/types.js';
import { fileEmulator } from '../emulator.js';
import { ROUTE, taskRows, writeCsv } from '../helpers.js';

const e = fileEmulator({ rate: 1000, burst: 1000 });

function recorder(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const keep = (obj: object, msg?: string) => void lines.push({ ...obj, msg });
  return { lines, info: keep, warn: keep, debug: keep };
}

describe('run id', () => {
  it('new ones sort by start time and read as one', () => {
    const a = newRunId(new Date('2026-12-04T02:15:00.900Z'));
    const b = newRunId(new Date('2026-12-04T02:15:01.000Z'));
    expect(a).toMatch(/^20261204T021500Z-[0-9a-f]{8}$/);
    expect([b, a].sort()).toEqual([a, b]);
  });

  it("a caller's own id, then a resume's new one: the state, the timeline and the report name both", async () => {
    const input = writeCsv(taskRows(40));
    const results = input.replace(/\.csv$/, '.results.csv');
    const log = recorder();
    const stop = new AbortController();
    const first = await runImport({
      input,
      endpoint: e.url,
      rate: 20,
      burst: 1,
      ...ROUTE,
      runId: 'airflow.nightly__2026-12-04T02:15:00+00:00',
      logger: log,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.stats.rows.created >= 5) stop.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    expect(first.runId).toBe('airflow.nightly__2026-12-04T02:15:00+00:00');
    expect(log.lines.length).toBeGreaterThan(0);
    for (const line of log.lines) expect(line.runId, JSON.stringify(line)).toBe(first.runId);

    const resumed = await runImport({ input, endpoint: e.url, rate: 1000, burst: 50, ...ROUTE, resume: true });
    expect(resumed.rows.created).toBe(40);
    expect(resumed.runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    const runs = (await readState(results))?.runs;
    expect(runs?.map((r) => [r.runId, r.outcome])).toEqual([
      [first.runId, 'interrupted'],
      [resumed.runId, 'completed'],
    ]);
    const starts = readFileSync(timelinePath(results), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { start?: string; runId?: string })
      .filter((l) => l.start);
    expect(starts.map((s) => [s.start, s.runId])).toEqual([
      ['run', first.runId],
      ['resume', resumed.runId],
    ]);
    expect(formatReport(await buildReport(results))).toContain(
      `Runs: ${first.runId} (interrupted), ${resumed.runId} (completed)`,
    );
  });

  it('an id that would need quoting is refused before anything is sent', async () => {
    const input = writeCsv(taskRows(2));
    const before = e.stats().requests;
    await expect(runImport({ input, endpoint: e.url, ...ROUTE, runId: 'two words' })).rejects.toThrow(UsageError);
    await expect(runImport({ input, endpoint: e.url, ...ROUTE, runId: 'two words' })).rejects.toThrow(
      /--run-id must be 1 to 128 letters/,
    );
    expect(e.stats().requests).toBe(before);
  });
});
