/**
 * The shared limiter for real: three compiled CLI processes on one Redis (a real redis-server 7) and
 * one emulator whose quota they share. Counts, not timings: every row created exactly once, and
 * together the processes never send faster than one limiter would. How close they come to the quota
 * and what share of their requests is throttled are measured by the benchmark (npm run bench, 6).
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { quietPort, readResults, ROUTE_FLAGS as route, taskRows, tempDir, until, writeCsv } from '../helpers.js';
import { expectPaced, recordRequests } from '../pace.js';
import { skipRedis, startRedis, type TestRedis } from '../redis.js';

const BIN = resolve(import.meta.dirname, '../../dist/cli.js');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Three inputs whose rows are distinct across files (each row its own task). */
function inputs(rowsEach: number): string[] {
  const dir = tempDir();
  return [1, 2, 3].map((n) =>
    writeCsv(
      taskRows(rowsEach).map((r, i) => (i === 0 ? r : [`${r[0]} of file ${n}`, ...r.slice(1)])),
      `in-${n}.csv`,
      dir,
    ),
  );
}

function createdOnce(emulator: Emulator, files: string[], rowsEach: number): void {
  for (const f of files) {
    const rows = readResults(f.replace(/\.csv$/, '.results.csv'));
    expect(rows).toHaveLength(rowsEach);
    expect(rows.every((r) => r['Result.Status'] === 'created')).toBe(true);
  }
  const stats = emulator.stats();
  expect(stats.tasks).toBe(files.length * rowsEach);
  expect(stats.maxTasksPerToken).toBe(1);
}

describe.skipIf(skipRedis)('shared limiter (Redis)', () => {
  let redis: TestRedis | undefined;
  let emulator: Emulator | undefined;
  afterEach(async () => {
    await redis?.kill();
    await emulator?.close();
  });

  it('three processes told the same quota share it: every ' +
    'row once, and together never faster than the quota', async () => {
    redis = await startRedis();
    emulator = await startEmulator({ rate: 100, burst: 5 });
    const arrivals = recordRequests(emulator);
    const files = inputs(100);
    const runs = await Promise.all(
      files.map((f) =>
        cli([
          'run',
          f,
          ...route,
          '--endpoint',
          emulator!.url,
          '--rate',
          '100',
          '--burst',
          '5',
          '--concurrency',
          '4',
          '--redis',
          redis!.url,
          '--log-format',
          'json',
        ]),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    createdOnce(emulator, files, 100);
    // One pace and one in-flight cap (4) for the cluster: a request's turn comes at least 1/100 s after
    // the one before it, and it arrives after its turn; the requests of earlier turns still arriving
    // hold a slot meanwhile (4 at most). So any k consecutive arrivals span (k − 5) / 100 s at least,
    // whatever the scheduler does; three limiters of their own would go three times as fast.
    expect(arrivals).toHaveLength(emulator.stats().requests);
    expectPaced(arrivals, { rate: 100, burst: 4 + 1, slack: 0.05 });
    // The emulator has no STS: one warning names the id the three processes shared.
    for (const r of runs) expect(r.stderr).toContain(`127.0.0.1:${emulator.port}/us-east-1`);
  }, 120_000);

  it('Redis killed and restarted mid-run: every row created exactly once, a warning, and the run rejoins', async () => {
    redis = await startRedis('s3cret-pass');
    emulator = await startEmulator({ rate: 50, burst: 5 });
    const files = inputs(100);
    // At the 80th request, take Redis away until the processes have created 30 more tasks alone, then
    // bring it back empty. 190 rows are left then: at 50/s at most, seconds to see it back.
    let restarted: Promise<void> | undefined;
    recordRequests(emulator, (n) => {
      if (n !== 80) return;
      restarted = (async () => {
        await redis!.kill();
        const created = emulator!.stats().created;
        await until(() => emulator!.stats().created >= created + 30, '30 tasks created while Redis was down');
        await redis!.start();
      })();
    });
    const runs = await Promise.all(
      files.map((f) =>
        cli(['run', f, ...route, '--endpoint', emulator!.url, '--rate', '50', '--log-format', 'json'], {
          CTL_REDIS_URL: redis!.url,
        }),
      ),
    );
    await restarted;
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    createdOnce(emulator, files, 100);
    const all = runs.map((r) => r.stdout + r.stderr).join('\n');
    expect(all).toContain('Redis unreachable');
    expect(all).toContain('Redis is back');
    // The password never shows, in logs, errors or the summary.
    expect(all).not.toContain('s3cret-pass');
    expect(all).toContain('***');
  }, 120_000);

  it('an unreachable Redis is a configuration error before anything is sent, without the password', async () => {
    const port = await quietPort();
    const [file] = inputs(3);
    const r = await cli([
      'run',
      file!,
      ...route,
      '--endpoint',
      'http://127.0.0.1:9',
      '--redis',
      `redis://:hunter22@127.0.0.1:${port}`,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach Redis');
    expect(r.stderr + r.stdout).not.toContain('hunter22');
    expect(() => readResults(join(file!.replace(/\.csv$/, '.results.csv')))).toThrow();
  });
});
