/**
 * The active-task limit from the command line: `--max-wait` and `--deadline` stop a paused run with
 * exit 3 and the `--resume` command, a signal stops it promptly, and the resumed run finishes every
 * row once. The emulator holds 20 active tasks; the default probe schedule (first probe after 5 s)
 * is never reached: these runs stop, or are let through, before it.
 */
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { testEmulator } from '../emulator.js';
import { ROUTE_FLAGS, readResults, taskRows, writeCsv } from '../helpers.js';
import { cli, spawnCli } from './bin.js';

const CAP = 20;

const full = () => testEmulator({ rate: 1000, burst: 1000, maxActiveTasks: CAP });

const args = (e: Emulator, input: string, ...more: string[]) => [
  'run',
  input,
  '--endpoint',
  e.url,
  '--rate',
  '200',
  '--burst',
  '20',
  ...ROUTE_FLAGS,
  '--no-progress',
  '--log-format',
  'json',
  ...more,
];

/** The seconds a pause lasted, as `line` (with one group for them) shows them in `text`. */
function pausedSeconds(text: string, line: RegExp): number {
  const m = line.exec(text);
  expect(m, `${line} in:\n${text}`).not.toBeNull();
  return Number(m![1]);
}

/** Every row created once: the results file and the emulator agree. */
function expectEveryRowOnce(e: Emulator, results: string, rows: number): void {
  const read = readResults(results);
  expect(read).toHaveLength(rows);
  expect(read.every((r) => r['Result.Status'] === 'created')).toBe(true);
  expect(e.stats().tasks).toBe(rows);
  expect(e.stats().maxTasksPerToken).toBe(1);
}

describe('the active-task limit on the command line', () => {
  it('--max-wait 2s: exit 3, says why and prints the --resume command; the resume finishes every row once', async () => {
    const e = await full();
    const input = writeCsv(taskRows(60));
    const r = await cli(args(e, input, '--max-wait', '2s'));
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^Stopped: 20 of 60 rows — 20 created, 0 failed, 0 invalid/m);
    // How long the pause lasted is measured: --max-wait at least, more on a busy machine.
    expect(
      pausedSeconds(r.stdout, /^Paused once at the instance's active-task limit: (\d+)s, from \d\d:\d\d/m),
    ).toBeGreaterThanOrEqual(2);
    expect(r.stdout).toContain(
      "Stopped: the instance's active-task limit held for 2s (--max-wait). Rows not created are not recorded",
    );
    expect(r.stdout).toMatch(/^Next: connect-task-loader run .* --resume/m);
    expect(r.stdout).toContain('the instance stayed at its active-task limit: once agents have closed tasks');
    expect(r.stderr).toContain('paused: the instance is at its active-task limit');
    expect(r.stderr).toContain("stopping: the instance's active-task limit held for 2s (--max-wait)");
    const results = input.replace(/\.csv$/, '.results.csv');
    expect(readResults(results)).toHaveLength(CAP);

    const report = await cli(['report', results]);
    expect(report.code).toBe(3);
    expect(
      pausedSeconds(
        report.stdout,
        /Paused: once at the instance's active-task limit \(no request left\), (\d+)s, from/,
      ),
    ).toBeGreaterThanOrEqual(2);

    e.configure({ drainRate: 10_000 }); // agents work through everything
    const resumed = await cli(args(e, input, '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expectEveryRowOnce(e, results, 60);
  });

  it('--deadline during a pause: exit 3, the rows not sent unrecorded; --resume after the drain finishes them', async () => {
    const e = await full();
    const input = writeCsv(taskRows(60));
    // Long enough for the first 20 to be created and the 21st refused, however busy the machine; the
    // first probe (5 s after the pause began) comes after it.
    const r = await cli(args(e, input, '--deadline', '5'));
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^Interrupted: 20 of 60 rows — 20 created, 0 failed/m);
    expect(r.stdout).toMatch(/^Paused once at the instance's active-task limit/m);
    const results = input.replace(/\.csv$/, '.results.csv');
    expect(readResults(results)).toHaveLength(CAP);

    e.service.endTasks();
    e.configure({ maxActiveTasks: undefined });
    const resumed = await cli(args(e, input, '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expectEveryRowOnce(e, results, 60);
  });

  it('SIGTERM during a pause: a clean, prompt exit 3 (a process of its own), resumable', async () => {
    const e = await full();
    const input = writeCsv(taskRows(60));
    let sent = false;
    const r = await spawnCli(args(e, input), {
      onStderr: (text, child) => {
        if (sent || !text.includes('paused: the instance is at its active-task limit')) return;
        sent = true;
        child.kill('SIGTERM');
      },
      limitMs: 60_000, // the default --max-wait is 3 hours: only the signal can end it in time
    });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^Interrupted: 20 of 60 rows — 20 created, 0 failed/m);
    const results = input.replace(/\.csv$/, '.results.csv');
    expect(readResults(results)).toHaveLength(CAP);

    e.configure({ maxActiveTasks: undefined });
    const resumed = await cli(args(e, input, '--resume'));
    expect(resumed.code, resumed.stderr).toBe(0);
    expectEveryRowOnce(e, results, 60);
  });

  it('--max-wait takes durations; a bad one is refused before anything runs', async () => {
    const e = await full();
    const input = writeCsv(taskRows(2));
    const r = await cli(args(e, input, '--max-wait', '3 hours'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--max-wait must be a duration such as 90s, 30m, 3h or 1h30m (or seconds)');
    const ok = await cli(args(e, input, '--max-wait', '0'));
    expect(ok.code, ok.stderr).toBe(0); // 2 rows fit: nothing to wait for
  });
});
