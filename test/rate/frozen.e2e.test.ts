/**
 * A frozen Redis (SIGSTOP: connections stay open, nothing answers — as a hung host or a black-holed
 * network): every Redis call has a time limit, the run falls back to its own pace and says so, a
 * signal still stops it, and a Redis frozen before the start is refused in seconds.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, spawnCli } from '../cli/bin.js';
import { testEmulator } from '../emulator.js';
import { ROUTE_FLAGS, taskRows, writeCsv } from '../helpers.js';
import { skipRedis, startRedis, type TestRedis } from '../redis.js';

const route = [...ROUTE_FLAGS, '--log-format', 'json', '--no-progress'];

/** Runs the bin (it is signalled); `watch` looks at its stderr every 50 ms while it runs and may signal it. */
function watched(args: string[], watch: (stderr: string, kill: (s: NodeJS.Signals) => void) => void) {
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  const watching = (child: ChildProcess) => (timer = setInterval(() => watch(stderr, (s) => child.kill(s)), 50));
  return spawnCli(args, { onSpawn: watching, onStderr: (text) => (stderr = text) }).finally(() => clearInterval(timer));
}

describe.skipIf(skipRedis)('a frozen Redis', () => {
  let redis: TestRedis | undefined;
  afterEach(async () => {
    redis?.thaw();
    await redis?.kill();
  });

  // The hang guard is this test's time limit (30 s): before the connection had a time limit of its
  // own, the run waited for minutes. Its 5 s is a setting (rate/redis.ts), not measured here.
  it('frozen before the start: refused, not waited for; nothing sent', async () => {
    redis = await startRedis();
    const emulator = await testEmulator({ rate: 100, burst: 10 });
    redis.freeze();
    const r = await cli(['run', writeCsv(taskRows(5)), ...route, '--endpoint', emulator.url, '--redis', redis.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(no answer/);
    expect(emulator.stats().requests).toBe(0);
  }, 30_000);

  it('frozen mid-run: the run says Redis is unreachable and goes on alone; a signal then stops it, and the resume ' +
    'creates each row once', async () => {
    redis = await startRedis();
    const emulator = await testEmulator({ rate: 100, burst: 10 });
    // 15 s of rows at 20/s: still running when the frozen Redis is noticed (2 s) and the signal comes.
    const input = writeCsv(taskRows(300));
    let frozen = false;
    let signalled = false;
    const r = await watched(
      ['run', input, ...route, '--endpoint', emulator.url, '--rate', '20', '--burst', '1', '--redis', redis.url],
      (stderr, kill) => {
        if (!frozen && emulator.stats().created >= 10) {
          frozen = true;
          redis!.freeze();
        }
        if (frozen && !signalled && stderr.includes('Redis unreachable')) {
          signalled = true;
          kill('SIGINT');
        }
      },
    );
    expect(frozen).toBe(true);
    expect(r.stderr).toContain('Redis unreachable');
    expect(r.code, r.stderr).toBe(3);
    redis.thaw();
    const rest = await cli(['run', input, ...route, '--endpoint', emulator.url, '--rate', '200', '--resume']);
    expect(rest.code, rest.stderr).toBe(0);
    expect(emulator.stats().tasks).toBe(300);
    expect(emulator.stats().maxTasksPerToken).toBe(1);
  }, 90_000);
});
