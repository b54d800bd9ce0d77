/**
 * `stop s3://bucket/key.csv`: the tasks of a results file kept in S3 stopped against the emulator, with
 * its lease held meanwhile and the stop file on this machine — each task once, a second stop sending
 * nothing, a stop refused while a run holds the object.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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
  it('stops every created task once, the stop file local; the lease released; a second stop sends nothing', async () => {
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
    expect(r.stdout).not.toContain('connect-task-loader-s3-');
    const stopFile = join(here, 'r.stop.csv');
    const stops = readResults(stopFile);
    expect(stops).toHaveLength(50);
    expect(new Set(stops.map((x) => x['Result.Line'])).size).toBe(50);
    expect(stops.every((x) => x['Stop.Status'] === 'stopped')).toBe(true);
    expect(statSync(stopFile).mode & 0o777).toBe(0o600);
    const tasks = new Map(e.service.tasks.map((t) => [t.ContactId, t]));
    for (const row of created)
      expect(tasks.get(row['Result.ContactId']!)).toMatchObject({ state: 'ended', stopRequests: 1 });
    expect(e.stats().stopped).toBe(50);
    // Nothing written to S3 but the lease, released; the results object untouched.
    expect(JSON.parse((await s3.get(b, 'runs/r.csv.lease')).toString()).released).toBe(true);
    expect(rowsOf(await s3.get(b, 'runs/r.csv'))).toEqual(created);
    expect(await s3.keys(b)).toEqual([
      'runs/r.csv',
      'runs/r.csv.lease',
      'runs/r.csv.run.json',
      'runs/r.csv.timeline.jsonl',
    ]);

    // Again, naming the same stop file: every row already done, nothing sent.
    const before = e.stats().stopRequests;
    const again = await cli(['stop', url, ...stopFlags(e), '--results', stopFile]);
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

    // Another endpoint than the run's: refused with the command that sends where it did, S3 endpoint included.
    const elsewhere = await cli(['stop', url, ...stopFlags(e).map((a) => (a === e.url ? 'http://127.0.0.1:9' : a))]);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain(`${url} records tasks created elsewhere`);
    expect(elsewhere.stderr).toContain(`stop ${url} --s3-endpoint ${s3.endpoint} --endpoint ${e.url}`);
    expect(elsewhere.stderr).not.toContain('connect-task-loader-s3-');
  });

  it('refuses while a run holds the object (exit 4), nothing sent; refuses an s3:// stop file and a missing object', async () => {
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
    const here = tempDir();
    const held = await cli(['stop', url, ...stopFlags(e), '--results', join(here, 'busy.stop.csv')]);
    expect(held.code, held.stdout + held.stderr).toBe(4);
    expect(held.stderr).toContain(`another run holds ${url}`);
    expect(held.stderr).not.toContain('connect-task-loader-s3-');
    expect(e.stats().stopRequests).toBe(0);
    expect(existsSync(join(here, 'busy.stop.csv'))).toBe(false);
    child!.kill('SIGTERM');
    expect((await run).code).toBe(3);

    const toS3 = await cli(['stop', url, ...stopFlags(e), '--results', `s3://${b}/busy.stop.csv`]);
    expect(toS3.code).toBe(2);
    expect(toS3.stderr).toContain('the stop file is written on this machine');
    const missing = await cli(['stop', `s3://${b}/nothing.csv`, ...stopFlags(e)]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`no results at s3://${b}/nothing.csv`);
    expect(e.stats().stopRequests).toBe(0);
    expect(JSON.parse((await s3.get(b, 'busy.csv.lease')).toString()).released).toBe(true);
    expect(workingCopies().filter((n) => n.includes(`-${process.pid}-`))).toEqual([]);
  });
});
