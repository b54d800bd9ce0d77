/**
 * One run per results file. The lock is a folder beside the real (symlink-resolved) results file,
 * `<results>.lock/`, holding exactly one file `holder.<id>.json` (pid, host, start time, a random id)
 * that the holder touches every 5 s.
 *
 * Every change of hands is one atomic file-system step, so two runs can never both hold it:
 * - take: the holder file is prepared in a private folder `<results>.lock.<id>.new/`, which is then
 *   renamed to `<results>.lock`. rename(2) replaces a folder only if it is empty, so it succeeds only
 *   when no one holds the lock — and the lock never exists without its holder's record.
 * - take over a stale holder: unlink that holder's file by its unique name. Of several runs that all
 *   judged it stale, exactly one unlink succeeds; then each tries the rename, and exactly one wins.
 *   A holder's name is never reused, so no one can delete a lock taken after they looked (no ABA).
 * - own: a run holds the lock while its own holder file exists. The heartbeat and the results
 *   writes check that on disk (a write at most 200 ms after a look that found it), so a run frozen
 *   past a takeover stops before writing anything more.
 * - release: unlink our own holder file (if it is gone, someone took over: touch nothing else), then
 *   rmdir the folder, which fails harmlessly if another run has just moved in.
 *
 * Stale means: the holder is on this host and its process is gone (taken at once), or its file has
 * not been touched for 60 s while it is stopped or on another host sharing the folder. A live
 * holder on this host is never stale, whatever the file times say (clocks can disagree). "This
 * host" is the same host name, kernel boot and process namespace: two containers can share a host
 * name and both be pid 1 (the pods of one index of a Kubernetes Indexed Job are all named
 * `<job>-<index>`), and one cannot see the other's processes.
 *
 * Why not flock(2): Node has no binding for it (no new native dependency), a child `flock` process
 * cannot hold a lock for us, and flock is unreliable on network file systems. Why not
 * proper-lockfile: unmaintained since 2021, its stale takeover is remove-then-create (the very race
 * fixed here), and it cannot tell a dead holder on this host without waiting out the stale window.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rmdir, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeErrno, LockedError, LockLostError, StoppedError, UsageError } from '../errors.js';
import { CREATE_NEW, lockPath, OWNER_ONLY, openRegular, READ } from './files.js';

const HEARTBEAT_MS = 5_000;
const STALE_MS = 60_000;
/**
 * A holder elsewhere that has missed this many heartbeats is most likely gone (a killed container
 * whose replacement is starting): its lock is waited for until it is stale, rather than refused.
 */
const SILENT_MS = 3 * HEARTBEAT_MS;
/** How often a waiting run looks at a silent holder's record. */
const LOOK_MS = 1_000;
const ATTEMPTS = 6;
const HOLDER_FILE = /^holder\.[0-9]+-[0-9a-f]+\.json$/;

interface Holder {
  pid?: number;
  host?: string;
  /** The kernel boot and process namespace the pid belongs to (Linux). */
  pidSpace?: string;
  since?: string;
  /** The holder process's start time in clock ticks since boot (Linux), so a reused pid is not taken for it. */
  started?: number;
  file: string;
  touchedMs: number;
}

export interface Lock {
  /** The lock folder. */
  path: string;
  /** Aborted, with a LockLostError as its reason, when another run took the lock over. */
  signal: AbortSignal;
  /**
   * Throws LockLostError unless this run still holds the lock. With `recentMs`, a look at the disk
   * that found it held less than that long ago stands (by the wall clock and the monotonic one both).
   */
  assertHeld(recentMs?: number): void;
  /** Gives the lock up; never removes a lock another run took over. */
  release(): Promise<void>;
}

export interface LockWait {
  /** Stops a wait for a silent holder (StoppedError: nothing was sent). */
  signal?: AbortSignal;
  /** Told once when the run starts waiting: who holds the lock, and the longest it may wait (ms). */
  onWait?: (holder: string, ms: number) => void;
}

/**
 * Takes the lock of `resultsPath` (already symlink-resolved). LockedError (exit 4) while another run
 * holds it; a holder on another host or in another container that has missed its heartbeats is
 * waited for, up to the minute after which its lock is stale, and then taken over.
 */
export async function acquireLock(resultsPath: string, wait: LockWait = {}): Promise<Lock> {
  const dir = lockPath(resultsPath);
  const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const file = `holder.${id}.json`;
  const staging = `${dir}.${id}.new`;
  const started = processInfo(process.pid)?.started;
  const space = pidSpace();
  await prepare(
    staging,
    file,
    JSON.stringify({
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      id,
      ...(started !== undefined ? { started } : {}),
      ...(space !== undefined ? { pidSpace: space } : {}),
    }),
  );
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (await moveIn(staging, dir)) {
        // Re-check after taking: our record is the one in the lock.
        if (
          await lstat(join(dir, file)).then(
            () => true,
            () => false,
          )
        )
          return held(dir, file, resultsPath);
        throw new LockedError(`the lock ${dir} was taken from this run as it took it: try again`);
      }
      const holder = await currentHolder(dir);
      if (!holder) continue; // released or emptied just now: try again
      if (!isStale(holder)) {
        if (await waitedOut(holder, dir, wait)) continue;
        const who = describeHolder(holder);
        const gone = onThisHost(holder)
          ? `delete ${dir}`
          : `the next run takes its lock over ${STALE_MS / 1000} s after its last sign of life (or delete ${dir})`;
        throw new LockedError(`another run holds ${resultsPath} (${who}); if that run is gone, ${gone}`);
      }
      // Take over: remove exactly that holder. Of all runs that judged it stale, only one succeeds.
      await unlink(join(dir, holder.file)).catch(() => undefined);
    }
    throw new LockedError(`could not take the lock ${dir}: other runs keep taking it`);
  } finally {
    await unlink(join(staging, file)).catch(() => undefined); // gone already when the rename won
    await rmdir(staging).catch(() => undefined);
  }
}

async function prepare(staging: string, file: string, record: string): Promise<void> {
  try {
    await mkdir(staging, { mode: 0o700 });
    const handle = await open(join(staging, file), CREATE_NEW, OWNER_ONLY);
    await handle.writeFile(`${record}\n`);
    await handle.close();
  } catch (err) {
    throw new UsageError(`cannot create the lock beside the results file (${staging}): ${describeErrno(err)}`, {
      cause: err,
    });
  }
}

/** rename(2) of our prepared folder onto the lock: true if we now hold it, false if someone does. */
async function moveIn(staging: string, dir: string): Promise<boolean> {
  try {
    await rename(staging, dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    if (code === 'ENOTDIR') throw inTheWay(dir);
    throw new UsageError(`cannot take the lock ${dir}: ${describeErrno(err)}`, { cause: err });
  }
}

/** The one holder in the lock folder, or undefined when the folder is gone or empty just now. */
async function currentHolder(dir: string): Promise<Holder | undefined> {
  let entries: string[];
  try {
    if (!(await lstat(dir)).isDirectory()) throw inTheWay(dir);
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  if (entries.length === 0) return undefined;
  const [name] = entries;
  if (entries.length > 1 || !HOLDER_FILE.test(name!)) {
    throw new UsageError(`${dir} holds files this tool did not put there; if no run is using it, delete the folder`);
  }
  try {
    const handle = await openRegular(join(dir, name!), READ, 'lock holder file');
    try {
      const touchedMs = (await handle.stat()).mtimeMs;
      let record: Partial<Holder> = {};
      try {
        record = JSON.parse(await handle.readFile('utf8')) as Partial<Holder>;
      } catch {
        // Unreadable record: judged by its age alone.
      }
      return {
        pid: Number(record.pid) || undefined,
        host: String(record.host),
        since: String(record.since),
        started: Number(record.started) || undefined,
        pidSpace: typeof record.pidSpace === 'string' ? record.pidSpace : undefined,
        file: name!,
        touchedMs,
      };
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT') return undefined; // released meanwhile
    throw err;
  }
}

/**
 * A holder on this host is judged by its process, never by file times: a clock that runs ahead (or a
 * file system's) must not let a second run take a live run's lock. Its process gone (or dead and not
 * yet reaped), or its pid now another process's: stale at once. Stopped (SIGSTOP, a suspended job)
 * or on another host: stale after 60 s without a touch.
 */
function isStale(holder: Holder): boolean {
  if (onThisHost(holder)) {
    const state = holderProcess(holder);
    if (state === 'gone') return true;
    if (state === 'live') return false;
  }
  return Date.now() - holder.touchedMs > STALE_MS;
}

/**
 * Waits while a holder this process cannot look up stays silent, until its lock is stale: true then,
 * or when its record is gone (released); false at once for a holder heard from lately, or as soon as
 * it is heard from again (touched: alive, a refusal stands).
 */
async function waitedOut(holder: Holder, dir: string, wait: LockWait): Promise<boolean> {
  if (onThisHost(holder) || Date.now() - holder.touchedMs < SILENT_MS) return false;
  const record = join(dir, holder.file);
  const until = Math.min(holder.touchedMs + STALE_MS + LOOK_MS, Date.now() + STALE_MS);
  wait.onWait?.(describeHolder(holder), until - Date.now());
  while (Date.now() < until) {
    try {
      await sleep(LOOK_MS, undefined, { signal: wait.signal });
    } catch {
      throw new StoppedError('stopped while waiting for the lock of a silent run: nothing was sent or written');
    }
    const touched = await lstat(record).then(
      (st) => st.mtimeMs,
      () => undefined,
    );
    if (touched === undefined) return true;
    if (touched !== holder.touchedMs) return false;
  }
  return isStale(holder);
}

function describeHolder(holder: Holder): string {
  return holder.pid
    ? `pid ${holder.pid} on ${holder.host}${onThisHost(holder) ? '' : ' (another machine or container)'}, since ${holder.since}`
    : 'a holder whose record is unreadable';
}

/**
 * The holder's pid is one this process can look up: same host name, kernel boot and pid namespace.
 * The kernel reuses a freed namespace's number, so a replacement can find its dead predecessor's
 * "namespace" to be its own: that holder is then judged by its pid and start time, and found gone
 * (a namespace's number is only reused once every process in it has ended).
 */
function onThisHost(holder: Holder): boolean {
  return Boolean(holder.pid) && holder.host === hostname() && (holder.pidSpace ?? pidSpace()) === pidSpace();
}

/**
 * Whether a holder recorded as `pid` on `host` (started at `started`, in clock ticks since boot, in
 * `pidSpace`) is a process of this host that is gone: its pid unused, or now another process's.
 * Never true for another host, nor for another container of the same host name (another pid space).
 */
export function goneFromThisHost(holder: {
  pid?: number;
  host?: string;
  started?: number;
  pidSpace?: string;
}): boolean {
  const { pid, host, started } = holder;
  const space = typeof holder.pidSpace === 'string' ? holder.pidSpace : undefined;
  if (!onThisHost({ pid, host, started, pidSpace: space, file: '', touchedMs: 0 })) return false;
  return holderProcess({ pid, host, started, file: '', touchedMs: 0 }) === 'gone';
}

/** This process as a lock or lease records its holder. */
export function thisHolder(): { pid: number; host: string; started?: number; pidSpace?: string } {
  const started = processInfo(process.pid)?.started;
  const space = pidSpace();
  return {
    pid: process.pid,
    host: hostname(),
    ...(started !== undefined ? { started } : {}),
    ...(space !== undefined ? { pidSpace: space } : {}),
  };
}

function holderProcess(holder: Holder): 'gone' | 'stopped' | 'live' {
  if (!isRunning(holder.pid!)) return 'gone';
  const info = processInfo(holder.pid!);
  if (!info) return 'live'; // no /proc (not Linux): a running pid is taken as the holder
  if (holder.started !== undefined && info.started !== holder.started) return 'gone';
  // A zombie (killed, not yet reaped: a container whose first process reaps late or never) runs no
  // more code: its lock is free, or a kill -9 would hold the results file until the reaper comes.
  if (info.state === 'Z' || info.state === 'X') return 'gone';
  return info.state === 'T' || info.state === 't' ? 'stopped' : 'live';
}

/**
 * Where this process's pid means something: the kernel's boot id and the pid namespace, e.g.
 * `880b6df3-…/pid:[4026531836]`; undefined where there is no /proc (not Linux).
 */
export function pidSpace(): string | undefined {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return undefined;
  }
}

/** A process's state letter and start time (clock ticks since boot) from /proc; undefined where there is none. */
function processInfo(pid: number): { state: string; started: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state …": comm may hold spaces and parentheses, so fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const started = Number(fields[19]);
    return Number.isFinite(started) ? { state: fields[0]!, started } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function held(dir: string, file: string, resultsPath: string): Lock {
  const path = join(dir, file);
  const lost = new AbortController();
  const lose = () => {
    if (lost.signal.aborted) return;
    lost.abort(
      new LockLostError(
        `lost the lock on ${resultsPath}: another run took it over while this one did not answer for ` +
          `over ${STALE_MS / 1000} s ` +
          '(frozen, suspended or cut off). This run stopped without writing anything more; the run holding the ' +
          'lock now ' +
          '(or a later one with --resume) records the remaining rows, with the same ClientTokens.',
      ),
    );
  };
  const timer = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).then(
      () => undefined,
      (err: NodeJS.ErrnoException) => err.code === 'ENOENT' && lose(),
    );
  }, HEARTBEAT_MS);
  timer.unref();
  const seen = new LastLook();
  return {
    path: dir,
    signal: lost.signal,
    // An lstat (a few microseconds) at most every `recentMs`: a run that wakes from a freeze after a
    // takeover finds out before its next write, not at its next heartbeat, since a freeze (or a
    // suspended machine: the wall clock) outlasts any `recentMs` a writer passes.
    assertHeld(recentMs = 0) {
      if (!lost.signal.aborted && !(recentMs > 0 && seen.within(recentMs))) {
        try {
          lstatSync(path);
          seen.now();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') lose();
        }
      }
      if (lost.signal.aborted) throw lost.signal.reason;
    },
    async release() {
      clearInterval(timer);
      try {
        await unlink(path);
      } catch {
        return; // taken over: the lock is another run's now
      }
      await rmdir(dir).catch(() => undefined); // not empty: another run moved in just now
    },
  };
}

/** When the lock was last found held on disk, by two clocks: a step back of either means "long ago". */
class LastLook {
  private wall = -Infinity;
  private mono = -Infinity;

  now(): void {
    this.wall = Date.now();
    this.mono = performance.now();
  }

  within(ms: number): boolean {
    const wall = Date.now() - this.wall;
    const mono = performance.now() - this.mono;
    return wall >= 0 && wall < ms && mono >= 0 && mono < ms;
  }
}

function inTheWay(dir: string): UsageError {
  return new UsageError(
    `${dir} is in the way of this run's lock: it is not a lock folder of this tool (a lock file of an older ` +
      `version, a FIFO, a link or another file). If no run is using the results file, delete it`,
  );
}
