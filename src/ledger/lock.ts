/**
 * One run per results file. A lock file beside it (`<results>.lock`) names the holder (pid, host,
 * start time) and is touched every few seconds while the run lives.
 *
 * A lock is stale — and is taken over — when its holder is on this host and no longer running
 * (a killed process frees its results file at once), or when it has not been touched for
 * STALE_MS (a holder on another host sharing the folder, or a frozen one).
 *
 * Hand-written rather than proper-lockfile: that package is unmaintained since 2021, cannot tell a
 * dead holder on this host without waiting out its staleness window, and throws when compromised.
 */
import { hostname } from 'node:os';
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { LockedError, UsageError } from '../errors.js';

const HEARTBEAT_MS = 5_000;
const STALE_MS = 60_000;

interface Holder {
  pid: number;
  host: string;
  since: string;
}

export interface Lock {
  path: string;
  release(): Promise<void>;
}

export async function acquireLock(resultsPath: string): Promise<Lock> {
  const path = `${resultsPath}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${JSON.stringify(me)}\n`);
      await handle.close();
      const timer = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => undefined);
      }, HEARTBEAT_MS);
      timer.unref();
      return {
        path,
        release: async () => {
          clearInterval(timer);
          await rm(path, { force: true });
        },
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new UsageError(`cannot create ${path} beside the results file: ${code ?? String(err)}`, { cause: err });
    }
    const holder = await readHolder(path);
    if (!(await isStale(path, holder))) {
      throw new LockedError(
        `another run holds ${resultsPath} (${holder ? `pid ${holder.pid} on ${holder.host}, since ${holder.since}` : 'being taken just now'}); ` +
          `if that run is gone, delete ${path}`,
      );
    }
    await rm(path, { force: true }); // stale: take it over (and race fairly with any other taker)
  }
  throw new LockedError(`could not take the lock ${path}: other runs keep taking it`);
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Holder;
  } catch {
    return undefined; // vanished or half-written: treat as stale unless it is fresh
  }
}

/** A lock with no readable holder is being written by its taker: stale only once it is old. */
async function isStale(path: string, holder: Holder | undefined): Promise<boolean> {
  if (holder && holder.host === hostname() && !isRunning(holder.pid)) return true;
  try {
    return Date.now() - (await stat(path)).mtimeMs > (holder ? STALE_MS : 2_000);
  } catch {
    return true;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
