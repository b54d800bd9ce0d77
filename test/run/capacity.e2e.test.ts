/**
 * The instance's active-task limit, end to end: the real SDK over HTTP against an emulator that holds
 * at most 20 active tasks. The run pauses at the first 402 instead of failing rows, probes, and goes on
 * when the test ends tasks (as agents closing them would); every row is created exactly once, none
 * fails, and the pauses show in the summary, the timeline and the report.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { timelinePath } from '../../src/observe/timeline.js';
import { renderHtml } from '../../src/report/html.js';
import { buildReport } from '../../src/report/model.js';
import { formatReport } from '../../src/report/text.js';
import type { RunOptions } from '../../src/run/options.js';
import { runImport } from '../../src/run/run.js';
import type { Summary } from '../../src/run/summary.js';
import { testEmulator } from '../emulator.js';
import { ROUTE, readResults, taskRows, tempDir, until, writeCsv } from '../helpers.js';
import { expectPaced, recordRequests } from '../pace.js';
import { skipRedis, startRedis } from '../redis.js';

const CAP = 20;

/** POST /__emulator/end-tasks, as a rehearsal would: ends active tasks now. */
async function endTasks(e: Emulator, count: number | 'all'): Promise<{ ended: number }> {
  const res = await fetch(`${e.url}/__emulator/end-tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { ended: number };
}

/**
 * Runs `options` and, each time the instance is full and has refused a request since the last time,
 * ends `count` of its tasks — until the run is over.
 */
async function runDraining(e: Emulator, options: RunOptions, count: number | 'all' = 'all') {
  let over = false;
  const run = runImport(options).finally(() => {
    over = true;
  });
  let refused = 0;
  let drains = 0;
  while (!over) {
    await until(
      () => over || (e.stats().activeTasks >= CAP && e.stats().refusedAtLimit > refused),
      'the run to fill the instance, or to end',
    );
    if (over) break;
    refused = e.stats().refusedAtLimit;
    await endTasks(e, count);
    drains++;
  }
  return { summary: await run, drains };
}

function expectEveryRowOnce(e: Emulator, summary: Summary, rows: number): void {
  expect(summary.rows).toMatchObject({ total: rows, created: rows, failed: 0, invalid: 0 });
  expect(e.stats().tasks).toBe(rows);
  expect(e.stats().maxTasksPerToken).toBe(1);
  const results = readResults(summary.results);
  expect(results).toHaveLength(rows);
  expect(new Set(results.map((r) => r['Result.ContactId'])).size).toBe(rows);
  expect(results.every((r) => r['Result.Status'] === 'created')).toBe(true);
}

const timeline = (results: string) =>
  readFileSync(timelinePath(results), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('at the active-task limit', () => {
  it('pauses instead of failing rows, resumes when tasks end, and every row is created once', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000, maxActiveTasks: CAP });
    const input = writeCsv(taskRows(60));
    const { summary, drains } = await runDraining(e, {
      input,
      endpoint: e.url,
      rate: 200,
      burst: 20,
      capacityProbeMs: 50,
      ...ROUTE,
    });

    expectEveryRowOnce(e, summary, 60);
    // 20 fit; the rest wait. Each drain lets 20 more in, so the run pauses at least once, and
    // usually twice; how often depends on how the drains fall between the run's requests (a drain
    // may come before the run has paused), so the figures below are checked against each other.
    expect(drains).toBeGreaterThanOrEqual(2);
    const paused = summary.capacity!.pauses;
    expect(paused).toBeGreaterThanOrEqual(1);
    expect(paused).toBeLessThanOrEqual(drains);
    expect(summary.capacity!.stopped).toBeUndefined();
    expect(summary.interrupted).toBe(false);
    expect(summary.errors.ServiceQuotaExceededException).toBeGreaterThan(0);
    // A 402 costs no attempt: the refused rows were sent again, and no row was charged for it.
    expect(e.stats().refusedAtLimit).toBe(summary.errors.ServiceQuotaExceededException);

    const lines = timeline(summary.results);
    const pauses = lines.filter((l) => 'pause' in l);
    expect(pauses.map((l) => l.pause)).toEqual(Array.from({ length: paused }, () => ['start', 'end']).flat());

    const report = await buildReport(summary.results);
    expect(report.pauses).toMatchObject({ count: paused });
    expect(report.pauses!.spans).toHaveLength(paused);
    expect(formatReport(report)).toContain(
      `Paused: ${paused === 1 ? 'once' : `${paused} times`} at the instance's active-task limit`,
    );
    const html = renderHtml([report]);
    expect(html.match(/data-band="pause"/g)).toHaveLength(paused);
    expect(html).toContain(`paused at the active-task limit, ${paused === 1 ? 'once' : `${paused} times`}`);
  });

  it('a storm that ends and starts again, 16 requests in flight when it starts: none fails, none twice', async () => {
    // Answers take 40 ms, so that many requests are out when the instance fills; each drain ends
    // only 7 tasks, so the limit is met again and again.
    const e = await testEmulator({ rate: 1000, burst: 1000, maxActiveTasks: CAP, latencyMs: 40 });
    const input = writeCsv(taskRows(60));
    const { summary, drains } = await runDraining(
      e,
      { input, endpoint: e.url, rate: 500, burst: 50, concurrency: 16, capacityProbeMs: 30, ...ROUTE },
      7,
    );
    expectEveryRowOnce(e, summary, 60);
    expect(drains).toBeGreaterThanOrEqual(2);
    expect(summary.capacity!.pauses).toBeGreaterThanOrEqual(2);
    expect(timeline(summary.results).filter((l) => l.pause === 'start')).toHaveLength(summary.capacity!.pauses);
  });

  it('a probe that is throttled, or answered with a 5xx, neither ends the pause nor fails its row', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000, maxActiveTasks: CAP });
    const input = writeCsv(taskRows(40));
    const run = runImport({ input, endpoint: e.url, rate: 200, burst: 20, capacityProbeMs: 50, ...ROUTE });
    await until(() => e.stats().refusedAtLimit > 0, 'the instance to refuse a task');

    // The quota all but closes: every probe from now on is throttled.
    e.configure({ rate: 0.01, burst: 1 });
    const throttledBefore = e.stats().throttled;
    await until(() => e.stats().throttled >= throttledBefore + 3, 'three throttled probes');
    expect(e.stats().tasks).toBe(CAP);

    // The quota opens and the instance empties, but the service fails every request before creating it.
    const before = e.stats().requests;
    e.configure({ rate: 1000, burst: 1000, faults: { failBefore: 1 } });
    e.service.endTasks();
    await until(() => e.stats().faults.failBefore >= 2, 'two probes answered with a 500');
    // Still paused: only the probe went (one at a time), not the 19 rows waiting. Besides the 500s, a
    // probe may have met the limit, or the throttle's last moment, as the settings changed.
    expect(e.stats().requests - before).toBeLessThanOrEqual(e.stats().faults.failBefore + 3);

    e.configure({ faults: { failBefore: 0 } });
    const summary = await run;
    expectEveryRowOnce(e, summary, 40);
    expect(summary.capacity!.pauses).toBe(1);
    expect(summary.throttled).toBeGreaterThanOrEqual(3);
    expect(summary.errors.InternalServiceException).toBeGreaterThanOrEqual(2);
  });

  it('--max-wait: the run stops at the limit, resumable; rows not created are not recorded, never failed', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000, maxActiveTasks: CAP });
    const input = writeCsv(taskRows(50));
    const options = { input, endpoint: e.url, rate: 200, burst: 20, capacityProbeMs: 50, ...ROUTE };
    const stopped = await runImport({ ...options, maxWait: 1 });
    expect(stopped.interrupted).toBe(true);
    expect(stopped.capacity).toMatchObject({
      pauses: 1,
      stopped: "the instance's active-task limit held for 1s (--max-wait)",
    });
    expect(stopped.rows).toMatchObject({ total: CAP, created: CAP, failed: 0 });
    expect(readResults(stopped.results)).toHaveLength(CAP);
    const ends = timeline(stopped.results).filter((l) => 'end' in l);
    expect(ends.at(-1)).toMatchObject({ end: 'interrupted', stopped: 'active-task-limit' });
    const report = await buildReport(stopped.results);
    expect(report.exitCode).toBe(3);
    expect(report.next?.why).toMatch(/^the instance stayed at its active-task limit: once agents have closed tasks/);
    expect(report.next?.command).toContain('--resume');

    // Resumed while the instance is still full, and told not to wait: stops again, records nothing new.
    const again = await runImport({ ...options, maxWait: 0, resume: true });
    expect(again.capacity?.stopped).toBe('the instance is at its active-task limit, and --max-wait 0 says not to wait');
    expect(again.rows).toMatchObject({ total: CAP, created: CAP, failed: 0, skipped: CAP });
    expect(e.stats().tasks).toBe(CAP);

    // Agents work through the tasks: the resume finishes every row, once.
    e.configure({ drainRate: 10_000 });
    const done = await runImport({ ...options, resume: true });
    expectEveryRowOnce(e, done, 50);
    expect(done.interrupted).toBe(false);
  });

  it('the 12-tasks-per-PreviousContactId 402 still fails its row, and does not pause the run', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000, maxActiveTasks: 100 });
    const chain = (n: number, name: string) => {
      const rows = taskRows(n);
      rows.forEach((r, i) => {
        r.push(i === 0 ? 'PreviousContactId' : 'chain-1');
      });
      return writeCsv(rows, name);
    };
    const options = { endpoint: e.url, rate: 200, burst: 20, capacityProbeMs: 50, maxWait: 0, ...ROUTE };
    expect((await runImport({ ...options, input: chain(12, 'a.csv') })).rows.created).toBe(12);
    const summary = await runImport({ ...options, input: chain(3, 'b.csv') });
    expect(summary.rows).toMatchObject({ created: 0, failed: 3 });
    expect(summary.capacity).toBeUndefined();
    expect(summary.interrupted).toBe(false);
    expect(e.stats().refusedAtLimit).toBe(0);
  });

  it('a dry run sends nothing, full instance or not', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000, maxActiveTasks: 0 });
    const summary = await runImport({
      input: writeCsv(taskRows(5)),
      endpoint: e.url,
      dryRun: true,
      maxWait: 0,
      ...ROUTE,
    });
    expect(summary.rows).toMatchObject({ total: 5, planned: 5 });
    expect(summary.capacity).toBeUndefined();
    expect(e.stats().requests).toBe(0);
  });

  it.skipIf(skipRedis)(
    'two runs on one Redis quota pause at the limit; probes included, they never go faster than the quota',
    async () => {
      const redis = await startRedis();
      try {
        const e = await testEmulator({ rate: 1000, burst: 1000, maxActiveTasks: CAP });
        const arrivals = recordRequests(e);
        const dir = tempDir();
        const files = [1, 2].map((n) =>
          writeCsv(
            taskRows(40).map((r, i) => (i === 0 ? r : [`${r[0]} of file ${n}`, ...r.slice(1)])),
            `in-${n}.csv`,
            dir,
          ),
        );
        const shared = {
          endpoint: e.url,
          rate: 50,
          burst: 5,
          concurrency: 4,
          redis: redis.url,
          capacityProbeMs: 50,
          ...ROUTE,
        };
        let over = 0;
        const runs = files.map((input) => runImport({ ...shared, input }).finally(() => over++));
        let refused = 0;
        while (over < runs.length) {
          await until(
            () => over === runs.length || (e.stats().activeTasks >= CAP && e.stats().refusedAtLimit > refused),
            'the runs to fill the instance, or to end',
          );
          refused = e.stats().refusedAtLimit;
          e.service.endTasks();
        }
        const summaries = await Promise.all(runs);
        // Each pauses on its own 402s (the other need not have met one): no row failed in either.
        for (const summary of summaries) expect(summary.rows).toMatchObject({ total: 40, created: 40, failed: 0 });
        expect(summaries.reduce((n, s) => n + (s.capacity?.pauses ?? 0), 0)).toBeGreaterThanOrEqual(2);
        expect(e.stats()).toMatchObject({ tasks: 80, maxTasksPerToken: 1 });
        // One pace and one in-flight cap (4) for both: see test/rate/shared.e2e.test.ts.
        expect(arrivals).toHaveLength(e.stats().requests);
        expectPaced(arrivals, { rate: 50, burst: 4 + 1, slack: 0.05 });
      } finally {
        await redis.kill();
      }
    },
  );
});
