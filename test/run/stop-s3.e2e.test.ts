/**
 * `stop s3://bucket/key.csv`: the tasks of a results file kept in S3 stopped against the emulator, with
 * its lease held meanwhile and the stop file in S3 beside it (or local, as --results says) — each task
 * once, a second stop sending nothing, a stop refused while a run or stop holds the object, a stop
 * killed mid-way finished from S3 by another in a new folder.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { cli, spawnCli } from '../cli/bin.js';
import { testEmulator } from '../emulator.js';
import { ROUTE_FLAGS, readResults, taskRows, tempDir, until, writeCsv } from '../helpers.js';
import { fileS3, newBucket, s3RunFlags, skipS3 } from '../s3.js';

const s3 = fileS3();
const FAST = { rate: 10_000, burst: 10_000, stopRate: 10_000, stopBurst: 10_000 };

const rowsOf = (body: Buffer) => parse(body, { columns: true }) as Record<string, string>[];

async function runInto(e: Emulator, url: string, rows: number): Promise<void> {
  const ran = await cli(['run', writeCsv(taskRows(rows)), '--results', url, ...s3RunFlags(s3, e.url), ...ROUTE_FLAGS]);
  expect(ran.code, ran.stderr).toBe(0);
}

const stopFlags = (e: Emulator) => [
  '--s3-endpoint',
  s3.endpoint,
  '--endpoint',
  e.url,
  '--rate',
  '500',
  '--burst',
  '50',
];

const workingCopies = () => readdirSync(tmpdir()).filter((n) => n.startsWith('connect-task-loader-s3-'));

describe.skipIf(skipS3)('stop s3://bucket/key.csv', () => {
  it('stops every created task once, the stop file in S3 beside the results; report counts it; a second stop sends nothing', async () => {
    const e = await testEmulator(FAST);
    const b = await newBucket(s3, 'stop');
    const url = `s3://${b}/runs/r.csv`;
    await runInto(e, url, 50);
    const created = rowsOf(await s3.get(b, 'runs/r.csv'));
    expect(created).toHaveLength(50);

    const here = tempDir();
    const r = await spawnCli(['stop', url, ...stopFlags(e)], { cwd: here });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`Results:   ${url}`);
    expect(r.stdout).toContain(`Stops:     s3://${b}/runs/r.stop.csv`);
    expect(r.stdout).not.toContain('connect-task-loader-s3-');
    expect(readdirSync(here)).toEqual([]);
    const stops = rowsOf(await s3.get(b, 'runs/r.stop.csv'));
    expect(stops).toHaveLength(50);
    expect(new Set(stops.map((x) => x['Result.Line'])).size).toBe(50);
    expect(stops.every((x) => x['Stop.Status'] === 'stopped')).toBe(true);
    expect(JSON.parse((await s3.get(b, 'runs/r.stop.csv.run.json')).toString())).toMatchObject({
      kind: 'stop',
      results: url,
      outcome: 'completed',
    });
    const tasks = new Map(e.service.tasks.map((t) => [t.ContactId, t]));
    for (const row of created)
      expect(tasks.get(row['Result.ContactId']!)).toMatchObject({ state: 'ended', stopRequests: 1 });
    expect(e.stats().stopped).toBe(50);
    // The results object untouched, both leases released, the stop's checkpoints gone with the whole file written.
    expect(rowsOf(await s3.get(b, 'runs/r.csv'))).toEqual(created);
    for (const lease of ['runs/r.csv.lease', 'runs/r.stop.csv.lease'])
      expect(JSON.parse((await s3.get(b, lease)).toString()).released).toBe(true);
    expect(await s3.keys(b)).toEqual([
      'runs/r.csv',
      'runs/r.csv.lease',
      'runs/r.csv.run.json',
      'runs/r.csv.timeline.jsonl',
      'runs/r.stop.csv',
      'runs/r.stop.csv.lease',
      'runs/r.stop.csv.run.json',
    ]);

    const report = await cli(['report', url, '--s3-endpoint', s3.endpoint]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain(`Stops: 50 of 50 created tasks stopped · s3://${b}/runs/r.stop.csv`);
    // A merge of the prefix takes the results, not the stop file beside them.
    const merged = await cli([
      'merge',
      `s3://${b}/runs/`,
      '--results',
      join(here, 'all.csv'),
      '--s3-endpoint',
      s3.endpoint,
    ]);
    expect(merged.code, merged.stderr).toBe(0);
    expect(readResults(join(here, 'all.csv'))).toHaveLength(50);

    // Again, from anywhere: every row already done, nothing sent.
    const before = e.stats().stopRequests;
    const again = await cli(['stop', url, ...stopFlags(e)]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('already done by an earlier stop');
    expect(e.stats().stopRequests).toBe(before);
  });

  it('--lines, then the rest into the same local file; --dry-run sends nothing', async () => {
    const e = await testEmulator(FAST);
    const b = await newBucket(s3, 'stop');
    const url = `s3://${b}/part.csv`;
    await runInto(e, url, 20);
    const stopFile = join(tempDir(), 'mine.csv');
    const dry = await cli(['stop', url, ...stopFlags(e), '--results', stopFile, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Would stop: 20 tasks');
    expect(e.stats().stopRequests).toBe(0);
    const some = await cli(['stop', url, ...stopFlags(e), '--results', stopFile, '--lines', '2-10']); // two input lines a row: rows 1-5
    expect(some.code, some.stderr).toBe(0);
    expect(e.stats().stopped).toBe(5);
    const rest = await cli(['stop', url, ...stopFlags(e), '--results', stopFile]);
    expect(rest.code, rest.stderr).toBe(0);
    expect(e.stats().stopped).toBe(20);
    expect(e.stats().stopRequests).toBe(20);
    expect(readResults(stopFile)).toHaveLength(20);
    expect(statSync(stopFile).mode & 0o777).toBe(0o600);
    expect(await s3.keys(b, 'part.stop.csv')).toEqual([]);

    // Another endpoint than the run's: refused with the command that sends where it did, S3 endpoint included.
    const elsewhere = await cli(['stop', url, ...stopFlags(e).map((a) => (a === e.url ? 'http://127.0.0.1:9' : a))]);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain(`${url} records tasks created elsewhere`);
    expect(elsewhere.stderr).toContain(`stop ${url} --s3-endpoint ${s3.endpoint} --endpoint ${e.url}`);
    expect(elsewhere.stderr).not.toContain('connect-task-loader-s3-');
  });

  it('refuses while a run holds the object (exit 4), nothing sent or written; refuses a missing object', async () => {
    const e = await testEmulator({ ...FAST, rate: 40, burst: 1 });
    const b = await newBucket(s3, 'stop');
    const url = `s3://${b}/busy.csv`;
    let child: ChildProcess | undefined;
    // 15 s of rows at 40/s: the run still holds the object when the stop has looked, however slowly.
    const run = spawnCli(
      ['run', writeCsv(taskRows(600)), '--results', url, ...s3RunFlags(s3, e.url), ...ROUTE_FLAGS].map((a, i, all) =>
        all[i - 1] === '--rate' ? '40' : all[i - 1] === '--burst' ? '1' : a,
      ),
      { onSpawn: (c) => (child = c) },
    );
    await until(() => e.service.tasks.length >= 5, 'the run to send');
    const held = await cli(['stop', url, ...stopFlags(e)]);
    expect(held.code, held.stdout + held.stderr).toBe(4);
    expect(held.stderr).toContain(`another run holds ${url}`);
    expect(held.stderr).not.toContain('connect-task-loader-s3-');
    expect(e.stats().stopRequests).toBe(0);
    expect(await s3.keys(b, 'busy.stop.csv')).toEqual([]);
    child!.kill('SIGTERM');
    expect((await run).code).toBe(3);

    const missing = await cli(['stop', `s3://${b}/nothing.csv`, ...stopFlags(e)]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`no results at s3://${b}/nothing.csv`);
    expect(e.stats().stopRequests).toBe(0);
    expect(JSON.parse((await s3.get(b, 'busy.csv.lease')).toString()).released).toBe(true);
    expect(workingCopies().filter((n) => n.includes(`-${process.pid}.`))).toEqual([]);
  });

  it('killed (-9) mid-stop, the same command with --resume in a new folder finishes from S3: no stop in a checkpoint sent again', async () => {
    const e = await testEmulator(FAST);
    const b = await newBucket(s3, 'stop');
    const url = `s3://${b}/night.csv`;
    const rows = 120;
    await runInto(e, url, rows);
    // Slow enough to be killed mid-way, checkpointed often enough to have rows in S3 by then.
    const command = ['stop', url, ...stopFlags(e), '--rate', '10', '--burst', '1', '--checkpoint-interval', '0.2'];
    const checkpoints = () => s3.requests.filter((r) => r.startsWith('PUT ') && r.includes('/night.stop.csv.parts/'));
    let child: ChildProcess | undefined;
    const first = spawnCli(command, { cwd: tempDir(), onSpawn: (c) => (child = c) });
    await until(() => e.stats().stopped >= 3, 'the first stop to send');

    // Another stop of the same results meanwhile: refused.
    const second = await cli(command);
    expect(second.code, second.stdout + second.stderr).toBe(4);
    expect(second.stderr).toContain(`another run holds ${url}`);

    await until(() => e.stats().stopped >= 20 && checkpoints().length >= 3, '20 stops and three checkpoints');
    child!.kill('SIGKILL');
    expect((await first).code).toBe(null);
    const pid = child!.pid!;

    // What S3 holds of the killed stop: the rows of its checkpoints.
    const state = JSON.parse((await s3.get(b, 'night.stop.csv.run.json')).toString());
    expect(state).toMatchObject({ kind: 'stop', outcome: 'running' });
    const parts = await s3.keys(b, `night.stop.csv.parts/${state.checkpoints.generation}/`);
    const checkpointed = rowsOf(Buffer.concat(await Promise.all(parts.map((k) => s3.get(b, k)))));
    expect(checkpointed.length).toBeGreaterThan(0);
    expect(checkpointed.length).toBeLessThan(rows);

    // A new container: another folder, nothing of the first stop on its disk.
    const resumed = await spawnCli([...command, '--resume'], { cwd: tempDir() });
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`of which ${checkpointed.length} already done by an earlier stop`);
    const tasks = new Map(e.service.tasks.map((t) => [t.ContactId, t]));
    for (const row of checkpointed) expect(tasks.get(row['Result.ContactId']!)?.stopRequests).toBe(1);
    expect(e.service.tasks).toHaveLength(rows);
    for (const task of e.service.tasks) expect(task).toMatchObject({ state: 'ended', stoppedByRequest: true });
    expect(e.stats().stopped).toBe(rows);

    const stops = rowsOf(await s3.get(b, 'night.stop.csv'));
    expect(new Set(stops.map((x) => x['Result.Line'])).size).toBe(rows);
    expect(stops).toHaveLength(rows);
    expect(stops.every((x) => ['stopped', 'already-ended'].includes(x['Stop.Status']!))).toBe(true);
    expect(await s3.keys(b, 'night.stop.csv.parts/')).toEqual([]);
    const report = await cli(['report', url, '--s3-endpoint', s3.endpoint]);
    expect(report.stdout).toContain(`Stops: ${rows} of ${rows} created tasks stopped`);
    expect(workingCopies().filter((n) => n.includes(`-${pid}.`))).toEqual([]); // removed by the next stop here
  });
});
