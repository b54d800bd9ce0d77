/**
 * Standard input is copied to a private temporary file before a run reads it, so that it has a
 * checksum like any file: the run state then knows *which* input a results file records, and a
 * second night's different stdin is never taken for "already processed", nor resumed by line number
 * as if it were the same. Disk, not memory: the copy is streamed. Removed when the run ends; one
 * left by a run killed outright (its pid is in the folder's name) is removed by the next run.
 */
import { createHash } from 'node:crypto';
import { constants, createWriteStream, openSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputError, StoppedError } from '../errors.js';
import { isRunning, pidSpace } from './lock.js';

export interface Spooled {
  path: string;
  remove(): Promise<void>;
}

const PREFIX = 'connect-task-loader-stdin-';

/**
 * Copies `source` (standard input, or a FIFO such as `<(zcat x.gz)`, which can be read only once) to
 * a private file. A stop (`signal`) ends the copy at once, even from a pipe that never closes:
 * nothing was sent, and the run ends as interrupted.
 */
export async function spoolStdin(
  source: NodeJS.ReadableStream = process.stdin,
  signal?: AbortSignal,
  name = 'standard input',
): Promise<Spooled> {
  const dir = await privateTempDir(PREFIX);
  const path = join(dir, 'input');
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    // Owner-only and new: the copy holds customer rows.
    await pipeline(source, createWriteStream(path, { flags: 'wx', mode: 0o600 }), ...(signal ? [{ signal }] : []));
  } catch (err) {
    await remove();
    if (signal?.aborted)
      throw new StoppedError(`stopped while reading ${name}: nothing was sent; run the command again`);
    throw new InputError(`cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  return { path, remove };
}

/**
 * A named pipe (or another file that is not a regular one) opened without blocking and read as a
 * socket, so that no thread waits on it: a stop ends its reading at once.
 */
export function openPipe(path: string): NodeJS.ReadableStream {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return new Socket({ fd, readable: true, writable: false });
}

/**
 * A new private temporary folder `<prefix><pid>.<space>-…` for files that hold customer rows, after
 * removing those that runs killed outright left behind. `<space>` stands for where the pid means
 * something (the kernel's boot and pid namespace, lock.ts): a container sharing this /tmp has pids
 * of its own, and its live folders must never be taken for a dead process's of this one.
 */
export async function privateTempDir(prefix: string): Promise<string> {
  await removeLeftovers(prefix);
  return mkdtemp(join(tmpdir(), `${prefix}${process.pid}.${spaceTag()}-`));
}

/** 8 hex digits of this process's pid space, or `any` where there is no /proc to tell. */
function spaceTag(): string {
  const space = pidSpace();
  return space === undefined ? 'any' : createHash('sha256').update(space).digest('hex').slice(0, 8);
}

/**
 * Private temporary folders of `prefix` that runs killed outright left behind: this user's, made in
 * this pid space, their process gone.
 */
async function removeLeftovers(prefix: string): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  const ours = spaceTag();
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const [, pid, space] = /^(\d+)\.([0-9a-z]+)-/.exec(name.slice(prefix.length)) ?? [];
    if (!pid || space !== ours || Number(pid) === process.pid || isRunning(Number(pid))) continue;
    const path = join(tmpdir(), name);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isDirectory() && st.uid === process.getuid?.())
      await rm(path, { recursive: true, force: true }).catch(() => {});
  }
}
