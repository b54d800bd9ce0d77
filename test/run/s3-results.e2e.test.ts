/**
 * Results in S3 (`--results s3://bucket/prefix/name.csv`) for runs whose disk dies with them: a local
 * working copy, checkpoints in S3 as the run goes, a lease for one run at a time. Against a real
 * S3-compatible server (moto) and the emulator; the killed runs are real processes, and each
 * "new container" a fresh folder with nothing of the run in it.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { cli, spawnCli } from '../cli/bin.js';
import { testEmulator } from '../emulator.js';
import { ROUTE_FLAGS, taskRows, tempDir, until, writeCsv } from '../helpers.js';
import { fileS3, newBucket, s3RunFlags, skipS3 } from '../s3.js';

const s3 = fileS3();
const FAST = { rate: 10_000, burst: 10_000 };

function tasksByRow(e: Emulator): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of e.service.tasks) counts.set(t.Attributes!.rowId!, (counts.get(t.Attributes!.rowId!) ?? 0) + 1);
  return counts;
}

const bucket = () => newBucket(s3, 'results');

function args(e: Emulator, input: string, results: string, ...more: string[]): string[] {
  return ['run', input, '--results', results, ...s3RunFlags(s3, e.url), ...ROUTE_FLAGS, ...more];
}

/** The same command with a slower pace, checkpoints every 0.2 s. */
function slow(e: Emulator, input: string, results: string, ...more: string[]): string[] {
  return args(e, input, results, '--checkpoint-interval', '0.2', ...more).map((a, i, all) =>
    all[i - 1] === '--rate' ? '40' : all[i - 1] === '--burst' ? '1' : a,
  );
}

const rowsOf = (body: Buffer) => parse(body, { columns: true }) as Record<string, string>[];

function everyRowOnce(e: Emulator, rows: number): void {
  const byRow = tasksByRow(e);
  expect(byRow.size).toBe(rows);
  expect([...byRow.values()].every((n) => n === 1)).toBe(true);
}

const workingCopies = (pid: number) =>
  readdirSync(tmpdir()).filter((n) => n.startsWith(`connect-task-loader-s3-${pid}.`));

describe.skipIf(skipS3)('run … --results s3://bucket/key.csv', () => {
  it('writes the results, run state and timeline to S3; releases the lease; leaves no working copy', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const input = writeCsv(taskRows(30));
    const url = `s3://${b}/runs/nuit du 4 é.csv`;
    const ran = await cli(args(e, input, url));
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain(url);
    expect(ran.stdout).not.toContain('connect-task-loader-s3-');
    const results = rowsOf(await s3.get(b, 'runs/nuit du 4 é.csv'));
    expect(results).toHaveLength(30);
    expect(results.every((r) => r['Result.Status'] === 'created')).toBe(true);
    const state = JSON.parse((await s3.get(b, 'runs/nuit du 4 é.csv.run.json')).toString());
    expect(state.outcome).toBe('completed');
    expect(state.rows.created).toBe(30);
    expect(await s3.keys(b)).toEqual([
      'runs/nuit du 4 é.csv',
      'runs/nuit du 4 é.csv.lease',
      'runs/nuit du 4 é.csv.run.json',
      'runs/nuit du 4 é.csv.timeline.jsonl',
    ]);
    expect(JSON.parse((await s3.get(b, 'runs/nuit du 4 é.csv.lease')).toString()).released).toBe(true);
    expect(workingCopies(process.pid)).toEqual([]);
    everyRowOnce(e, 30);

    // The same command again, anywhere: already processed, read from S3.
    const again = await cli(args(e, input, url));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Already processed');
    expect(e.stats().requests).toBe(30);
  });

  it('killed (-9) mid-run, the same command in a new container resumes from S3: every row once', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    // 10 s of rows at 40/s: killed with most of them left, however late the kill comes.
    const rows = 400;
    const csv = stringify(taskRows(rows));
    await s3.put(b, 'in/tickets.csv', csv);
    const url = `s3://${b}/out/tickets.csv`;
    const command = slow(e, `s3://${b}/in/tickets.csv`, url);
    let pid = 0;
    const killed = await spawnCli(command, {
      cwd: tempDir(),
      onSpawn: (child) => {
        pid = child.pid!;
        void until(
          () =>
            e.service.tasks.length >= 60 &&
            s3.requests.filter((r) => r.includes('/out/tickets.csv.parts/')).length >= 3,
          '60 tasks and three checkpoints',
        ).then(() => child.kill('SIGKILL'));
      },
    });
    expect(killed.code).toBe(null);
    const sentBefore = e.service.tasks.length;
    expect(sentBefore).toBeLessThan(rows);
    expect((await s3.keys(b, 'out/tickets.csv.parts/')).length).toBeGreaterThanOrEqual(2);

    // A new container: another folder, nothing of the run on its disk.
    const resumed = await spawnCli([...args(e, `s3://${b}/in/tickets.csv`, url), '--resume'], { cwd: tempDir() });
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const results = rowsOf(await s3.get(b, 'out/tickets.csv'));
    expect(results).toHaveLength(rows);
    expect(new Set(results.map((r) => r['Result.Line'])).size).toBe(rows);
    everyRowOnce(e, rows);
    expect(await s3.keys(b, 'out/tickets.csv.parts/')).toEqual([]);
    expect(workingCopies(pid)).toEqual([]); // the dead run's copy, removed by the next run on this machine
  });

  it('refuses a second worker on the same results while the first holds the lease (exit 4)', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    // 15 s of rows at 40/s: the first still holds the lease when the second has looked, however slowly.
    const input = writeCsv(taskRows(600));
    const url = `s3://${b}/one-at-a-time.csv`;
    let child: ChildProcess | undefined;
    const first = spawnCli(slow(e, input, url), { onSpawn: (c) => (child = c) });
    await until(() => e.service.tasks.length >= 5, 'the first worker to send');
    const second = await cli(args(e, input, url, '--resume'));
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(
      new RegExp(
        `another run holds ${url} \\(pid \\d+ on .+, since .+\\); if that run is gone, its lease ${url}\\.lease expires at `,
      ),
    );
    child!.kill('SIGTERM');
    expect((await first).code).toBe(3);
  });

  it('an unreadable lease is judged by its age alone: fresh, it refuses (exit 4)', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'garbled.csv.lease', 'not a lease');
    const ran = await cli(args(e, writeCsv(taskRows(3)), `s3://${b}/garbled.csv`));
    expect(ran.code).toBe(4);
    expect(ran.stderr).toContain(`another run holds s3://${b}/garbled.csv (a holder whose record is unreadable)`);
    expect(e.stats().requests).toBe(0);
  });

  it('never takes the fresh lease of another container with this host name and pid for a dead process of its own', async () => {
    // The pods of one index of an Indexed Job share a host name and are all pid 1: the holder's pid, here
    // alive and with another start time, is not this container's to judge.
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(
      b,
      'twin.csv.lease',
      JSON.stringify({
        id: 'twin-1',
        pid: process.pid,
        host: hostname(),
        started: 1,
        pidSpace: '00000000-0000-0000-0000-000000000000/pid:[4026531999]',
        since: new Date().toISOString(),
        ttlSeconds: 60,
      }),
    );
    const ran = await cli(args(e, writeCsv(taskRows(3)), `s3://${b}/twin.csv`));
    expect(ran.code).toBe(4);
    expect(ran.stderr).toContain(`another run holds s3://${b}/twin.csv (pid ${process.pid} on ${hostname()}`);
    expect(e.stats().requests).toBe(0);
  });

  it('takes over an expired lease (its holder gone without releasing it)', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const input = writeCsv(taskRows(10));
    await s3.put(
      b,
      'taken.csv.lease',
      JSON.stringify({
        id: 'dead-1',
        pid: 4242,
        host: 'another-container',
        since: '2026-12-01T00:00:00Z',
        ttlSeconds: 1,
      }),
    );
    await new Promise((r) => setTimeout(r, 2_100));
    const ran = await cli(args(e, input, `s3://${b}/taken.csv`));
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(rowsOf(await s3.get(b, 'taken.csv'))).toHaveLength(10);
  });

  it('takes over an expired lease when S3’s Date header cannot be read (its own clock then)', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'undated.csv.lease', JSON.stringify({ id: 'dead-2', pid: 4243, host: 'elsewhere', ttlSeconds: 1 }));
    await new Promise((r) => setTimeout(r, 2_100));
    // A proxy in front of S3 that adds a Date of its own: two values, joined into one that is no date.
    s3.fail({ method: 'GET', path: new RegExp(`^/${b}/undated\\.csv\\.lease$`), times: 1, headers: { date: 'soon' } });
    const ran = await cli(args(e, writeCsv(taskRows(3)), `s3://${b}/undated.csv`));
    s3.heal();
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
  });

  it('stops like a lost lock when its lease is taken over mid-run (exit 4); a resume finishes: every row once', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    // 15 s of rows at 40/s: the run renews its lease (every 5 s), and so finds it taken, long before its last row.
    const input = writeCsv(taskRows(600));
    const url = `s3://${b}/stolen.csv`;
    const run = spawnCli(slow(e, input, url));
    await until(() => e.service.tasks.length >= 10, 'the run to send');
    // Another run's takeover, as S3 would see it.
    await s3.put(b, 'stolen.csv.lease', JSON.stringify({ id: 'thief-1', pid: 1, host: 'elsewhere', ttlSeconds: 1 }));
    const lost = await run;
    expect(lost.code).toBe(4);
    expect(lost.stderr).toContain(`lost the lease on ${url}: another run took it over`);
    expect(e.service.tasks.length).toBeLessThan(600);
    // The thief's lease (1 s) expires by S3's clock, in whole seconds: its Last-Modified and a Date more
    // than 1 s later, which 2 s after its write are.
    await new Promise((r) => setTimeout(r, 2_100));
    const resumed = await cli([...args(e, input, url), '--resume']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(rowsOf(await s3.get(b, 'stolen.csv'))).toHaveLength(600);
    everyRowOnce(e, 600);
  });

  it('rides out a few 500s on checkpoint writes; stops resumably when S3 keeps refusing them: no row lost', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const input = writeCsv(taskRows(60));
    s3.fail({ method: 'PUT', path: new RegExp(`^/${b}/flaky\\.csv\\.parts/`), times: 4 });
    const ran = await cli(args(e, input, `s3://${b}/flaky.csv`));
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(rowsOf(await s3.get(b, 'flaky.csv'))).toHaveLength(60);

    const more = writeCsv(taskRows(300).map((r, i) => (i === 0 ? r : [`${r[0]} b`, r[1]!, `b${r[2]}`, r[3]!, r[4]!])));
    const url = `s3://${b}/down.csv`;
    const command = slow(e, more, url);
    const run = spawnCli(command);
    await until(() => s3.requests.some((r) => r.startsWith(`PUT /${b}/down.csv.parts/`)), 'a first checkpoint');
    s3.fail({ method: 'PUT', path: new RegExp(`^/${b}/down\\.csv\\.parts/`), times: 60 });
    const stopped = await run;
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toContain(`cannot write the checkpoint s3://${b}/down.csv.parts/`);
    expect(stopped.stderr).toContain('Run the same command with --resume');
    s3.heal();
    const resumed = await cli([...args(e, more, url), '--resume']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    const results = rowsOf(await s3.get(b, 'down.csv'));
    expect(results).toHaveLength(300);
    const byRow = tasksByRow(e);
    expect([...byRow.entries()].filter(([k]) => k.startsWith('b')).every(([, n]) => n === 1)).toBe(true);
    expect([...byRow.keys()].filter((k) => k.startsWith('b'))).toHaveLength(300);
  });

  it('SIGTERM during the final upload: exit 3 at once, every row in the checkpoints; --resume writes it, sends nothing', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const input = writeCsv(taskRows(20));
    const url = `s3://${b}/late.csv`;
    s3.fail({ method: 'PUT', path: new RegExp(`^/${b}/late\\.csv$`), times: 1, delayMs: 20_000 });
    const stopped = await spawnCli(args(e, input, url), {
      onSpawn: (child) =>
        void until(
          () => s3.requests.some((r) => r.startsWith(`PUT /${b}/late.csv?`) || r === `PUT /${b}/late.csv`),
          'the final upload',
        ).then(() => child.kill('SIGTERM')),
    });
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toContain(`stopped while writing ${url}: every row is in its checkpoints`);
    expect(e.stats().requests).toBe(20);
    const resumed = await cli([...args(e, input, url), '--resume']);
    expect(resumed.code).toBe(0);
    expect(e.stats().requests).toBe(20);
    expect(rowsOf(await s3.get(b, 'late.csv'))).toHaveLength(20);
  });

  it('SIGTERM while S3 is slow to answer before the run (the lease, the run state): exit 3 at once, nothing sent or written', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const input = writeCsv(taskRows(5));
    for (const [key, doing] of [
      ['slow-lease.csv.lease', 'taking the lease of'],
      ['slow-state.csv.run.json', 'reading'],
    ] as const) {
      const url = `s3://${b}/${key.replace(/\.(lease|run\.json)$/, '')}`;
      s3.fail({ path: new RegExp(`^/${b}/${key.replace(/\./g, '\\.')}$`), times: 1, delayMs: 60_000 });
      const stopped = await spawnCli(args(e, input, url), {
        onSpawn: (child) =>
          void until(() => s3.requests.some((r) => r.includes(`/${b}/${key}`)), `the request for ${key}`).then(() =>
            child.kill('SIGTERM'),
          ),
      });
      expect(stopped.code).toBe(3);
      expect(stopped.stderr).toContain(`stopped while ${doing} ${url}: nothing was sent`);
    }
    s3.heal();
    expect(e.stats().requests).toBe(0);
    expect((await s3.keys(b)).filter((k) => !k.endsWith('.lease'))).toEqual([]);
  });

  it('killed after its completed state, before its checkpoints were removed: the next start (already processed) removes them', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const input = writeCsv(taskRows(20));
    const url = `s3://${b}/tidy.csv`;
    // The removal of the checkpoints (DeleteObjects: POST /bucket?delete) held until the process is killed.
    s3.fail({ method: 'POST', path: new RegExp(`^/${b}/?$`), times: 1, delayMs: 60_000 });
    const killed = await spawnCli(args(e, input, url), {
      onSpawn: (child) =>
        void until(() => s3.requests.some((r) => r.startsWith(`POST /${b}`)), 'the removal of the checkpoints').then(
          () => child.kill('SIGKILL'),
        ),
    });
    s3.heal();
    expect(killed.code).toBe(null);
    expect(JSON.parse((await s3.get(b, 'tidy.csv.run.json')).toString()).outcome).toBe('completed');
    expect((await s3.keys(b, 'tidy.csv.parts/')).length).toBeGreaterThan(0);
    const again = await cli(args(e, input, url));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Already processed');
    expect(await s3.keys(b, 'tidy.csv.parts/')).toEqual([]);
    expect(rowsOf(await s3.get(b, 'tidy.csv'))).toHaveLength(20);
    expect(e.stats().requests).toBe(20);
  });

  it('a dry run into S3 results, then the real run replaces it: its own checkpoints, every row once', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const input = writeCsv(taskRows(25));
    const url = `s3://${b}/planned.csv`;
    const dry = await cli([...args(e, input, url), '--dry-run']);
    expect(dry.code).toBe(0);
    expect(rowsOf(await s3.get(b, 'planned.csv')).every((r) => r['Result.Status'] === 'planned')).toBe(true);
    const real = await cli([...slow(e, input, url), '--resume']);
    expect(real.stderr).toBe('');
    expect(real.code).toBe(0);
    const rows = rowsOf(await s3.get(b, 'planned.csv'));
    expect(rows).toHaveLength(25);
    expect(rows.every((r) => r['Result.Status'] === 'created')).toBe(true);
    everyRowOnce(e, 25);
  });

  it('never takes the input object for its results: refused, the object left as it was', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const body = stringify(taskRows(5));
    await s3.put(b, 'same.csv', body);
    const ran = await cli(args(e, `s3://${b}/same.csv`, `s3://${b}/same.csv`));
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`s3://${b}/same.csv`);
    expect(ran.stderr).toMatch(/no run state/);
    expect((await s3.get(b, 'same.csv')).toString()).toBe(body);
    expect(e.stats().requests).toBe(0);
  });

  it('results whose run state is unreadable are refused as locally, never run afresh over their object', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const input = writeCsv(taskRows(10));
    const url = `s3://${b}/garbled-state.csv`;
    expect((await cli(args(e, input, url))).code).toBe(0);
    const before = await s3.get(b, 'garbled-state.csv');
    for (const [state, why] of [
      ['garbage{', ' (not JSON)'],
      ['{}', ''],
    ]) {
      await s3.put(b, 'garbled-state.csv.run.json', state!);
      const ran = await cli([...args(e, input, url), '--resume']);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain(`${url}.run.json is not a run state of this tool${why}`);
      expect(ran.stderr).not.toContain('connect-task-loader-s3-');
    }
    expect(e.stats().requests).toBe(10);
    expect((await s3.get(b, 'garbled-state.csv')).equals(before)).toBe(true);
  });

  it('refuses results it may not write, naming the permission, before anything is sent', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    s3.fail({ method: 'PUT', path: new RegExp(`^/${b}/locked\\.csv`), times: 100, status: 403, code: 'AccessDenied' });
    const ran = await cli(args(e, writeCsv(taskRows(3)), `s3://${b}/locked.csv`));
    s3.heal();
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`cannot use --results s3://${b}/locked.csv: access denied`);
    expect(ran.stderr).toContain('s3:PutObject');
    expect(e.stats().requests).toBe(0);
  });

  it('refuses results in a bucket that does not exist, before anything is sent', async () => {
    const e = await testEmulator(FAST);
    const input = writeCsv(taskRows(3));
    const ran = await cli(args(e, input, 's3://no-such-results-bucket/x.csv'));
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain('cannot use --results s3://no-such-results-bucket/x.csv: the bucket does not exist');
    expect(e.stats().requests).toBe(0);
    expect(existsSync(join(tempDir(), 'x.csv'))).toBe(false);
  });
});
