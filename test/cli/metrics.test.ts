/**
 * `--metrics-file` and the run id, end to end against the emulator: the file (read by an
 * independent parser) agrees with the summary, is replaced whole while the run goes, keeps the last
 * success across later runs that are not one, is refused before anything is sent when it cannot be
 * written, says `interrupted` after SIGTERM, and never stops a run when the disk fills up. The run id
 * is in every JSON log line, the summary, the run state, the timeline and the report.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readState } from '../../src/ledger/state.js';
import { timelinePath } from '../../src/observe/timeline.js';
import type { Summary } from '../../src/run/summary.js';
import { testEmulator } from '../emulator.js';
import { ROUTE_FLAGS, readResults, taskRows, tempDir, until, writeCsv } from '../helpers.js';
import { type Metrics, readMetrics } from '../prom.js';
import { BIN, cli, spawnCli } from './bin.js';

const RUN_ID = /^\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/** `run` of `input` into the emulator at `url`, with `extra` flags. */
const runArgs = (input: string, url: string, extra: string[]) => [
  'run',
  input,
  '--endpoint',
  url,
  '--no-progress',
  ...ROUTE_FLAGS,
  ...extra,
];

const metricsOf = (path: string): Metrics => readMetrics(readFileSync(path, 'utf8'));
const summaryOf = (path: string): Summary => JSON.parse(readFileSync(path, 'utf8')) as Summary;

describe('--metrics-file', () => {
  it('after a throttled run, the figures agree with the summary; the run id is everywhere', async () => {
    const e = await testEmulator({ rate: 20, burst: 2 });
    const dir = tempDir();
    const input = writeCsv(taskRows(40), 'night.csv', dir);
    const metrics = join(dir, 'tickets.prom');
    const summaryJson = join(dir, 'summary.json');
    const r = await cli(
      runArgs(input, e.url, [
        '--rate',
        '100',
        '--burst',
        '20',
        '--metrics-file',
        metrics,
        '--summary-json',
        summaryJson,
        '--log-format',
        'json',
      ]),
    );
    expect(r.code, r.stderr).toBe(0);
    const s = summaryOf(summaryJson);
    const m = metricsOf(metrics);
    expect(s.throttled).toBeGreaterThan(0);
    expect(m.by('rows', 'status')).toEqual({
      created: s.rows.created,
      failed: s.rows.failed,
      invalid: s.rows.invalid,
      filtered: s.rows.filtered,
      planned: s.rows.planned,
    });
    expect(m.value('requests_total')).toBe(s.requests);
    expect(m.value('throttles_total')).toBe(s.throttled);
    expect(m.value('retries_total')).toBe(s.retries);
    expect(m.value('unknown_outcomes_total')).toBe(s.unknownOutcomes);
    expect(e.stats()).toMatchObject({ requests: s.requests, throttled: s.throttled, tasks: 40, maxTasksPerToken: 1 });
    expect(m.value('outcome', { outcome: 'completed' })).toBe(1);
    expect(m.value('last_success_timestamp_seconds')).toBeGreaterThanOrEqual(m.value('start_timestamp_seconds'));
    expect(m.labels('run_info')).toEqual({
      run_id: s.runId,
      input: 'night.csv',
      command: 'run',
      loader_job: 'tickets',
    });
    expect(statSync(metrics).mode & 0o777).toBe(0o644);

    // The run id: the summary (text and JSON), every JSON log line, the state, the timeline, the report.
    const { runId } = s;
    expect(runId).toMatch(RUN_ID);
    expect(r.stdout).toContain(`(run ${runId})`);
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect((JSON.parse(line) as { runId?: string }).runId, line).toBe(runId);
    const results = input.replace(/\.csv$/, '.results.csv');
    expect((await readState(results))?.runs).toEqual([
      { runId, startedAt: expect.any(String), endedAt: expect.any(String), outcome: 'completed' },
    ]);
    expect(JSON.parse(readFileSync(timelinePath(results), 'utf8').split('\n')[0]!)).toMatchObject({ runId });
    const report = await cli(['report', results, '--html', join(dir, 'report.html')]);
    expect(report.stdout).toContain(`Runs: ${runId} (completed)`);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain(runId);
    const json = await cli(['report', results, '--json']);
    expect(JSON.parse(json.stdout).reports[0].runs).toMatchObject([{ runId, outcome: 'completed' }]);
  });

  it('is rewritten while the run goes, and replaced whole: a reader never sees part of it', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000, latencyMs: 150 });
    const dir = tempDir();
    const input = writeCsv(taskRows(30), 'slow.csv', dir);
    const metrics = join(dir, 'slow.prom');
    const seen: { outcome: string; created: number }[] = [];
    const broken: string[] = [];
    // A reader as node_exporter is one: it reads whatever is at the path, whenever it likes.
    const reader = setInterval(() => {
      let text: string;
      try {
        text = readFileSync(metrics, 'utf8');
      } catch {
        return; // not written yet
      }
      try {
        const m = readMetrics(text);
        const outcome = Object.entries(m.by('outcome', 'outcome')).find(([, v]) => v === 1)![0];
        seen.push({ outcome, created: m.value('rows', { status: 'created' }) });
      } catch (err) {
        broken.push((err as Error).message);
      }
    }, 3);
    try {
      const run = cli(runArgs(input, e.url, ['--rate', '10', '--burst', '1', '--metrics-file', metrics]));
      await until(
        () => seen.some((s) => s.outcome === 'running' && s.created > 0),
        'a write of the metrics file in the middle of the run',
      );
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
    } finally {
      clearInterval(reader);
    }
    expect(broken).toEqual([]);
    const final = metricsOf(metrics);
    expect(final.value('outcome', { outcome: 'completed' })).toBe(1);
    expect(final.value('rows', { status: 'created' })).toBe(30);
    expect(seen.some((s) => s.outcome === 'running' && s.created > 0 && s.created < 30)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps the last success across a re-fired run, a run with failed rows and a dry run', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000 });
    const dir = tempDir();
    const metrics = join(dir, 'job.prom');
    // One summary file for every night, as a nightly script writes it: each run's replaces the last.
    const flags = ['--rate', '1000', '--burst', '50', '--metrics-file', metrics, '--summary-json', join(dir, 's.json')];
    const good = writeCsv(taskRows(5), 'monday.csv', dir);
    expect((await cli(runArgs(good, e.url, flags))).code).toBe(0);
    const monday = metricsOf(metrics);
    const success = monday.value('last_success_timestamp_seconds');
    expect(success).toBeGreaterThan(0);

    // Fired again: already done. The success is the one of the run that did the work, not now.
    const again = await cli(runArgs(good, e.url, flags));
    expect(again.stdout).toMatch(/^Already processed/);
    const refired = metricsOf(metrics);
    expect(refired.labels('run_info').run_id).not.toBe(monday.labels('run_info').run_id);
    expect(refired.value('outcome', { outcome: 'completed' })).toBe(1);
    expect(refired.value('rows', { status: 'created' })).toBe(5);
    expect(refired.value('requests_total')).toBe(0);
    expect(refired.value('last_success_timestamp_seconds')).toBe(success);

    const rows = taskRows(5);
    rows[3]![0] = ''; // no Name: invalid
    const bad = writeCsv(rows, 'tuesday.csv', dir);
    const failing = await cli(runArgs(bad, e.url, flags));
    expect(failing.code, failing.stderr).toBe(1);
    expect(summaryOf(join(dir, 's.json')).input).toBe(bad);
    const tuesday = metricsOf(metrics);
    expect(tuesday.value('outcome', { outcome: 'failed_rows' })).toBe(1);
    expect(tuesday.value('rows', { status: 'invalid' })).toBe(1);
    expect(tuesday.value('last_success_timestamp_seconds')).toBe(success);

    const rehearsal = writeCsv(taskRows(3), 'wednesday.csv', dir);
    expect((await cli(runArgs(rehearsal, e.url, [...flags, '--dry-run']))).code).toBe(0);
    const dry = metricsOf(metrics);
    expect(dry.value('outcome', { outcome: 'dry_run' })).toBe(1);
    expect(dry.value('rows', { status: 'planned' })).toBe(3);
    expect(dry.value('last_success_timestamp_seconds')).toBe(success);
  });

  it('a re-fired run of a filtered input writes the rows of the run that did the work, its filtered ones too', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000 });
    const dir = tempDir();
    const input = writeCsv(
      [
        ['Name', 'Status'],
        ['Call back about the invoice', 'Open'],
        ['Send the replacement router', 'Closed'],
        ['Check the meter', 'Open'],
      ],
      'week.csv',
      dir,
    );
    const job = join(dir, 'open.job.json');
    writeFileSync(job, JSON.stringify({ where: [{ column: 'Status', equals: 'Open' }] }));
    const metrics = join(dir, 'week.prom');
    const flags = ['--job', job, '--metrics-file', metrics];
    expect((await cli(runArgs(input, e.url, flags))).code).toBe(0);
    const first = metricsOf(metrics).by('rows', 'status');
    expect(first).toMatchObject({ created: 2, filtered: 1 });

    const again = await cli(runArgs(input, e.url, flags));
    expect(again.stdout).toMatch(/^Already processed/);
    const refired = metricsOf(metrics);
    expect(refired.by('rows', 'status')).toEqual(first);
    // Summing rows counts each row once: here every row is carried.
    expect(refired.value('rows_carried')).toBe(3);
    expect(e.stats()).toMatchObject({ tasks: 2, maxTasksPerToken: 1 });
  });

  it('a path that cannot be written is refused before anything is sent (exit 2)', async () => {
    const e = await testEmulator();
    const dir = tempDir();
    const input = writeCsv(taskRows(3), 'in.csv', dir);
    const missing = join(dir, 'no-such-folder', 'job.prom');
    const r = await cli(runArgs(input, e.url, ['--metrics-file', missing]));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--metrics-file ${missing}: the folder ${join(dir, 'no-such-folder')} does not exist`);
    const fromEnv = await cli(runArgs(input, e.url, []), { env: { ...process.env, CTL_METRICS_FILE: missing } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain(`CTL_METRICS_FILE ${missing}: the folder`);
    // A typo that names the input: never overwritten.
    const before = readFileSync(input, 'utf8');
    const typo = await cli(runArgs(input, e.url, ['--metrics-file', input]));
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/is an existing file that is not a metrics file/);
    expect(readFileSync(input, 'utf8')).toBe(before);
    expect(e.stats().requests).toBe(0);
    expect(existsSync(join(dir, 'in.results.csv'))).toBe(false);
  });

  it('a name that does not end in .prom is written, with a warning: node_exporter would never read it', async () => {
    const e = await testEmulator();
    const dir = tempDir();
    const input = writeCsv(taskRows(2), 'in.csv', dir);
    const metrics = join(dir, 'tickets.metrics');
    const r = await cli(runArgs(input, e.url, ['--metrics-file', metrics, '--log-format', 'json']));
    expect(r.code, r.stderr).toBe(0);
    const warning = r.stderr.split('\n').find((l) => l.includes('"level":"warn"'));
    expect(warning).toContain("--metrics-file does not end in .prom: node_exporter's textfile collector reads only");
    expect(metricsOf(metrics).value('outcome', { outcome: 'completed' })).toBe(1);
    const prom = await cli(
      runArgs(writeCsv(taskRows(2), 'other.csv', dir), e.url, ['--metrics-file', `${metrics}.prom`]),
    );
    expect(prom.stderr).not.toContain('does not end in .prom');
  });

  it('SIGTERM: the run drains, and the last write says interrupted', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000, latencyMs: 300 });
    const dir = tempDir();
    const input = writeCsv(taskRows(200), 'long.csv', dir);
    const metrics = join(dir, 'long.prom');
    const summaryJson = join(dir, 'long.summary.json');
    let signalled = false;
    const r = await spawnCli(
      runArgs(input, e.url, ['--rate', '10', '--burst', '1', '--metrics-file', metrics, '--summary-json', summaryJson]),
      {
        onStderr: (text, child) => {
          if (signalled || !text.includes('run started')) return;
          signalled = true;
          setTimeout(() => child.kill('SIGTERM'), 500);
        },
      },
    );
    expect(r.code, r.stderr).toBe(3);
    const s = summaryOf(summaryJson);
    const m = metricsOf(metrics);
    expect(m.value('outcome', { outcome: 'interrupted' })).toBe(1);
    expect(m.value('rows', { status: 'created' })).toBe(s.rows.created);
    expect(m.value('last_success_timestamp_seconds')).toBe(0);
    expect(m.labels('run_info').run_id).toBe(s.runId);
  });

  it('a run that fails after it started (its results file cannot be written) ends as error', async () => {
    const e = await testEmulator({ rate: 1000, burst: 1000 });
    const dir = tempDir();
    const input = writeCsv(taskRows(150), 'big.csv', dir);
    const metrics = join(dir, 'big.prom');
    // ulimit -f 40: files of at most 20 KiB. The results file outgrows it (EFBIG); the metrics file never does.
    const r = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(
        'sh',
        [
          '-c',
          'ulimit -f 40; exec "$0" "$@"',
          process.execPath,
          BIN,
          ...runArgs(input, e.url, ['--rate', '1000', '--burst', '50', '--metrics-file', metrics]),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('close', (code) => done({ code, stderr }));
    });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('EFBIG');
    const m = metricsOf(metrics);
    expect(m.value('outcome', { outcome: 'error' })).toBe(1);
    expect(m.value('last_success_timestamp_seconds')).toBe(0);
  });

  it('a full disk mid-run: one warning, the run goes on and loses nothing', async (ctx) => {
    const mount = join(tempDir(), 'metrics');
    mkdirSync(mount);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      console.warn('skipped: cannot mount a small tmpfs here (needs root); the unit test covers failed writes');
      ctx.skip();
    }
    try {
      const e = await testEmulator({ rate: 1000, burst: 1000, latencyMs: 100 });
      const input = writeCsv(taskRows(30));
      const metrics = join(mount, 'job.prom');
      const run = cli(
        runArgs(input, e.url, ['--rate', '10', '--burst', '1', '--metrics-file', metrics, '--log-format', 'json']),
      );
      await until(() => existsSync(metrics), 'the first write of the metrics file');
      fill(join(mount, 'ballast'));
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
      const warnings = r.stderr.split('\n').filter((l) => l.includes('"level":"warn"'));
      expect(warnings.filter((l) => l.includes('cannot write the metrics file'))).toHaveLength(1);
      expect(warnings.filter((l) => l.includes('cannot write the final metrics'))).toHaveLength(1);
      expect(warnings.join('\n')).toContain('ENOSPC');
      const rows = readResults(input.replace(/\.csv$/, '.results.csv'));
      expect(rows.filter((row) => row['Result.Status'] === 'created')).toHaveLength(30);
      expect(e.stats()).toMatchObject({ tasks: 30, maxTasksPerToken: 1 });
      // What the disk holds is an earlier write, whole: no reader ever gets half a file.
      expect(metricsOf(metrics).value('outcome', { outcome: 'running' })).toBe(1);
      expect(readdirSync(mount).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});

/** Fills the file system `path` is on. */
function fill(path: string): void {
  try {
    writeFileSync(path, Buffer.alloc(64 * 1024));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
}
