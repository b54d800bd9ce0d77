/**
 * The container contract: `node dist/cli.js run` as the image runs it — from an empty working
 * folder standing for the mounted volume, no flag but `run`, everything in the environment — as one
 * worker of a scheduler's array (JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX). Where this
 * machine lets a test make namespaces (root: `unshare`), the worker is its namespace's PID 1 with a
 * host name of its own, as in a pod: the kernel then drops every signal the process has no handler
 * for, and the pods of one index of an Indexed Job share their host name.
 *
 * Invariants, not timings: every record of a shard recorded once, no task twice (the emulator's
 * per-token counts), exit codes.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { testEmulator } from '../emulator.js';
import { readResults, tempDir, until } from '../helpers.js';
import { skipRedis, startRedis } from '../redis.js';
import { BIN, type Ran, spawnCli } from './bin.js';

/** `unshare` may make a pid, mount and UTS namespace here (root): workers run as PID 1. */
const namespaces = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', '--uts', 'true']).status === 0;
if (!namespaces)
  process.stderr.write('unshare cannot make namespaces here (not root?): the PID 1 container tests are skipped\n');

/** A file of `count` one-line records: record k (1-based) is on line k + 1. */
function tickets(dir: string, count: number, name = 'tickets.csv'): void {
  const rows = ['Name,Description,Attributes.ticket'];
  for (let k = 1; k <= count; k++) rows.push(`Ticket ${k},Call back about ticket ${k},T${k}`);
  writeFileSync(join(dir, name), `${rows.join('\n')}\n`);
}

/** The lines of shard i of n in such a file. */
const shardLines = (i: number, n: number, count: number) =>
  Array.from({ length: count }, (_, k) => k + 1)
    .filter((k) => (k - 1) % n === i - 1)
    .map((k) => k + 1);

/** A container's environment: the tool's settings and the scheduler's variables, nothing of this machine's. */
function podEnv(url: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    CTL_INPUT: 'tickets.csv',
    CTL_RESUME: '1',
    CTL_INSTANCE_ID: DEMO_INSTANCE_ID,
    CTL_CONTACT_FLOW_ID: DEMO_CONTACT_FLOW_ID,
    AWS_ENDPOINT_URL_CONNECT: url,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

interface Worker {
  done: Promise<Ran>;
  stderr: () => string;
  /** Signals the tool's own process (PID 1 of its namespace, when it has one). */
  kill: (signal: NodeJS.Signals) => Promise<void>;
  /** The same at once, from a callback that cannot wait: the worker is known to be running. */
  killNow: (signal: NodeJS.Signals) => void;
  /**
   * Keeps the worker's pid namespace in being after it ends, until the returned function is called.
   * The kernel gives a freed namespace's number to the next one made, and a replacement in a
   * namespace numbered as its dead predecessor's rightly finds that holder gone at once: it never
   * waits. A replacement on another node never has that number, which is what a test of the wait needs.
   */
  holdNamespace: () => Promise<() => void>;
}

/**
 * `run` with no flag, in `cwd`, with `env` alone; as PID 1 of new namespaces named `host` where this
 * machine allows it.
 */
function worker(cwd: string, env: NodeJS.ProcessEnv, host = 'ctl-worker'): Worker {
  if (!namespaces) {
    let child: ChildProcess | undefined;
    let stderr = '';
    const done = spawnCli(['run'], {
      cwd,
      env,
      onSpawn: (c) => (child = c),
      onStderr: (text) => (stderr = text),
    });
    return {
      done,
      stderr: () => stderr,
      kill: async (signal) => void child!.kill(signal),
      killNow: (signal) => void child!.kill(signal),
      holdNamespace: async () => () => undefined,
    };
  }
  const child = spawn(
    'unshare',
    [
      '--pid',
      '--fork',
      '--mount-proc',
      '--uts',
      '--kill-child',
      'sh',
      '-c',
      `hostname ${host} && exec "${process.execPath}" "${BIN}" run`,
    ],
    { cwd, env: { ...env, PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<Ran>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  // The tool is the child unshare forked: PID 1 inside, this pid outside.
  const children = `/proc/${child.pid}/task/${child.pid}/children`;
  let exited = false;
  void done.then(() => (exited = true));
  /** PID 1 of the worker, or undefined once it has ended (a signal then has no one to reach). */
  const pid1 = async () => {
    let pid = '';
    await until(
      () => exited || (pid = existsSync(children) ? readFileSync(children, 'utf8').trim() : '') !== '',
      'PID 1',
    );
    return exited ? undefined : Number(pid);
  };
  return {
    done,
    stderr: () => stderr,
    kill: async (signal) => {
      const pid = await pid1();
      if (pid !== undefined) process.kill(pid, signal);
    },
    killNow: (signal) => process.kill(Number(readFileSync(children, 'utf8').trim()), signal),
    holdNamespace: async () => {
      const pid = await pid1();
      if (pid === undefined) throw new Error('the worker ended before its namespace could be held');
      const fd = openSync(`/proc/${pid}/ns/pid`, 'r');
      return () => closeSync(fd);
    },
  };
}

const rowsIn = (path: string) => (existsSync(path) ? readResults(path).length : 0);

/** The input lines a results file records, in line order (a run records its rows as their answers come). */
const linesIn = (rows: Record<string, string>[]) => rows.map((row) => Number(row['Result.Line'])).sort((a, b) => a - b);

describe('configured by the environment alone, from an empty working folder', () => {
  it.each([['JOB_COMPLETION_INDEX'], ['AWS_BATCH_JOB_ARRAY_INDEX']])(
    'run takes its input from CTL_INPUT and index 1 of %s as shard 2 of 3',
    async (variable) => {
      const emulator = await testEmulator({ rate: 1000, burst: 1000 });
      const cwd = tempDir();
      tickets(cwd, 10);
      const r = await worker(cwd, podEnv(emulator.url, { CTL_SHARD: 'auto/3', [variable]: '1', CTL_RATE: '500' })).done;
      expect(r.code, r.stderr).toBe(0);
      const results = join(cwd, 'tickets.shard-2-of-3.results.csv');
      expect(linesIn(readResults(results))).toEqual(shardLines(2, 3, 10));
      expect(readResults(results).every((row) => row['Result.Status'] === 'created')).toBe(true);
      expect(JSON.parse(readFileSync(`${results}.run.json`, 'utf8')).identity.shard).toBe('2/3');
      expect(readdirSync(cwd).sort()).toEqual([
        'tickets.csv',
        'tickets.shard-2-of-3.results.csv',
        'tickets.shard-2-of-3.results.csv.run.json',
        'tickets.shard-2-of-3.results.csv.timeline.jsonl',
      ]);
      expect(emulator.stats().tasks).toBe(3);
    },
  );

  it('a scheduler index that is not one, or past n: exit 2 naming the variable and value, nothing written', async () => {
    const cwd = tempDir();
    tickets(cwd, 3);
    for (const [extra, message] of [
      [{ JOB_COMPLETION_INDEX: '3' }, /JOB_COMPLETION_INDEX is 3, past the last index of CTL_SHARD=auto\/3/],
      [{ JOB_COMPLETION_INDEX: '01' }, /JOB_COMPLETION_INDEX is "01"/],
      [{}, /CTL_SHARD=auto\/3 takes this worker's index from JOB_COMPLETION_INDEX/],
      [{ JOB_COMPLETION_INDEX: '0', AWS_BATCH_JOB_ARRAY_INDEX: '1' }, /cannot tell which/],
    ] as const) {
      const r = await spawnCli(['run'], { cwd, env: podEnv('http://127.0.0.1:9', { CTL_SHARD: 'auto/3', ...extra }) });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const none = await spawnCli(['run'], { cwd, env: podEnv('http://127.0.0.1:9', { CTL_INPUT: '' }) });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      'run needs an input: name it (run tickets.csv, or - for standard input), or set CTL_INPUT',
    );
    expect(readdirSync(cwd)).toEqual(['tickets.csv']);
  });
});

describe('stopped by the scheduler', () => {
  it('SIGTERM drains and exits 3; the same environment resumes its own shard; the printed command is the same run', async () => {
    const emulator = await testEmulator({ rate: 1000, burst: 1000, latencyMs: 200 });
    const cwd = tempDir();
    // A shard of 100 rows at 10/s: the signal comes long before its last row, however late it comes.
    tickets(cwd, 300);
    const env = podEnv(emulator.url, {
      CTL_SHARD: 'auto/3',
      JOB_COMPLETION_INDEX: '1',
      CTL_RATE: '10',
      CTL_BURST: '1',
    });
    const results = join(cwd, 'tickets.shard-2-of-3.results.csv');

    const first = worker(cwd, env);
    await until(() => rowsIn(results) >= 3, 'three rows recorded');
    await first.kill('SIGTERM');
    const stopped = await first.done;
    expect(stopped.code, stopped.stderr).toBe(3);
    expect(stopped.stdout).toMatch(/^Interrupted: \d+ of 100 rows/m);
    // The way on names the shard it resolved to: it works in a shell that has no JOB_COMPLETION_INDEX.
    const next = /^Next: (connect-task-loader run .*)$/m.exec(stopped.stdout)?.[1];
    expect(next).toContain('--shard 2/3');
    expect(next).toContain('--resume');
    expect(rowsIn(results)).toBeLessThan(100);

    // The pod again (a restarted container, a retried array child): its shard, not sent twice.
    const again = await worker(cwd, { ...env, CTL_RATE: '500', CTL_BURST: '50' }).done;
    expect(again.code, again.stderr).toBe(0);
    const rows = readResults(results);
    expect(linesIn(rows)).toEqual(shardLines(2, 3, 300));
    expect(rows.every((row) => row['Result.Status'] === 'created')).toBe(true);
    expect(emulator.stats().tasks).toBe(100);
    expect(emulator.stats().maxTasksPerToken).toBe(1);

    // The printed command, pasted in a shell on a laptop: the same run, already done.
    const args = next!.split(' ').slice(1);
    const laptop = Object.fromEntries(Object.entries(podEnv(emulator.url, {})).filter(([k]) => k.startsWith('AWS_')));
    const pasted = await spawnCli(args, { env: { ...laptop, AWS_ENDPOINT_URL_CONNECT: '' } });
    expect(pasted.code, pasted.stderr).toBe(0);
    expect(pasted.stdout).toMatch(/^Already processed/m);
    expect(emulator.stats().tasks).toBe(100);
  }, 120_000);

  it('SIGTERM while the worker starts (before its first request) ends it: nothing sent or written', async () => {
    const emulator = await testEmulator({ rate: 1000, burst: 1000 });
    const cwd = tempDir();
    tickets(cwd, 200);
    const w = worker(cwd, podEnv(emulator.url, { CTL_RATE: '10', CTL_BURST: '1' }));
    // Again and again until it ends: a signal in Node's own first moments, before any JavaScript
    // runs, is dropped for a PID 1 (no handler yet); from the program's first line on it is not. How
    // long those moments last is the machine's business: the signals go on until one is taken.
    let ended = false;
    void w.done.then(() => (ended = true));
    for (const giveUpAt = Date.now() + 40_000; Date.now() < giveUpAt && !ended && !w.stderr().includes('stopping'); ) {
      await w.kill('SIGTERM').catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
    const r = await w.done;
    // 143: stopped while the program loaded (as SIGTERM's default action would); 3: after, before the run
    // began. Not PID 1, a signal before the program's first line kills it (no code).
    expect(namespaces ? [143, 3] : [143, 3, null], r.stderr).toContain(r.code);
    if (emulator.stats().requests === 0) expect(readdirSync(cwd)).toEqual(['tickets.csv']);
    expect(emulator.stats().tasks).toBeLessThan(200);
  }, 60_000);

  it('SIGTERM once every row is recorded (the final writes): the run stays complete, and the next start sends nothing', async () => {
    const emulator = await testEmulator({ rate: 1000, burst: 1000 });
    const cwd = tempDir();
    tickets(cwd, 5);
    const env = podEnv(emulator.url, { CTL_RATE: '500', CTL_LOG_FORMAT: 'json' });
    const w = worker(cwd, env);
    await until(() => w.stderr().includes('"msg":"run finished"'), 'the run to finish its rows');
    await w.kill('SIGTERM').catch(() => undefined); // it may be gone already
    const r = await w.done;
    expect(r.code, r.stderr).toBe(0);
    const again = await worker(cwd, env).done;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^Already processed/m);
    expect(emulator.stats().tasks).toBe(5);
  }, 60_000);
});

describe.skipIf(!namespaces)('two pods of one index (one host name, both PID 1)', () => {
  it('the second finds the results locked (exit 4) while the first runs on unharmed', async () => {
    const emulator = await testEmulator({ rate: 1000, burst: 1000 });
    const cwd = tempDir();
    // 100 rows at 2/s: the first is still running when the second has started, however slowly.
    tickets(cwd, 200);
    const env = podEnv(emulator.url, { CTL_SHARD: 'auto/2', JOB_COMPLETION_INDEX: '0', CTL_RATE: '2', CTL_BURST: '1' });
    const results = join(cwd, 'tickets.shard-1-of-2.results.csv');
    const first = worker(cwd, env, 'nightly-0');
    await until(() => rowsIn(results) >= 1, 'the first pod to record a row');
    const second = await worker(cwd, env, 'nightly-0').done;
    expect(second.code, second.stderr).toBe(4);
    expect(second.stderr).toMatch(/another run holds .* \(pid 1 on nightly-0 \(another machine or container\)/);
    // The first still holds its lock: stopped now, it drains and records as usual (3, not 4: lock lost).
    await first.kill('SIGTERM');
    const r = await first.done;
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).not.toContain('lost the lock');
    expect(rowsIn(results)).toBe(emulator.stats().tasks);
    expect(emulator.stats().maxTasksPerToken).toBe(1);
  }, 60_000);
});

describe.skipIf(!namespaces)('a pod killed (SIGKILL) and replaced within the minute', () => {
  it('the replacement waits for the silent lock, then resumes its shard: every row once', async () => {
    const emulator = await testEmulator({ rate: 1000, burst: 1000 });
    const cwd = tempDir();
    // 100 rows at 5/s: killed with most of them left, however late the kill comes.
    tickets(cwd, 200);
    const env = podEnv(emulator.url, { CTL_SHARD: 'auto/2', JOB_COMPLETION_INDEX: '1', CTL_RATE: '5', CTL_BURST: '1' });
    const results = join(cwd, 'tickets.shard-2-of-2.results.csv');
    const first = worker(cwd, env, 'backfill-1');
    await until(() => rowsIn(results) >= 2, 'two rows recorded');
    const release = await first.holdNamespace();
    onTestFinished(release);
    await first.kill('SIGKILL');
    expect((await first.done).code).not.toBe(0);
    // Its lock stays behind, last touched a moment ago: as if 50 of the 60 s had passed since.
    const lock = `${results}.lock`;
    const [holder] = readdirSync(lock);
    const at = new Date(Date.now() - 50_000);
    utimesSync(join(lock, holder!), at, at);
    const replacement = await worker(cwd, { ...env, CTL_RATE: '500', CTL_BURST: '50' }, 'backfill-1').done;
    expect(replacement.code, replacement.stderr).toBe(0);
    expect(replacement.stderr).toContain('waiting until its lock may be taken over');
    const rows = readResults(results);
    expect(linesIn(rows)).toEqual(shardLines(2, 2, 200));
    expect(rows.every((row) => row['Result.Status'] === 'created')).toBe(true);
    expect(emulator.stats().tasks).toBe(100);
    expect(emulator.stats().maxTasksPerToken).toBe(1);
  }, 90_000);
});

describe.skipIf(skipRedis)('a rehearsal: four indexes on one quota (Redis), one stopped and started again', () => {
  it('merge of the four shards: every record created once', async () => {
    const emulator = await testEmulator({ rate: 40, burst: 5, latencyMs: 50 });
    const redis = await startRedis();
    try {
      const cwd = tempDir();
      tickets(cwd, 80);
      const env = (i: number) =>
        podEnv(emulator.url, {
          CTL_SHARD: 'auto/4',
          JOB_COMPLETION_INDEX: String(i),
          CTL_REDIS_URL: redis.url,
          CTL_RATE: '40',
          CTL_BURST: '5',
        });
      const shard = (i: number) => join(cwd, `tickets.shard-${i + 1}-of-4.results.csv`);
      const workers = [0, 1, 2, 3].map((i) => worker(cwd, env(i), `import-${i}`));
      // Index 2 (records 3, 7, 11 …) is signalled as the emulator creates its third task, before it
      // hears of it: at most a burst (5) more leaves before it takes the signal, so most of its shard is
      // unsent however the four processes were scheduled (had it started first, alone on the quota, it
      // could have finished its 20 rows before a look at its results file came round).
      const ofIndex2 = new Set(shardLines(3, 4, 80).map((line) => `T${line - 1}`));
      let created2 = 0;
      const startTask = emulator.service.startTask.bind(emulator.service);
      emulator.service.startTask = (body) => {
        const answer = startTask(body);
        const ticket = (body as { Attributes?: { ticket?: string } }).Attributes?.ticket;
        if ('body' in answer && ofIndex2.has(ticket ?? '') && ++created2 === 3) workers[2]!.killNow('SIGTERM');
        return answer;
      };
      const codes = (await Promise.all(workers.map((w) => w.done))).map((r) => r.code);
      expect(codes).toEqual([0, 0, 3, 0]);
      const restarted = await worker(cwd, env(2), 'import-2').done;
      expect(restarted.code, restarted.stderr).toBe(0);

      const merged = await spawnCli(
        ['merge', ...[0, 1, 2, 3].map(shard), '--results', join(cwd, 'tickets.results.csv')],
        { cwd },
      );
      expect(merged.code, merged.stderr).toBe(0);
      expect(merged.stdout).toContain('80 rows — 80 created, 0 failed, 0 invalid');
      const rows = readResults(join(cwd, 'tickets.results.csv'));
      expect(rows.map((row) => Number(row['Result.Line']))).toEqual(Array.from({ length: 80 }, (_, k) => k + 2));
      expect(emulator.stats().tasks).toBe(80);
      expect(emulator.stats().maxTasksPerToken).toBe(1);
    } finally {
      await redis.kill();
    }
  }, 120_000);
});
