/**
 * An S3 object as the input (`run s3://bucket/key.csv`), against a real S3-compatible server (moto)
 * and the emulator, with the real SDKs over HTTP: read streamed, pinned to one version, its checksum
 * the token namespace's, a resume reading exactly the bytes the run started with.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { stringify } from 'csv-stringify/sync';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { cli, spawnCli } from '../cli/bin.js';
import { testEmulator } from '../emulator.js';
import { ROUTE_FLAGS, readResults, taskRows, tempDir, until } from '../helpers.js';
import { fileS3, newBucket, s3RunFlags, skipS3 } from '../s3.js';

const s3 = fileS3();

function tasksByRow(e: Emulator): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of e.service.tasks) counts.set(t.Attributes!.rowId!, (counts.get(t.Attributes!.rowId!) ?? 0) + 1);
  return counts;
}

const csv = (rows: number) => stringify(taskRows(rows));
/** Pacing is not the point here: the emulator takes whatever the run sends. */
const FAST = { rate: 10_000, burst: 10_000 };

/** A fresh bucket per test: tests of a file may run at once. */
const bucket = (versioned = false) => newBucket(s3, 'input', { versioned });

function args(e: Emulator, input: string, results: string, ...more: string[]): string[] {
  return ['run', input, '--results', results, ...s3RunFlags(s3, e.url), ...ROUTE_FLAGS, ...more];
}

/**
 * A run of 100 rows at 10/s stopped by a 2.5 s --deadline: its first rows are in before it however slowly
 * they go (the object read from S3, the first request), and most are left, however late it comes.
 */
function interrupted(e: Emulator, input: string, results: string): string[] {
  const slow = args(e, input, results).map((a, i, all) =>
    all[i - 1] === '--rate' ? '10' : all[i - 1] === '--burst' ? '1' : a,
  );
  return [...slow, '--deadline', '2.5'];
}

describe.skipIf(skipS3)('run s3://bucket/key.csv', () => {
  it('imports every row of the object once; the results go to the current folder by default', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'exports/tickets 2026-12 é.csv', csv(30));
    const dir = tempDir();
    const ran = await spawnCli(
      [
        'run',
        `s3://${b}/exports/tickets 2026-12 é.csv`,
        '--endpoint',
        e.url,
        '--s3-endpoint',
        s3.endpoint,
        '--rate',
        '500',
        '--burst',
        '50',
        '--log-level',
        'warn',
        ...ROUTE_FLAGS,
      ],
      { cwd: dir },
    );
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const results = readResults(join(dir, 'tickets 2026-12 é.results.csv'));
    expect(results).toHaveLength(30);
    expect(results.every((r) => r['Result.Status'] === 'created')).toBe(true);
    expect([...tasksByRow(e).values()]).toEqual(Array(30).fill(1));
    const state = JSON.parse(readFileSync(join(dir, 'tickets 2026-12 é.results.csv.run.json'), 'utf8'));
    expect(state.input).toBe(`s3://${b}/exports/tickets 2026-12 é.csv`);
    expect(state.identity.inputObject.etag).toMatch(/^"[0-9a-f]+"$/);
    expect(state.identity.tokenNamespace).toMatch(/^tickets 2026-12 é\.csv@[0-9a-f]{16}$/);
  });

  it('reads a .gz object, checked whole before a row is sent', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'x.csv.gz', gzipSync(csv(12)));
    const results = join(tempDir(), 'x.results.csv');
    const ran = await cli(args(e, `s3://${b}/x.csv.gz`, results));
    expect(ran.code).toBe(0);
    expect(readResults(results)).toHaveLength(12);

    const cut = gzipSync(csv(400));
    await s3.put(b, 'cut.csv.gz', cut.subarray(0, cut.length - 100));
    const broken = join(tempDir(), 'cut.results.csv');
    const refused = await cli(args(e, `s3://${b}/cut.csv.gz`, broken));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/s3:\/\/.*cut\.csv\.gz is not a whole gzip file: it ends in the middle/);
    expect(existsSync(broken)).toBe(false);
    expect(e.stats().requests).toBe(12);
  });

  it('a versioned object overwritten after an interrupted run: --resume reads the version the run started with', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket(true);
    await s3.put(b, 'v.csv', csv(100));
    const results = join(tempDir(), 'v.results.csv');
    const first = await cli(interrupted(e, `s3://${b}/v.csv`, results));
    expect(first.code).toBe(3);
    const done = readResults(results).length;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(100);
    // Tonight's export lands under the same key: a new version, other rows.
    await s3.put(b, 'v.csv', stringify([taskRows(1)[0]!, ['Other', 'x', '999', 'https://x', 'n']]));
    const resumed = await cli([...args(e, `s3://${b}/v.csv`, results), '--resume']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(readResults(results)).toHaveLength(100);
    const byRow = tasksByRow(e);
    expect(byRow.size).toBe(100);
    expect([...byRow.values()].every((n) => n === 1)).toBe(true);
    expect(byRow.has('999')).toBe(false);
  });

  it('an unversioned object overwritten after an interrupted run: --resume is refused, naming the way on', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'u.csv', csv(100));
    const results = join(tempDir(), 'u.results.csv');
    expect((await cli(interrupted(e, `s3://${b}/u.csv`, results))).code).toBe(3);
    const sent = e.stats().requests;
    await s3.put(b, 'u.csv', csv(101));
    const resumed = await cli([...args(e, `s3://${b}/u.csv`, results), '--resume']);
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain(`s3://${b}/u.csv changed since the run started (ETag "`);
    expect(resumed.stderr).toContain(
      'restore that version of the object, or start a new run with another --results'.replace(/^r/, 'R'),
    );
    expect(e.stats().requests).toBe(sent);
  });

  it('the same bytes uploaded again are the same input: already processed, nothing sent', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket(true);
    await s3.put(b, 'same.csv', csv(5));
    const results = join(tempDir(), 'same.results.csv');
    expect((await cli(args(e, `s3://${b}/same.csv`, results))).code).toBe(0);
    await s3.put(b, 'same.csv', csv(5)); // a new VersionId, the same bytes
    const again = await cli(args(e, `s3://${b}/same.csv`, results));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Already processed');
    expect(e.stats().requests).toBe(5);
  });

  it('an object that carries its SHA-256 is read once; one without it twice (checksum, then rows)', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.client.send(
      new PutObjectCommand({ Bucket: b, Key: 'sum.csv', Body: csv(5), ChecksumAlgorithm: 'SHA256' }),
    );
    await s3.put(b, 'plain.csv', csv(5));
    const gets = (key: string) => s3.requests.filter((r) => r.startsWith(`GET /${b}/${key}`)).length;
    expect((await cli(args(e, `s3://${b}/sum.csv`, join(tempDir(), 'a.csv')))).code).toBe(0);
    expect((await cli(args(e, `s3://${b}/plain.csv`, join(tempDir(), 'b.csv')))).code).toBe(0);
    // Besides the 2-byte look at the start (gzip or not) each takes.
    expect(gets('sum.csv')).toBe(2);
    expect(gets('plain.csv')).toBe(3);
  });

  it('a download cut off mid-way, or answered 5xx, is taken up where it stopped: every row once', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'flaky.csv', csv(600));
    const key = new RegExp(`^/${b}/flaky\\.csv$`);
    s3.fail({ method: 'GET', path: key, times: 7 });
    s3.fail({ method: 'GET', path: key, times: 3, cutAfter: 20_000 });
    const results = join(tempDir(), 'flaky.results.csv');
    const ran = await cli(args(e, `s3://${b}/flaky.csv`, results));
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(readResults(results)).toHaveLength(600);
    expect([...tasksByRow(e).values()]).toEqual(Array(600).fill(1));
    expect(s3.requests.filter((r) => r.startsWith(`GET /${b}/flaky.csv`)).length).toBeGreaterThan(10);
  });

  it('stopped (SIGTERM) while the object is read for its checksum: exit 3 at once, nothing sent', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'slow.csv', csv(10));
    s3.fail({ method: 'GET', path: new RegExp(`^/${b}/slow\\.csv$`), times: 2, delayMs: 30_000 });
    const ran = await spawnCli(args(e, `s3://${b}/slow.csv`, join(tempDir(), 'slow.results.csv')), {
      onSpawn: (child) =>
        void until(() => s3.requests.some((r) => r.startsWith(`GET /${b}/slow.csv`)), 'the first read').then(() =>
          child.kill('SIGTERM'),
        ),
    });
    s3.heal();
    expect(ran.code).toBe(3);
    expect(ran.stderr).toContain(`stopped while reading s3://${b}/slow.csv: nothing was sent`);
    expect(e.stats().requests).toBe(0);
  });

  it('refuses an object it may not read, naming the permission: nothing sent', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'secret.csv', csv(3));
    s3.fail({ path: new RegExp(`^/${b}/secret\\.csv$`), times: 100, status: 403, code: 'AccessDenied' });
    const ran = await cli(args(e, `s3://${b}/secret.csv`, join(tempDir(), 's.csv')));
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`cannot read s3://${b}/secret.csv: access denied`);
    expect(ran.stderr).toContain('s3:GetObject');
    expect(e.stats().requests).toBe(0);
  });

  it('refuses a missing bucket, a missing object, an object that is not CSV: nothing sent, no file left', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const dir = tempDir();
    const noBucket = await cli(args(e, 's3://no-such-bucket-here/x.csv', join(dir, 'a.csv')));
    expect(noBucket.code).toBe(2);
    expect(noBucket.stderr).toContain('cannot read s3://no-such-bucket-here/x.csv: the bucket does not exist');
    const noKey = await cli(args(e, `s3://${b}/nothing.csv`, join(dir, 'b.csv')));
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain(`cannot read s3://${b}/nothing.csv: no such object`);
    await s3.put(b, 'photo.csv', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0xfe, 0x00, 0xc3]));
    const notCsv = await cli(args(e, `s3://${b}/photo.csv`, join(dir, 'c.csv')));
    expect(notCsv.code).toBe(2);
    expect(notCsv.stderr).toContain(`s3://${b}/photo.csv is not valid utf-8 at line 1`);
    const folder = await cli(args(e, `s3://${b}/exports/`, join(dir, 'd.csv')));
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain('names a folder, not an object');
    expect(e.stats().requests).toBe(0);
    expect(existsSync(join(dir, 'a.csv')) || existsSync(join(dir, 'b.csv')) || existsSync(join(dir, 'c.csv'))).toBe(
      false,
    );
  });

  it('S3 that cannot be reached, or keeps answering 5xx, before the run: exit 3 (a retry may succeed), nothing sent', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    await s3.put(b, 'in.csv', csv(3));
    const closed = await closedPort();
    const dir = tempDir();
    const away = (...more: string[]) => [...more, '--s3-endpoint', `http://127.0.0.1:${closed}`];
    const input = await cli(away(...args(e, `s3://${b}/in.csv`, join(dir, 'a.csv'))));
    expect(input.code).toBe(3);
    expect(input.stderr).toContain(`cannot read s3://${b}/in.csv: cannot reach the S3 endpoint: ECONNREFUSED`);
    expect(input.stderr).toContain('Nothing was sent: run the same command again once S3 answers');
    expect(input.stderr).not.toContain('    at ');
    const local = join(dir, 'local.csv');
    writeFileSync(local, csv(3));
    const results = await cli(away(...args(e, local, `s3://${b}/out.csv`)));
    expect(results.code).toBe(3);
    expect(results.stderr).toContain(`cannot use --results s3://${b}/out.csv: cannot reach the S3 endpoint`);
    s3.fail({ path: new RegExp(`^/${b}/in\\.csv$`), times: 1000, status: 503, code: 'SlowDown' });
    const busy = await cli(args(e, `s3://${b}/in.csv`, join(dir, 'b.csv')));
    s3.heal();
    expect(busy.code).toBe(3);
    expect(busy.stderr).toMatch(new RegExp(`cannot read s3://${b}/in\\.csv: .*\\(HTTP 503\\)`));
    // report and merge keep their codes: 2 for what they cannot read.
    const report = await cli(['report', `s3://${b}/out.csv`, '--s3-endpoint', `http://127.0.0.1:${closed}`]);
    expect(report.code).toBe(2);
    expect(e.stats().requests).toBe(0);
    expect(existsSync(join(dir, 'a.csv')) || existsSync(join(dir, 'b.csv'))).toBe(false);
  });

  it('S3 that stops answering mid-file stops the run resumably (exit 3): rows in flight recorded, --resume finishes, every row once', async () => {
    const e = await testEmulator(FAST);
    const b = await bucket();
    const rows = 3000;
    // Its SHA-256 in S3: no read for the checksum, so the rows' read is the second GET (after the 2-byte look).
    await s3.client.send(
      new PutObjectCommand({ Bucket: b, Key: 'gone.csv', Body: csv(rows), ChecksumAlgorithm: 'SHA256' }),
    );
    const key = new RegExp(`^/${b}/gone\\.csv$`);
    s3.fail({ method: 'GET', path: key, times: 2, cutAfter: 50_000 });
    s3.fail({ method: 'GET', path: key, times: 1000 });
    const results = join(tempDir(), 'gone.results.csv');
    const stopped = await cli(args(e, `s3://${b}/gone.csv`, results));
    s3.heal();
    expect(stopped.code).toBe(3);
    expect(stopped.stdout).toContain(`Stopped: cannot read s3://${b}/gone.csv: InternalError (HTTP 500)`);
    expect(stopped.stdout).toMatch(/Next: connect-task-loader run .* --resume/);
    expect(stopped.stdout).not.toContain('Input error');
    const recorded = readResults(results).length;
    expect(recorded).toBeGreaterThan(0);
    expect(recorded).toBeLessThan(rows);
    expect(e.service.tasks.length).toBe(recorded); // every row sent was recorded
    const resumed = await cli([...args(e, `s3://${b}/gone.csv`, results), '--resume']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(readResults(results)).toHaveLength(rows);
    expect([...tasksByRow(e).values()]).toEqual(Array(rows).fill(1));
  });

  it('an --s3-endpoint that is not S3 (the Connect emulator) is named as such, not as a missing object: exit 2, nothing sent', async () => {
    const e = await testEmulator(FAST);
    const dir = tempDir();
    const local = join(dir, 'local.csv');
    writeFileSync(local, csv(3));
    const wrong = (...more: string[]) => [...more, '--s3-endpoint', e.url];
    for (const ran of [
      await cli(wrong(...args(e, 's3://exports/in.csv', join(dir, 'a.csv')))),
      await cli(wrong(...args(e, local, 's3://exports/out.csv'))),
    ]) {
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain(
        "HTTP 404 in an answer that is not S3's: is the S3 endpoint (--s3-endpoint, AWS_ENDPOINT_URL_S3) an " +
          'S3-compatible server?',
      );
      expect(ran.stderr).not.toMatch(/NoSuchKey|Deserialization|\n\s+at /);
    }
    expect(e.stats().requests).toBe(0);
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
