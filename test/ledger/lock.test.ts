/**
 * The run lock under races and freezes (issue 8, items 12 and 16): real processes racing for a stale
 * lock, a real CLI run frozen with SIGSTOP while another takes the lock over, a FIFO where the lock
 * goes. The lock module is loaded from the built dist/ in child processes, as the bin loads it.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { acquireLock } from '../../src/ledger/lock.js';
import { runImport } from '../../src/run/run.js';
import { spawnCli } from '../cli/bin.js';
import { testEmulator } from '../emulator.js';
import {
  readResults,
  ROUTE as route,
  ROUTE_FLAGS as routeFlags,
  taskRows,
  tempDir,
  until,
  writeCsv,
} from '../helpers.js';

const LOCK_JS = resolve(import.meta.dirname, '../../dist/ledger/lock.js');

/**
 * A process that takes the lock when told "go" and holds it until its stdin ends. It prints
 * "ready", then "won" or "refused <exit code>".
 */
const CONTENDER = `
const { acquireLock } = await import(process.argv[1]);
let lock;
process.stdout.write('ready\\n');
process.stdin.setEncoding('utf8');
process.stdin.once('data', async () => {
  try { lock = await acquireLock(process.argv[2]); process.stdout.write('won\\n'); }
  catch (e) { process.stdout.write('refused ' + e.exitCode + '\\n'); }
});
process.stdin.on('end', async () => { await lock?.release(); process.exit(0); });
`;

interface Contender {
  child: ChildProcessWithoutNullStreams;
  said(word: string): Promise<string>;
  exited: Promise<number | null>;
}

function contender(results: string): Contender {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CONTENDER, LOCK_JS, results]);
  let out = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d;
    for (const w of waiters.splice(0)) w();
  });
  /** The first line starting with `word`; fails the test if none comes within 30 s. */
  const said = async (word: string): Promise<string> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const line = out.split('\n').find((l) => l.startsWith(word));
      if (line) return line;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the contender did not say "${word}" within 30 s; it said: ${out}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  };
  return { child, said, exited: new Promise((r) => child.on('exit', r)) };
}

/** Every thread of process `pid` is stopped (SIGSTOP), so none runs or writes any more. */
function allStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((thread) => {
      const stat = readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8');
      return /^[Tt]$/.test(stat.charAt(stat.lastIndexOf(')') + 2));
    });
  } catch {
    return false; // a thread ended while it was looked at: look again
  }
}

function plantHolder(results: string, record: object, id = '1-ab'): string {
  const dir = `${results}.lock`;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `holder.${id}.json`);
  writeFileSync(file, JSON.stringify(record));
  return file;
}

/** Makes a holder record look like a holder on another host not heard from for 10 minutes (stale by the file's age). */
function elsewhere(record: string): void {
  writeFileSync(
    record,
    readFileSync(record, 'utf8').replace(`"host":${JSON.stringify(hostname())}`, '"host":"another-host"'),
  );
  const old = new Date(Date.now() - 10 * 60_000);
  utimesSync(record, old, old);
}

describe('the run lock', () => {
  it('three processes taking one stale lock at once: exactly one wins, every time', async () => {
    const dir = tempDir();
    for (let round = 0; round < 4; round++) {
      const results = join(dir, `r${round}.csv`);
      plantHolder(results, { pid: 2 ** 22 + 1, host: hostname(), since: '2026-11-24T00:00:00Z' }); // a dead holder
      const runs = [contender(results), contender(results), contender(results)];
      await Promise.all(runs.map((r) => r.said('ready')));
      for (const r of runs) r.child.stdin.write('go\n'); // as close to the same moment as processes get
      const outcomes = await Promise.all(runs.map((r) => Promise.race([r.said('won'), r.said('refused')])));
      expect(outcomes.filter((o) => o === 'won')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'refused 4')).toHaveLength(2);
      expect(readdirSync(`${results}.lock`)).toHaveLength(1); // the winner's record only
      for (const r of runs) r.child.stdin.end();
      await Promise.all(runs.map((r) => r.exited));
      expect(existsSync(`${results}.lock`)).toBe(false);
      expect(readdirSync(dir).filter((n) => n.endsWith('.new'))).toEqual([]); // no staging leftovers
    }
  });

  it('a holder whose lock was taken over knows it lost, and its release leaves the new holder’s lock', async () => {
    const results = join(tempDir(), 'r.csv');
    const first = await acquireLock(results);
    const [name] = readdirSync(first.path);
    // Not touched for 10 minutes, and on another host sharing the folder (a live holder on this host
    // is judged by its process): what a frozen or cut-off holder looks like.
    elsewhere(join(first.path, name!));
    const second = await acquireLock(results);
    expect(() => first.assertHeld()).toThrow(/lost the lock on .*r\.csv: another run took it over/);
    expect(first.signal.aborted).toBe(true);
    await first.release();
    expect(readdirSync(second.path)).toHaveLength(1);
    expect(() => second.assertHeld()).not.toThrow();
    // The lock is the holder's alone: folder 0700, record 0600.
    expect(statSync(second.path).mode & 0o777).toBe(0o700);
    expect(statSync(join(second.path, readdirSync(second.path)[0]!)).mode & 0o777).toBe(0o600);
    await second.release();
    expect(existsSync(second.path)).toBe(false);
  });

  it('a holder killed but not yet reaped (a zombie: a container whose first process reaps late) is gone', async () => {
    // A shell that starts a child and then becomes `sleep`, which never reaps it: the child, killed,
    // stays a zombie while the sleep lasts, as a killed run does under a slow reaper. It is killed only
    // once the shell has become `sleep` (a child that ended before could still be reaped by the shell).
    const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 60'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let pid = 0;
    try {
      pid = Number(await new Promise<string>((done) => parent.stdout.once('data', (d: Buffer) => done(`${d}`))));
      const fields = () => {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      };
      await until(
        () => readFileSync(`/proc/${parent.pid}/comm`, 'utf8').trim() === 'sleep',
        'the shell to become sleep',
      );
      process.kill(pid, 'SIGKILL');
      await until(() => fields()[0] === 'Z', 'the child to become a zombie');
      const started = Number(fields()[19]);
      const results = join(tempDir(), 'r.csv');
      plantHolder(results, { pid, host: hostname(), since: '2026-11-24T00:00:00Z', started });
      const lock = await acquireLock(results);
      expect(readdirSync(lock.path)).toEqual([expect.stringMatching(new RegExp(`^holder\\.${process.pid}-`))]);
      await lock.release();
    } finally {
      if (pid) process.kill(pid, 'SIGKILL'); // unreaped until its parent goes: never another process's pid
      parent.kill('SIGKILL');
    }
  });

  it('a live holder on this host is never stale, whatever the file times say (a clock running ahead)', async () => {
    const results = join(tempDir(), 'r.csv');
    const first = await acquireLock(results);
    const [name] = readdirSync(first.path);
    // What a second run whose clock is 2 minutes ahead sees: a holder file not touched for 2 minutes.
    const old = new Date(Date.now() - 2 * 60_000);
    utimesSync(join(first.path, name!), old, old);
    await expect(acquireLock(results)).rejects.toThrow(/another run holds .*r\.csv \(pid \d+ on /);
    expect(() => first.assertHeld()).not.toThrow();
    await first.release();
  });

  it(
    'a look at the lock stands for `recentMs` by both clocks, never longer; a takeover is seen at the first look ' +
      'after it',
    async () => {
      const results = join(tempDir(), 'r.csv');
      const first = await acquireLock(results);
      vi.useFakeTimers({ toFake: ['Date', 'performance'] });
      try {
        first.assertHeld(200); // a look: held
        const [name] = readdirSync(first.path);
        elsewhere(join(first.path, name!));
        const second = await acquireLock(results); // takes it over
        vi.advanceTimersByTime(150);
        expect(() => first.assertHeld(200)).not.toThrow(); // within 200 ms of the last look: no new look
        expect(() => first.assertHeld()).toThrow(/lost the lock/); // a look whatever the time
        expect(() => first.assertHeld(200)).toThrow(/lost the lock/); // and lost stays lost
        await second.release();
      } finally {
        vi.useRealTimers();
      }
      const again = await acquireLock(join(tempDir(), 'r.csv'));
      vi.useFakeTimers({ toFake: ['Date', 'performance'] });
      try {
        again.assertHeld(200);
        const [name] = readdirSync(again.path);
        elsewhere(join(again.path, name!));
        const taker = await acquireLock(again.path.replace(/\.lock$/, ''));
        vi.advanceTimersByTime(250); // past the window: the next routine write looks, and stops
        expect(() => again.assertHeld(200)).toThrow(/lost the lock/);
        await taker.release();
      } finally {
        vi.useRealTimers();
      }
      await first.release();
      await again.release();
    },
  );

  it(
    'a CLI run frozen (SIGSTOP) past a takeover wakes, ' + 'writes nothing more, exits 4; a resume finishes exactly',
    async () => {
      const e = await testEmulator({ rate: 40, burst: 1, latencyMs: 20 });
      const input = writeCsv(taskRows(60));
      const results = input.replace(/\.csv$/, '.results.csv');
      const args = [
        'run',
        input,
        '--endpoint',
        e.url,
        '--rate',
        '40',
        '--burst',
        '1',
        '--log-level',
        'warn',
        ...routeFlags,
      ];
      let a: ChildProcess | undefined;
      // Frozen as its 5th request reaches the emulator: 55 rows are left, however fast it went.
      e.service.onRequest = (n) => {
        if (n === 5) a!.kill('SIGSTOP');
      };
      const aRan = spawnCli(args, { onSpawn: (child) => (a = child) });
      // Every thread stopped: a write under way when the signal came has landed before the rows are counted.
      await until(() => allStopped(a!.pid!), 'the run to be frozen');
      e.service.onRequest = undefined;
      // A takeover needs the holder silent for 60 s; faked below with the file's time, so the freeze
      // itself is made to outlast the writer's 200 ms between looks at the lock, as any real one does.
      await new Promise((r) => setTimeout(r, 400));

      const rowsAtFreeze = readResults(results).length;
      const lockDir = `${results}.lock`;
      const [holder] = readdirSync(lockDir);
      const old = new Date(Date.now() - 10 * 60_000);
      utimesSync(join(lockDir, holder!), old, old); // as if frozen for 10 minutes
      const b = contender(results);
      await b.said('ready');
      b.child.stdin.write('go\n');
      expect(await Promise.race([b.said('won'), b.said('refused')])).toBe('won');

      a!.kill('SIGCONT');
      const { code, stderr } = await aRan;
      expect(code).toBe(4);
      expect(stderr).toMatch(/lost the lock on .*: another run took it over/);
      expect(stderr).not.toMatch(/internal error|\n\s+at /);
      expect(readResults(results)).toHaveLength(rowsAtFreeze); // nothing written after waking
      const [newHolder] = readdirSync(lockDir);
      expect(newHolder).not.toBe(holder); // A's release left B's lock alone
      b.child.stdin.end();
      await b.exited;

      const resumed = await runImport({ input, endpoint: e.url, rate: 40, burst: 1, ...route, resume: true });
      expect(resumed.rows).toMatchObject({ total: 60, created: 60 });
      const rows = readResults(results);
      expect(rows).toHaveLength(60);
      expect(new Set(rows.map((r) => r['Result.Line'])).size).toBe(60);
      expect(e.stats().tasks).toBe(60);
      expect(e.stats().maxTasksPerToken).toBe(1);
    },
  );

  describe('a holder elsewhere that has missed its heartbeats (a killed container, its replacement starting)', () => {
    /** A holder on another host (or in another container), last heard from `ageMs` ago. */
    const silent = (results: string, ageMs: number) => {
      const record = plantHolder(results, { pid: 1, host: 'tickets-backfill-2', since: '2026-12-04T02:15:00Z' });
      const at = new Date(Date.now() - ageMs);
      utimesSync(record, at, at);
      return record;
    };

    it('is waited for until its lock is stale, then taken over', async () => {
      const results = join(tempDir(), 'r.csv');
      silent(results, 57_000);
      const onWait = vi.fn();
      const lock = await acquireLock(results, { onWait });
      expect(onWait).toHaveBeenCalledOnce();
      expect(onWait.mock.calls[0]![0]).toBe(
        'pid 1 on tickets-backfill-2 (another machine or container), since 2026-12-04T02:15:00Z',
      );
      expect(onWait.mock.calls[0]![1]).toBeLessThanOrEqual(4_000);
      expect(readdirSync(lock.path)).toHaveLength(1);
      await lock.release();
    });

    it('one heard from lately is refused at once (exit 4), and one heard from again while waited for too', async () => {
      const results = join(tempDir(), 'r.csv');
      const record = silent(results, 2_000);
      const onWait = vi.fn();
      await expect(acquireLock(results, { onWait })).rejects.toMatchObject({
        exitCode: 4,
        message: expect.stringMatching(/takes its lock over 60 s after its last sign of life/),
      });
      expect(onWait).not.toHaveBeenCalled();
      const again = new Date(Date.now() - 20_000);
      utimesSync(record, again, again);
      const waiting = acquireLock(results, { onWait });
      await until(() => onWait.mock.calls.length === 1, 'the wait to begin');
      const now = new Date();
      utimesSync(record, now, now); // its heartbeat: alive after all
      await expect(waiting).rejects.toMatchObject({ exitCode: 4 });
      expect(existsSync(record)).toBe(true);
    });

    it('a stop while waiting ends the wait: nothing taken', async () => {
      const results = join(tempDir(), 'r.csv');
      const record = silent(results, 20_000);
      const stop = new AbortController();
      const waiting = acquireLock(results, { signal: stop.signal, onWait: () => stop.abort() });
      await expect(waiting).rejects.toMatchObject({ name: 'StoppedError', exitCode: 3 });
      expect(existsSync(record)).toBe(true);
    });
  });

  it('a FIFO (or an old lock file) where the lock goes: a plain refusal, never a hang', async () => {
    const input = writeCsv(taskRows(2));
    const results = input.replace(/\.csv$/, '.results.csv');
    execFileSync('mkfifo', [`${results}.lock`]);
    // The bin: a hang would be a failure, so it is killed after a generous while, and the code shows it.
    const run = () => spawnCli(['run', input, '--endpoint', 'http://127.0.0.1:9', ...routeFlags], { limitMs: 20_000 });
    const fifo = await run();
    expect(fifo.code).toBe(2);
    expect(fifo.stderr).toMatch(/\.lock is in the way of this run's lock: it is not a lock folder of this tool/);
    expect(fifo.stderr).not.toMatch(/\n\s+at /);

    execFileSync('rm', [`${results}.lock`]);
    // an older version's lock file
    writeFileSync(`${results}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
    await expect(acquireLock(results)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/in the way/),
    });
    expect(existsSync(results)).toBe(false);
  });
});
