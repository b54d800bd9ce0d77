/**
 * The metrics file: what it says (read by an independent parser), what it keeps from the file it
 * replaces, and that failing to write it never stops a run.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  lastSuccessIn,
  type MetricsFigures,
  MetricsFile,
  metricsJob,
  OUTCOMES,
  renderMetrics,
} from '../../src/observe/metrics.js';
import { RunStats } from '../../src/observe/stats.js';
import type { Logger } from '../../src/types.js';
import { tempDir } from '../helpers.js';
import { readMetrics } from '../prom.js';

const figures: MetricsFigures = {
  job: 'tickets',
  runId: '20261204T021500Z-3f9a1c2e',
  input: 'open "tickets" \\ 2026-12-04.csv',
  command: 'run',
  outcome: 'running',
  rows: { created: 7, failed: 1, invalid: 2, filtered: 0, planned: 0 },
  carried: 3,
  requests: 12,
  throttles: 4,
  retries: 1,
  serverErrors: 1,
  unknownOutcomes: 0,
  pauses: 2,
  paused: true,
  createdPerSecond: 1.5,
  targetRate: 1.8,
  ceilingRate: 2,
  latencyMs: { p50: 120.4, p99: 900 },
  startedAt: Date.UTC(2026, 11, 4, 2, 15),
  updatedAt: Date.UTC(2026, 11, 4, 2, 16, 30, 250),
  lastSuccess: undefined,
};

/** A logger that keeps its lines. */
function recorder(): Logger & { lines: { level: string; msg?: string; obj: object }[] } {
  const lines: { level: string; msg?: string; obj: object }[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }),
  };
}

describe('renderMetrics', () => {
  it('every figure, one loader_job label on each, the run id on the info series only', async () => {
    const m = readMetrics(await renderMetrics(figures));
    expect(m.labels('run_info')).toEqual({
      run_id: figures.runId,
      input: figures.input,
      command: 'run',
      loader_job: 'tickets',
    });
    expect(m.by('rows', 'status')).toEqual(figures.rows);
    expect(m.value('rows_carried')).toBe(3);
    expect(m.value('requests_total')).toBe(12);
    expect(m.value('throttles_total')).toBe(4);
    expect(m.value('retries_total')).toBe(1);
    expect(m.value('server_errors_total')).toBe(1);
    expect(m.value('unknown_outcomes_total')).toBe(0);
    expect(m.value('capacity_pauses_total')).toBe(2);
    expect(m.value('paused')).toBe(1);
    expect(m.value('created_per_second')).toBe(1.5);
    expect(m.value('target_requests_per_second')).toBe(1.8);
    expect(m.value('ceiling_requests_per_second')).toBe(2);
    expect(m.by('latency_seconds', 'quantile')).toEqual({ '0.5': 0.12, '0.99': 0.9 });
    expect(m.value('start_timestamp_seconds')).toBe(figures.startedAt / 1000);
    expect(m.value('last_update_timestamp_seconds')).toBe(figures.updatedAt / 1000);
    // Never succeeded: 0, so that "time() - last success > 26 h" fires for a job that never did.
    expect(m.value('last_success_timestamp_seconds')).toBe(0);
    const outcomes = m.by('outcome', 'outcome');
    expect(Object.keys(outcomes)).toEqual([...OUTCOMES]);
    expect(Object.entries(outcomes).filter(([, v]) => v === 1)).toEqual([['running', 1]]);
    for (const name of m.names) {
      const labels = Object.keys(m.labels(name.replace('connect_task_loader_', '')));
      expect(labels, name).toContain('loader_job');
      if (!name.endsWith('run_info')) expect(labels, name).not.toContain('run_id');
    }
  });

  it('rows by every status the counters hold: a new status appears by itself', async () => {
    const stats = new RunStats();
    stats.rows.created = 5;
    const rows = { ...stats.rows, held: 2 };
    const m = readMetrics(await renderMetrics({ ...figures, rows }));
    expect(m.by('rows', 'status')).toEqual({ created: 5, failed: 0, invalid: 0, filtered: 0, planned: 0, held: 2 });
  });

  it('no latency series before any answer; the last success in seconds', async () => {
    const text = await renderMetrics({ ...figures, latencyMs: {}, lastSuccess: Date.UTC(2026, 11, 3, 2, 40, 0, 500) });
    const m = readMetrics(text);
    expect(m.names).not.toContain('connect_task_loader_latency_seconds');
    expect(m.value('last_success_timestamp_seconds')).toBe(Date.UTC(2026, 11, 3, 2, 40, 0, 500) / 1000);
  });

  it('metricsJob: the file name less .prom', () => {
    expect(metricsJob('/var/lib/node_exporter/textfile/ctl-tickets.prom')).toBe('ctl-tickets');
    expect(metricsJob('metrics.txt')).toBe('metrics.txt');
  });
});

describe('MetricsFile', () => {
  it('keeps the last success of the file it replaces; only a success moves it; 0644 whatever the umask', async () => {
    const path = join(tempDir(), 'job.prom');
    const before = Date.UTC(2026, 11, 3, 2, 40);
    writeFileSync(path, await renderMetrics({ ...figures, lastSuccess: before }));
    expect(await lastSuccessIn(path)).toBe(before);

    const mask = process.umask(0o077);
    try {
      const failing = await MetricsFile.open({
        path,
        runId: 'r2',
        input: 'in.csv',
        command: 'run',
        ceiling: 2,
        log: recorder(),
      });
      failing.watch(new RunStats(), () => 2);
      // While it runs, and when it ends with failed rows, the earlier success stands.
      await failing.finish({ outcome: 'failed_rows' });
    } finally {
      process.umask(mask);
    }
    expect(statSync(path).mode & 0o777).toBe(0o644);
    const afterFailure = readMetrics(readFileSync(path, 'utf8'));
    expect(afterFailure.value('last_success_timestamp_seconds')).toBe(before / 1000);
    expect(afterFailure.value('outcome', { outcome: 'failed_rows' })).toBe(1);
    expect(afterFailure.labels('run_info').run_id).toBe('r2');

    const now = Date.UTC(2026, 11, 4, 2, 50);
    const success = await MetricsFile.open({
      path,
      runId: 'r3',
      input: 'in.csv',
      command: 'run',
      ceiling: 2,
      log: recorder(),
    });
    await success.finish({ outcome: 'completed', successAt: now });
    expect(readMetrics(readFileSync(path, 'utf8')).value('last_success_timestamp_seconds')).toBe(now / 1000);
    // No temporary file is left behind.
    expect(readdirSync(join(path, '..'))).toEqual(['job.prom']);
  });

  it('two jobs on one file: a success of one is never undone by the other, while it runs nor at its end', async () => {
    const path = join(tempDir(), 'shared.prom');
    let now = Date.UTC(2026, 11, 4, 2, 0);
    const open = (runId: string) =>
      MetricsFile.open({
        path,
        runId,
        input: `${runId}.csv`,
        command: 'run',
        ceiling: 2,
        log: recorder(),
        now: () => now,
      });
    const lastSuccess = () => readMetrics(readFileSync(path, 'utf8')).value('last_success_timestamp_seconds');
    // The long run starts first, when no run of the file ever succeeded.
    const long = await open('long');
    const stats = new RunStats();
    long.watch(stats, () => 2);
    await long.idle();
    expect(lastSuccess()).toBe(0);
    // A short run of another job, given the same file by mistake, succeeds meanwhile.
    now += 60_000;
    const short = await open('short');
    short.watch(new RunStats(), () => 2);
    await short.finish({ outcome: 'completed', successAt: now });
    const success = now / 1000;
    expect(lastSuccess()).toBe(success);
    // The long run's next writes, and its last one (failed rows), keep that success.
    now += 1_000;
    long.tick();
    await long.idle();
    expect(readMetrics(readFileSync(path, 'utf8')).labels('run_info').run_id).toBe('long');
    expect(lastSuccess()).toBe(success);
    now += 60_000;
    await long.finish({ outcome: 'failed_rows' });
    expect(lastSuccess()).toBe(success);
  });

  it('a write that fails warns once, the run goes on, later writes are tried again; the final one warns', async () => {
    const dir = join(tempDir(), 'metrics');
    mkdirSync(dir);
    const path = join(dir, 'job.prom');
    const log = recorder();
    let now = 0;
    const metrics = await MetricsFile.open({
      path,
      runId: 'r',
      input: 'in.csv',
      command: 'run',
      ceiling: 2,
      log,
      now: () => now,
    });
    const stats = new RunStats();
    const settle = () => metrics.idle();
    metrics.watch(stats, () => 2);
    await settle();
    expect(existsQuietly(path)).toBe(true);
    rmSync(dir, { recursive: true }); // the folder is gone (or the disk full): every write fails now
    for (let i = 1; i <= 5; i++) {
      now += 1_000;
      stats.rows.created = i;
      metrics.tick();
      await settle();
    }
    const warnings = () => log.lines.filter((l) => l.level === 'warn');
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.obj).toMatchObject({ path, code: 'ENOENT' });
    mkdirSync(dir); // space again: the next write goes through, and says so
    now += 1_000;
    metrics.tick();
    await settle();
    expect(readMetrics(readFileSync(path, 'utf8')).value('rows', { status: 'created' })).toBe(5);
    expect(log.lines.some((l) => l.msg === 'the metrics file is written again')).toBe(true);
    rmSync(dir, { recursive: true });
    await expect(metrics.finish({ outcome: 'completed' })).resolves.toBeUndefined();
    expect(warnings().at(-1)!.msg).toMatch(/cannot write the final metrics/);
  });

  it('writes nothing once the run may no longer write (another run took its results file over)', async () => {
    const path = join(tempDir(), 'job.prom');
    let held = true;
    const metrics = await MetricsFile.open({
      path,
      runId: 'r',
      input: 'in.csv',
      command: 'run',
      ceiling: 2,
      log: recorder(),
      guard: () => {
        if (!held) throw new Error('lost');
      },
    });
    held = false;
    await metrics.finish({ outcome: 'error' });
    expect(existsQuietly(path)).toBe(false);
  });
});

function existsQuietly(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
