/**
 * rerun, report and merge on results in S3, against a real S3-compatible server (moto) and the
 * emulator: each reads the objects (with their run state and timeline beside them) into a working
 * copy, names the objects in what it prints, and writes its own results (or page) to S3 or to disk.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { testEmulator } from '../emulator.js';
import { ROUTE_FLAGS, taskRows, tempDir, until, writeCsv } from '../helpers.js';
import { fileS3, newBucket, s3RunFlags, skipS3 } from '../s3.js';
import { cli, spawnCli } from './bin.js';

const s3 = fileS3();
const rowsOf = (body: Buffer) => parse(body, { columns: true }) as Record<string, string>[];

const bucket = () => newBucket(s3, 'commands');

const common = (e: Emulator) => s3RunFlags(s3, e.url);

describe.skipIf(skipS3)('rerun, report and merge with s3:// results', () => {
  it('reruns the failed rows of S3 results into S3 (.rerun-1.csv beside them); reports both, and a page to S3', async () => {
    // Every row fails once: a 5xx with one attempt allowed.
    const e = await testEmulator({ rate: 10_000, burst: 10_000, faults: { failBefore: 0.4, seed: 11 } });
    const b = await bucket();
    const input = writeCsv(taskRows(40));
    const url = `s3://${b}/nightly/run.csv`;
    const first = await cli(['run', input, '--results', url, '--max-attempts', '1', ...common(e), ...ROUTE_FLAGS]);
    expect(first.code).toBe(1);
    const failed = rowsOf(await s3.get(b, 'nightly/run.csv')).filter((r) => r['Result.Status'] === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    e.service.configure({ faults: { failBefore: 0 } });

    const rerun = await cli(['rerun', url, '--s3-endpoint', s3.endpoint, '--log-level', 'warn']);
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(`s3://${b}/nightly/run.rerun-1.csv`);
    expect(rerun.stdout).not.toContain('connect-task-loader-s3-');
    const again = rowsOf(await s3.get(b, 'nightly/run.rerun-1.csv'));
    expect(again).toHaveLength(40);
    expect(again.every((r) => r['Result.Status'] === 'created')).toBe(true);
    const state = JSON.parse((await s3.get(b, 'nightly/run.rerun-1.csv.run.json')).toString());
    expect(state.rerunOf).toBe(url);
    expect(state.identity.inputObject.etag).toMatch(/^"/);

    const report = await cli(['report', url, `s3://${b}/nightly/run.rerun-1.csv`, '--s3-endpoint', s3.endpoint]);
    expect(report.code).toBe(1); // the first file still holds its failed rows
    expect(report.stdout).toContain(url);
    expect(report.stdout).not.toContain('connect-task-loader-s3-');
    const page = await cli([
      'report',
      `s3://${b}/nightly/run.rerun-1.csv`,
      '--s3-endpoint',
      s3.endpoint,
      '--html',
      `s3://${b}/reports/nightly.html`,
    ]);
    expect(page.code).toBe(0);
    expect((await s3.get(b, 'reports/nightly.html')).toString()).toMatch(/^<!doctype html>/i);
    // Served as a page, which a browser shows (binary data it would download).
    const served = await s3.client.send(new HeadObjectCommand({ Bucket: b, Key: 'reports/nightly.html' }));
    expect(served.ContentType).toBe('text/html; charset=utf-8');
    const local = join(tempDir(), 'nightly.html');
    expect((await cli(['report', url, '--s3-endpoint', s3.endpoint, '--html', local])).code).toBe(1);
    expect(readFileSync(local, 'utf8')).toContain(url);
    // A page never replaces what is not a page, nor a results object.
    const clash = await cli(['report', url, '--s3-endpoint', s3.endpoint, '--html', `s3://${b}/nightly/run.csv`]);
    expect(clash.code).toBe(2);
    expect((await s3.get(b, 'nightly/run.csv')).toString()).toMatch(/^Name,/);
  });

  it('a rerun into the very results file it reads is refused as such (S3 or local), nothing sent or written', async () => {
    const e = await testEmulator({ rate: 10_000, burst: 10_000, faults: { failBefore: 1, seed: 2 } });
    const b = await bucket();
    const url = `s3://${b}/self.csv`;
    const local = join(tempDir(), 'self.csv');
    for (const results of [url, local]) {
      const first = await cli([
        'run',
        writeCsv(taskRows(5)),
        '--results',
        results,
        '--max-attempts',
        '1',
        ...common(e),
        ...ROUTE_FLAGS,
      ]);
      expect(first.code).toBe(1);
    }
    e.service.configure({ faults: { failBefore: 0 } });
    const before = e.stats().requests;
    for (const results of [url, local]) {
      const ran = await cli(['rerun', results, '--results', results, '--s3-endpoint', s3.endpoint]);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain(`a rerun writes a results file of its own, never the one it reads`);
      expect(ran.stderr).not.toContain(`connect-task-loader run ${results}`);
    }
    expect(e.stats().requests).toBe(before);
    expect(await s3.keys(b)).toEqual(['self.csv', 'self.csv.lease', 'self.csv.run.json', 'self.csv.timeline.jsonl']);
  });

  it('a resumed rerun reads the results object it started from: replaced since, it is refused', async () => {
    const e = await testEmulator({ rate: 10_000, burst: 10_000, faults: { failBefore: 1, seed: 5 } });
    const b = await bucket();
    const url = `s3://${b}/r.csv`;
    const input = writeCsv(taskRows(30));
    expect(
      (await cli(['run', input, '--results', url, '--max-attempts', '1', ...common(e), ...ROUTE_FLAGS])).code,
    ).toBe(1);
    e.service.configure({ faults: { failBefore: 0 } });
    const slow = ['--rate', '10', '--burst', '1', '--s3-endpoint', s3.endpoint, '--log-level', 'warn'];
    const stopped = await cli(['rerun', url, ...slow, '--deadline', '0.5']);
    expect(stopped.code).toBe(3);
    const original = await s3.get(b, 'r.csv');
    await s3.put(b, 'r.csv', `${original.toString()}`.replace('Task 1,', 'Task one,'));
    const refused = await cli(['rerun', url, ...slow, '--resume']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${url} changed since the rerun started (ETag `);
    await s3.put(b, 'r.csv', original);
    const resumed = await cli(['rerun', url, '--s3-endpoint', s3.endpoint, '--log-level', 'warn', '--resume']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(rowsOf(await s3.get(b, 'r.rerun-1.csv'))).toHaveLength(30);
  });

  it('merges every shard under an S3 prefix, into S3 or onto disk; refuses an output that exists', async () => {
    const e = await testEmulator({ rate: 10_000, burst: 10_000 });
    const b = await bucket();
    await s3.put(b, 'in/all.csv', stringify(taskRows(30)));
    for (const shard of ['1/3', '2/3', '3/3']) {
      const ran = await cli([
        'run',
        `s3://${b}/in/all.csv`,
        '--shard',
        shard,
        '--results',
        `s3://${b}/shards/all-${shard[0]}.csv`,
        ...common(e),
        ...ROUTE_FLAGS,
      ]);
      expect(ran.code).toBe(0);
    }
    const merged = await cli([
      'merge',
      `s3://${b}/shards/`,
      '--results',
      `s3://${b}/all.csv`,
      '--s3-endpoint',
      s3.endpoint,
    ]);
    expect(merged.stderr).toBe('');
    expect(merged.code).toBe(0);
    expect(merged.stdout).toContain(`Merged 3 files: 30 rows — 30 created`);
    expect(merged.stdout).toContain(`Results: s3://${b}/all.csv`);
    const rows = rowsOf(await s3.get(b, 'all.csv'));
    expect(rows.map((r) => Number(r['Result.Line']))).toEqual(
      [...rows.map((r) => Number(r['Result.Line']))].sort((x, y) => x - y),
    );
    expect(rows).toHaveLength(30);
    expect(JSON.parse((await s3.get(b, 'all.csv.run.json')).toString()).outcome).toBe('completed');
    const onDisk = join(tempDir(), 'all.csv');
    expect((await cli(['merge', `s3://${b}/shards/`, '--results', onDisk, '--s3-endpoint', s3.endpoint])).code).toBe(0);
    expect(rowsOf(readFileSync(onDisk))).toHaveLength(30);
    const exists = await cli([
      'merge',
      `s3://${b}/shards/`,
      '--results',
      `s3://${b}/all.csv`,
      '--s3-endpoint',
      s3.endpoint,
    ]);
    expect(exists.code).toBe(2);
    expect(exists.stderr).toContain(`--results s3://${b}/all.csv already exists`);
    const empty = await cli([
      'merge',
      `s3://${b}/nothing/`,
      '--results',
      join(tempDir(), 'x.csv'),
      '--s3-endpoint',
      s3.endpoint,
    ]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('holds no results files');
    const noBucket = await cli(['report', 's3://no-such-bucket-here/x.csv', '--s3-endpoint', s3.endpoint]);
    expect(noBucket.code).toBe(2);
    expect(noBucket.stderr).toContain('s3://no-such-bucket-here/x.csv.run.json: the bucket does not exist');
  });

  it('merges a run and its rerun under an S3 prefix: the rerun’s rows replace the failed ones', async () => {
    const e = await testEmulator({ rate: 10_000, burst: 10_000, faults: { failBefore: 0.4, seed: 3 } });
    const b = await bucket();
    const url = `s3://${b}/night/run.csv`;
    const first = await cli([
      'run',
      writeCsv(taskRows(40)),
      '--results',
      url,
      '--max-attempts',
      '1',
      ...common(e),
      ...ROUTE_FLAGS,
    ]);
    expect(first.code).toBe(1);
    const failed = rowsOf(await s3.get(b, 'night/run.csv')).filter((r) => r['Result.Status'] === 'failed').length;
    expect(failed).toBeGreaterThan(0);
    e.service.configure({ faults: { failBefore: 0 } });
    expect((await cli(['rerun', url, '--s3-endpoint', s3.endpoint, '--log-level', 'warn'])).code).toBe(0);
    const merged = await cli([
      'merge',
      `s3://${b}/night/`,
      '--results',
      `s3://${b}/night.csv`,
      '--s3-endpoint',
      s3.endpoint,
    ]);
    expect(merged.stderr).toBe('');
    expect(merged.code).toBe(0);
    expect(merged.stdout).toContain(
      `Merged 2 files: 40 rows — 40 created, 0 failed, 0 invalid (40 rows replaced by a rerun's)`,
    );
    expect(rowsOf(await s3.get(b, 'night.csv'))).toHaveLength(40);
  });

  it('merge of a prefix names a shard whose run was killed before its results object was written: unfinished, not missing', async () => {
    const e = await testEmulator({ rate: 10_000, burst: 10_000 });
    const b = await bucket();
    await s3.put(b, 'in/all.csv', stringify(taskRows(60)));
    await s3.put(b, 'shards/notes.txt', 'not a results file');
    const shard = (i: number) => ['run', `s3://${b}/in/all.csv`, '--shard', `${i}/2`, '--results', `s3://${b}/shards/`];
    expect((await cli([...shard(1), ...common(e), ...ROUTE_FLAGS])).code).toBe(0);
    const slow = [...common(e), ...ROUTE_FLAGS, '--checkpoint-interval', '0.2'].map((a, i, all) =>
      all[i - 1] === '--rate' ? '20' : all[i - 1] === '--burst' ? '1' : a,
    );
    const killed = await spawnCli([...shard(2), ...slow], {
      cwd: tempDir(),
      onSpawn: (child) =>
        void until(
          () => s3.requests.filter((r) => r.includes('/shards/all.shard-2-of-2.results.csv.parts/')).length >= 2,
          'two checkpoints of shard 2',
        ).then(() => child.kill('SIGKILL')),
    });
    expect(killed.code).toBe(null);
    const merged = await cli([
      'merge',
      `s3://${b}/shards/`,
      '--results',
      join(tempDir(), 'all.csv'),
      '--s3-endpoint',
      s3.endpoint,
    ]);
    expect(merged.code).toBe(2);
    expect(merged.stderr).toContain(
      `s3://${b}/shards/all.shard-2-of-2.results.csv is the results of a run that did not finish (running)`,
    );
  });
});
