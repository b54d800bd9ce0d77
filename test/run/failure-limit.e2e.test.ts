/**
 * The failure limit end to end, over the emulator and the real SDK: a run whose rows fail stops
 * taking rows (the default for a wrong id, --max-failures from a flag, the environment or the job
 * file), records the rows in flight, leaves the rest unrecorded, exits 3 and prints the way on —
 * which, followed as printed once the cause is fixed, creates every row exactly once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FAILURES, PERCENT_SAMPLE } from '../../src/config/settings.js';
import type { Emulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { readState } from '../../src/ledger/state.js';
import { rerunImport, runImport } from '../../src/run/run.js';
import type { Summary } from '../../src/run/summary.js';
import { cli } from '../cli/bin.js';
import { testEmulator } from '../emulator.js';
import { readResults, taskRows, tempDir, writeCsv } from '../helpers.js';

/** A contact flow id the emulator does not know until the test "deploys" it. */
const FLOW = '00000000-0000-4000-8000-00000000f10e';
const FAST = ['--rate', '5000', '--burst', '5000'];
const fastEmulator = () => testEmulator({ rate: 5000, burst: 5000 });

/** The flow is deployed: the emulator's control route now knows it (as an operator's fix would). */
async function deploy(e: Emulator, flow = FLOW): Promise<void> {
  const res = await fetch(`${e.url}/__emulator/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: { [DEMO_INSTANCE_ID]: { contactFlows: [DEMO_CONTACT_FLOW_ID, flow] } } }),
  });
  expect(res.status).toBe(200);
}

/** The command a summary prints after `Next:` or `Then:`, as arguments for cli(). */
function printed(stdout: string, label: 'Next' | 'Then'): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label}: connect-task-loader `));
  expect(line, `a "${label}:" command in:\n${stdout}`).toBeDefined();
  expect(line).not.toMatch(/['"]/); // plain words: split as a shell would
  return line!.slice(`${label}: connect-task-loader `.length).split(' ');
}

/** Every input line at most once in a results file; its rows by status. */
function recorded(path: string): { lines: Set<string>; byStatus: Record<string, number>; codes: Set<string> } {
  const rows = readResults(path);
  const lines = new Set(rows.map((r) => r['Result.Line']!));
  expect(lines.size, 'a line recorded twice').toBe(rows.length);
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r['Result.Status']!] = (byStatus[r['Result.Status']!] ?? 0) + 1;
  return {
    lines,
    byStatus,
    codes: new Set(rows.flatMap((r) => (r['Result.ErrorCode'] ? [r['Result.ErrorCode']] : []))),
  };
}

describe('a wrong contact flow id: the default limit', () => {
  it('stops 2,000 rows at 16 in flight after the default, twice while the flow is missing; the way on creates each row once', async () => {
    const e = await fastEmulator();
    const dir = tempDir();
    const input = writeCsv(taskRows(2_000), 'callbacks.csv', dir);
    const results = join(dir, 'callbacks.results.csv');
    const summaryJson = join(dir, 'summary.json');
    const args = ['run', input, '--endpoint', e.url, ...FAST, '--concurrency', '16', '--log-level', 'warn'];
    const route = ['--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', FLOW];

    const first = await cli([...args, ...route, '--summary-json', summaryJson]);
    expect(first.code, first.stderr).toBe(3);
    const one = recorded(results);
    // The rows that passed the limit, and the ones already in flight then; no other row was sent.
    expect(one.byStatus).toEqual({ failed: one.lines.size });
    expect(one.lines.size).toBeGreaterThanOrEqual(DEFAULT_MAX_FAILURES);
    expect(one.lines.size).toBeLessThanOrEqual(DEFAULT_MAX_FAILURES + 16);
    expect([...one.codes]).toEqual(['ResourceNotFoundException']);
    expect(e.stats().requests).toBe(one.lines.size);
    expect(first.stdout).toMatch(
      new RegExp(
        `^Stopped: ${one.lines.size} of 2000 rows — 0 created, ${one.lines.size} failed, 0 invalid$[\\s\\S]*` +
          `^Stopped: ${one.lines.size} of the ${one.lines.size} rows this run sent failed, all with ` +
          `ResourceNotFoundException: past its failure limit \\(the default: ${DEFAULT_MAX_FAILURES} rows failing ` +
          `with one error before any is created; --max-failures sets another, 0 none\\)\\. The rows in flight ` +
          `then finished and are recorded; ` +
          `${2_000 - one.lines.size} rows were not sent and are not recorded\\.$`,
        'm',
      ),
    );
    expect(first.stdout).toMatch(/fix the cause first — ResourceNotFoundException: an instance, contact flow/);
    expect(first.stdout).not.toMatch(/^Interrupted\./m); // a bare --resume would stop again: the Next line says so
    const summary = JSON.parse(readFileSync(summaryJson, 'utf8')) as Summary;
    expect(summary.failureLimit).toEqual({
      limit: 'default',
      sent: one.lines.size,
      failed: one.lines.size,
      dominant: { code: 'ResourceNotFoundException', count: one.lines.size },
    });
    expect(await readState(results)).toMatchObject({ outcome: 'interrupted', failureLimit: summary.failureLimit });

    // The way on, as printed: the same command with --resume, then a rerun of the results file.
    const resume = printed(first.stdout, 'Next');
    expect(resume).toEqual(expect.arrayContaining(['run', input, '--results', results, '--contact-flow-id', FLOW]));
    expect(resume.at(-1)).toBe('--resume');
    const rerun = printed(first.stdout, 'Then');
    expect(rerun.slice(0, 4)).toEqual(['rerun', results, '--results', join(dir, 'callbacks.results.rerun-1.csv')]);

    // Resumed before the fix: this run created nothing either, so the default stops it again as quickly.
    const again = await cli([...resume, '--log-level', 'warn']);
    expect(again.code, again.stderr).toBe(3);
    const two = recorded(results);
    const added = two.lines.size - one.lines.size;
    expect(two.byStatus).toEqual({ failed: two.lines.size });
    expect(added).toBeGreaterThanOrEqual(DEFAULT_MAX_FAILURES);
    expect(added).toBeLessThanOrEqual(DEFAULT_MAX_FAILURES + 16);
    for (const line of one.lines) expect(two.lines.has(line)).toBe(true);
    expect(printed(again.stdout, 'Next')).toEqual(resume);

    const report = await cli(['report', results]);
    expect(report.code).toBe(3);
    expect(report.stdout).toMatch(
      new RegExp(`Stopped: ${added} of the ${added} rows this run sent failed, all with ResourceNotFoundException`),
    );
    expect(report.stdout).toContain(`Next: connect-task-loader ${resume.join(' ')}`);
    expect(report.stdout).toContain(`Then: connect-task-loader ${rerun.join(' ')}`);
    const html = join(dir, 'report.html');
    const json = await cli(['report', results, '--json', '--html', html]);
    const parsed = JSON.parse(json.stdout) as { reports: { failureLimit?: unknown }[] };
    expect(parsed.reports[0]!.failureLimit).toMatchObject({ limit: 'default', sent: added, failed: added });
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('stopped: too many rows failed');
    expect(page).toContain(`<b>Then</b><code>connect-task-loader ${rerun.join(' ')}</code>`);

    // The flow is deployed: the resume sends every row not sent yet, once; the failed rows stay failed.
    await deploy(e);
    const finished = await cli([...resume, '--log-level', 'warn']);
    expect(finished.code, finished.stderr).toBe(1);
    const three = recorded(results);
    expect(three.lines.size).toBe(2_000);
    expect(three.byStatus).toEqual({ created: 2_000 - two.lines.size, failed: two.lines.size });
    // Its own Next line is the rerun printed before.
    expect(printed(finished.stdout, 'Next')).toEqual(rerun);

    const sentAgain = await cli(rerun);
    expect(sentAgain.code, sentAgain.stderr).toBe(0);
    expect(recorded(join(dir, 'callbacks.results.rerun-1.csv')).byStatus).toEqual({ created: 2_000 });
    const stats = e.stats();
    expect(stats.tasks).toBe(2_000);
    expect(stats.maxTasksPerToken).toBe(1);
  });

  it('a wrong id corrected on --resume: the refusal says nothing is left to finish and its command creates each row once', async () => {
    const e = await fastEmulator();
    const dir = tempDir();
    const input = writeCsv(taskRows(300), 'renewals.csv', dir);
    const args = ['run', input, '--endpoint', e.url, ...FAST, '--concurrency', '4', '--instance-id', DEMO_INSTANCE_ID];
    const first = await cli([...args, '--contact-flow-id', FLOW]);
    expect(first.code, first.stderr).toBe(3);

    const corrected = await cli([...args, '--contact-flow-id', DEMO_CONTACT_FLOW_ID, '--resume']);
    expect(corrected.code).toBe(2);
    expect(corrected.stderr).toMatch(
      /It stopped at its failure limit with nothing created: all \d+ rows it sent were refused with ResourceNotFoundException/,
    );
    // Resuming the wrong id would only fail more rows: the one command is the corrected run's.
    expect(corrected.stderr).not.toContain('to finish it, resume it');
    const commands = corrected.stderr.split('\n').filter((l) => l.startsWith('  connect-task-loader '));
    expect(commands).toHaveLength(1);
    const fixed = await cli([...commands[0]!.trim().slice('connect-task-loader '.length).split(' ')]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(recorded(join(dir, 'renewals.results-2.csv')).byStatus).toEqual({ created: 300 });
    expect(e.stats()).toMatchObject({ tasks: 300, maxTasksPerToken: 1 });
  });

  it('a file of 3 rows that all fail ends normally (exit 1): the default was never reached', async () => {
    const e = await fastEmulator();
    const input = writeCsv(taskRows(3));
    const ran = await cli([
      'run',
      input,
      '--endpoint',
      e.url,
      ...FAST,
      '--instance-id',
      DEMO_INSTANCE_ID,
      '--contact-flow-id',
      FLOW,
    ]);
    expect(ran.code, ran.stderr).toBe(1);
    expect(ran.stdout).toMatch(/^Done: 3 rows — 0 created, 3 failed, 0 invalid$/m);
  });

  it('counts no invalid rows: 30 invalid rows before the wrong id, still 20 failed rows to stop', async () => {
    const e = await fastEmulator();
    const rows = taskRows(80);
    for (let i = 1; i <= 30; i++) rows[i]![0] = ''; // Name empty: invalid, never sent
    const summary = await runImport({
      input: writeCsv(rows),
      endpoint: e.url,
      rate: 5000,
      burst: 5000,
      concurrency: 1,
      instanceId: DEMO_INSTANCE_ID,
      contactFlowId: FLOW,
    });
    expect(summary.interrupted).toBe(true);
    expect(summary.failureLimit).toEqual({
      limit: 'default',
      sent: DEFAULT_MAX_FAILURES,
      failed: DEFAULT_MAX_FAILURES,
      dominant: { code: 'ResourceNotFoundException', count: DEFAULT_MAX_FAILURES },
    });
    expect(summary.rows).toMatchObject({ invalid: 30, failed: DEFAULT_MAX_FAILURES, created: 0 });
  });
});

/** `count` rows, every tenth with a Name the emulator refuses (over its 512) and validation lets through (1024). */
function tenPercentRefused(count: number): string {
  const rows = taskRows(count);
  for (let i = 10; i <= count; i += 10) rows[i]![0] = `${'x'.repeat(600)} ${i}`;
  return writeCsv(rows);
}

describe('--max-failures', () => {
  it('5% stops a run where 10% of the rows are refused; 0 never stops; the default does not (rows were created)', async () => {
    const e = await testEmulator({ rate: 5000, burst: 5000, maxLengths: { Name: 512 } });
    const input = tenPercentRefused(1_000);
    const dir = tempDir();
    const base = ['run', input, '--endpoint', e.url, ...FAST, '--instance-id', DEMO_INSTANCE_ID];
    const flow = ['--contact-flow-id', DEMO_CONTACT_FLOW_ID, '--log-level', 'warn'];

    const stopped = await cli([...base, ...flow, '--max-failures', '5%', '--results', join(dir, 'a.csv')]);
    expect(stopped.code, stopped.stderr).toBe(3);
    const a = recorded(join(dir, 'a.csv'));
    expect(a.lines.size).toBeGreaterThanOrEqual(PERCENT_SAMPLE);
    expect(a.lines.size).toBeLessThan(1_000);
    expect(e.stats().requests).toBe(a.lines.size);
    expect(stopped.stdout).toMatch(
      /rows this run sent failed, all with InvalidParameterException: past its failure limit \(--max-failures 5%: more than 5% of the rows answered\)/,
    );
    expect(stopped.stdout).toMatch(/fix the cause first — InvalidParameterException: the service refuses a value/);
    expect(printed(stopped.stdout, 'Next')).toEqual(expect.arrayContaining(['--max-failures', '5%', '--resume']));

    const all = await cli([...base, ...flow, '--max-failures', '0', '--results', join(dir, 'b.csv')]);
    expect(all.code, all.stderr).toBe(1);
    expect(recorded(join(dir, 'b.csv')).byStatus).toEqual({ created: 900, failed: 100 });

    const byDefault = await cli([...base, ...flow, '--results', join(dir, 'c.csv')]);
    expect(byDefault.code, byDefault.stderr).toBe(1);
    expect(recorded(join(dir, 'c.csv')).byStatus).toEqual({ created: 900, failed: 100 });
  });

  it('1 stops at the first failed row; a limit reached by the last row leaves nothing to resume (exit 1)', async () => {
    const e = await fastEmulator();
    const input = writeCsv(taskRows(3));
    const dir = tempDir();
    const base = ['run', input, '--endpoint', e.url, ...FAST, '--concurrency', '1'];
    const route = ['--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', FLOW];

    const one = await cli([...base, ...route, '--max-failures', '1', '--results', join(dir, 'one.csv')]);
    expect(one.code, one.stderr).toBe(3);
    expect(recorded(join(dir, 'one.csv')).byStatus).toEqual({ failed: 1 });
    expect(one.stdout).toMatch(
      /^Stopped: 1 of the 1 rows this run sent failed, .*\(--max-failures 1\)\. .*; 2 rows were not sent/m,
    );

    const last = await cli([...base, ...route, '--max-failures', '3', '--results', join(dir, 'last.csv')]);
    expect(last.code, last.stderr).toBe(1);
    expect(last.stdout).toMatch(/^Done: 3 rows — 0 created, 3 failed, 0 invalid$/m);
    expect(last.stdout).not.toMatch(/failure limit/);
    expect(await readState(join(dir, 'last.csv'))).toMatchObject({ outcome: 'completed' });
    expect((await readState(join(dir, 'last.csv')))?.failureLimit).toBeUndefined();
  });

  it('from the environment, the job file or a flag; it may change on --resume, and a resume keeps the last one', async () => {
    const e = await fastEmulator();
    const dir = tempDir();
    const input = writeCsv(taskRows(100), 'in.csv', dir);
    const results = join(dir, 'in.results.csv');
    const job = join(dir, 'job.json');
    writeFileSync(job, JSON.stringify({ maxFailures: 4 }));
    const base = ['run', input, '--endpoint', e.url, ...FAST, '--concurrency', '1', '--log-level', 'warn'];
    const route = ['--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', FLOW];
    const failedRows = () => recorded(results).byStatus.failed;

    const fromEnv = await cli([...base, ...route], { env: { ...process.env, CTL_MAX_FAILURES: '3' } });
    expect(fromEnv.code, fromEnv.stderr).toBe(3);
    expect(failedRows()).toBe(3);
    expect(fromEnv.stdout).toMatch(/\(--max-failures 3\)/);
    expect((await readState(results))?.options.maxFailures).toBe(3);

    // Another value on --resume is no other run; the flag wins over the environment.
    const flag = await cli([...base, ...route, '--max-failures', '2', '--resume'], {
      env: { ...process.env, CTL_MAX_FAILURES: '3' },
    });
    expect(flag.code, flag.stderr).toBe(3);
    expect(failedRows()).toBe(3 + 2);

    // Neither flag nor variable: the resume keeps the run's last value (2), over the job file's.
    const kept = await cli([...base, ...route, '--job', job, '--resume']);
    expect(kept.code, kept.stderr).toBe(3);
    expect(failedRows()).toBe(3 + 2 + 2);

    // A new run reads the job file; editing its maxFailures later does not make it another run.
    const fresh = join(dir, 'job.results.csv');
    const fromJob = await cli([...base, ...route, '--job', job, '--results', fresh]);
    expect(fromJob.code, fromJob.stderr).toBe(3);
    expect(recorded(fresh).byStatus).toEqual({ failed: 4 });
    writeFileSync(job, JSON.stringify({ maxFailures: '50%' }));
    const edited = await cli([...base, ...route, '--job', job, '--results', fresh, '--resume', '--max-failures', '1']);
    expect(edited.code, edited.stderr).toBe(3);
    expect(recorded(fresh).byStatus).toEqual({ failed: 5 });
  });

  it.each([
    [['--max-failures', '-1'], '--max-failures must be a count of failed rows (e.g. 50)'],
    [['--max-failures', '150%'], '--max-failures must be a percentage of at most 100% (got "150%")'],
    [['--max-failures', 'lots'], '(got "lots")'],
  ])('refuses %j before anything is sent (exit 2)', async (flag, message) => {
    const dir = tempDir();
    const input = writeCsv(taskRows(2), 'in.csv', dir);
    const ran = await cli([
      'run',
      input,
      '--endpoint',
      'http://127.0.0.1:9',
      '--instance-id',
      DEMO_INSTANCE_ID,
      ...flag,
    ]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(message);
  });

  it('refuses a bad CTL_MAX_FAILURES naming it, and a bad job file value', async () => {
    const dir = tempDir();
    const input = writeCsv(taskRows(2), 'in.csv', dir);
    const args = ['run', input, '--endpoint', 'http://127.0.0.1:9', '--instance-id', DEMO_INSTANCE_ID];
    const env = await cli(args, { env: { ...process.env, CTL_MAX_FAILURES: '0%' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('CTL_MAX_FAILURES: 0% would stop at the first failed row: write 1 for that');
    const job = join(dir, 'job.json');
    writeFileSync(job, JSON.stringify({ maxFailures: -2 }));
    const fromJob = await cli([...args, '--job', job]);
    expect(fromJob.code).toBe(2);
    expect(fromJob.stderr).toMatch(/maxFailures/);
  });
});

describe('shards and reruns count their own rows', () => {
  it('each shard stops at its own limit', async () => {
    const e = await fastEmulator();
    const dir = tempDir();
    const input = writeCsv(taskRows(200), 'big.csv', dir);
    const base = ['run', input, '--endpoint', e.url, ...FAST, '--concurrency', '1', '--max-failures', '5'];
    const route = ['--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', FLOW];
    for (const shard of ['1/2', '2/2']) {
      const ran = await cli([...base, ...route, '--shard', shard]);
      expect(ran.code, ran.stderr).toBe(3);
      const [i, n] = shard.split('/');
      const results = join(dir, `big.shard-${i}-of-${n}.results.csv`);
      expect(recorded(results).byStatus).toEqual({ failed: 5 });
      expect((await readState(results))?.failureLimit).toMatchObject({ sent: 5, failed: 5 });
    }
  });

  it('a rerun counts the rows it sends, not the ones it copies; its way on finishes the rerun, then reruns it', async () => {
    const e = await fastEmulator();
    const dir = tempDir();
    // 40 of 100 rows name a flow not deployed yet, in their own column.
    const rows = [['Name', 'Description', 'ContactFlowId']];
    for (let i = 1; i <= 100; i++) rows.push([`Task ${i}`, `d ${i}`, i % 5 < 2 ? FLOW : DEMO_CONTACT_FLOW_ID]);
    const input = writeCsv(rows, 'mixed.csv', dir);
    const results = join(dir, 'mixed.results.csv');
    const run = await cli([
      'run',
      input,
      '--endpoint',
      e.url,
      ...FAST,
      '--instance-id',
      DEMO_INSTANCE_ID,
      '--max-failures',
      '0',
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(recorded(results).byStatus).toEqual({ created: 60, failed: 40 });

    // The rerun's limit is over its own rows: 10 of those it sent, none of the 60 it copied.
    const rerunResults = join(dir, 'mixed.results.rerun-1.csv');
    const summary = await rerunImport({ input: results, concurrency: 1, maxFailures: 10 });
    expect(summary.failureLimit).toEqual({
      limit: '10',
      sent: 10,
      failed: 10,
      dominant: { code: 'ResourceNotFoundException', count: 10 },
    });
    // Rows after the stop are not copied either: the resume of the rerun does it.
    expect(recorded(rerunResults).byStatus).toEqual({ created: summary.rows.skipped, failed: 10 });
    expect(summary.rows.skipped).toBeLessThan(60);

    const report = await cli(['report', rerunResults]);
    expect(report.code).toBe(3);
    const finish = printed(report.stdout.replace(/^ {2}/gm, ''), 'Next');
    expect(finish.slice(0, 4)).toEqual(['rerun', results, '--results', rerunResults]);
    expect(finish.at(-1)).toBe('--resume');
    const then = printed(report.stdout.replace(/^ {2}/gm, ''), 'Then');
    expect(then.slice(0, 4)).toEqual(['rerun', rerunResults, '--results', join(dir, 'mixed.results.rerun-2.csv')]);

    await deploy(e);
    const finished = await cli(finish);
    expect(finished.code, finished.stderr).toBe(1);
    expect(recorded(rerunResults).byStatus).toEqual({ created: 90, failed: 10 });
    const last = await cli(then);
    expect(last.code, last.stderr).toBe(0);
    expect(recorded(join(dir, 'mixed.results.rerun-2.csv')).byStatus).toEqual({ created: 100 });
    expect(e.stats().tasks).toBe(100);
    expect(e.stats().maxTasksPerToken).toBe(1);
  });
});
