/**
 * How the run touches the files it owns (results, `<results>.run.json`, the lock): never through a
 * symbolic link planted at a name we create, never blocked by a FIFO or device where a file is
 * expected, created owner-only, and written whole or reported as failed.
 *
 * - `O_NOFOLLOW` on every open: a link at the last path component is refused (ELOOP), so a planted
 *   `<results>.run.json.tmp → ~/.bashrc` can never make a run write into another file.
 * - `O_EXCL` on every create: an existing name (file, link, anything) is never reused by accident.
 * - `O_NONBLOCK` on every open, then fstat: a FIFO opens at once (instead of waiting forever for a
 *   writer, deaf to SIGTERM) and is refused as not a regular file. It has no effect on regular files.
 */
import {
  constants as C,
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { type FileHandle, lstat, open, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { describeErrno, ResultsWriteError, UsageError } from '../errors.js';
import { isS3Url } from '../s3/url.js';

const SAFE = C.O_NOFOLLOW | C.O_NONBLOCK;
/** Flags to create a file that must not exist yet (and never through a link), for appending. */
export const CREATE_NEW = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_APPEND | SAFE;
export const APPEND_EXISTING = C.O_WRONLY | C.O_APPEND | SAFE;
export const READ = C.O_RDONLY | SAFE;
export const READ_WRITE = C.O_RDWR | SAFE;
export const OWNER_ONLY = 0o600;

/** The files a run owns beside its results file, by what each is called in a message. */
export const statePath = (resultsPath: string) => `${resultsPath}.run.json`;
export const lockPath = (resultsPath: string) => `${resultsPath}.lock`;
export const timelinePath = (resultsPath: string) => `${resultsPath}.timeline.jsonl`;

function runFiles(resultsPath: string): { path: string; what: string }[] {
  return [
    { path: resultsPath, what: 'results file' },
    { path: statePath(resultsPath), what: 'run state' },
    { path: lockPath(resultsPath), what: 'lock' },
    { path: timelinePath(resultsPath), what: 'timeline' },
  ];
}

/** `x.results.csv` → the first of `x.results-2.csv`, `x.results-3.csv`… that does not exist. */
export function freshResultsPath(resultsPath: string): string {
  const name = basename(resultsPath);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  // An S3 object is not looked up (this is for a message): the first name that would follow it.
  if (isS3Url(resultsPath)) return `${resultsPath.slice(0, resultsPath.lastIndexOf('/') + 1)}${stem}-2${ext}`;
  for (let n = 2; ; n++) {
    const candidate = join(dirname(resultsPath), `${stem}-${n}${ext}`);
    if (!existsSync(candidate)) return candidate;
  }
}

/**
 * Refuses an output (`--summary-json`, a report page…) that would overwrite the run's input or one of
 * the files it owns: checked before the run starts, since those files may not exist yet.
 */
export async function checkOutputPath(
  output: string,
  flag: string,
  input: string | undefined,
  resultsPath: string,
  job?: string,
): Promise<void> {
  const owned = [
    ...(input && input !== '-' ? [{ path: input, what: 'input' }] : []),
    ...(job ? [{ path: job, what: 'job file' }] : []),
    ...runFiles(resultsPath),
  ];
  const target = await sameFileKey(output);
  for (const { path, what } of owned) {
    if (target === (await sameFileKey(path))) {
      throw new UsageError(`${flag} ${output} is this run's ${what}: it would be overwritten. Pass another path`);
    }
  }
}

/**
 * A key equal for two names of one file: its device and inode when it exists, else its absolute path through real
 * folders.
 */
async function sameFileKey(path: string): Promise<string> {
  try {
    const st = await stat(path);
    return `inode:${st.dev}:${st.ino}`;
  } catch {
    const absolute = resolvePath(path);
    const folder = await realpath(dirname(absolute)).catch(() => dirname(absolute));
    return `path:${join(folder, basename(absolute))}`;
  }
}

/**
 * The results path every run on the same file agrees on: symbolic links resolved, so that
 * `--results alias.csv → real.csv` shares real.csv's lock and run state. A path that does not
 * exist yet resolves through its folder. A link whose target does not exist is refused: creating
 * through it would write wherever it points.
 */
export async function canonicalResultsPath(path: string): Promise<string> {
  const info = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new UsageError(`cannot use --results ${path}: ${describeErrno(err)}`, { cause: err });
  });
  if (!info) {
    const dir = await realpath(dirname(path)).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(
        `cannot create the results file ${path}: its ` +
          `folder ${dirname(path)} ${err.code === 'ENOENT' ? 'does not exist' : `is unusable (${describeErrno(err)})`}`,
        { cause: err },
      );
    });
    return join(dir, basename(path));
  }
  return realpath(path).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(
      `--results ${path} is a symbolic link ` +
        `to ${err.code === 'ENOENT' ? 'nothing' : `something unusable (${describeErrno(err)})`}: remove it or pass ` +
        `the real file`,
      { cause: err },
    );
  });
}

/** Opens an existing file with `flags` (one of the constants above); refuses anything but a regular file. */
export async function openRegular(path: string, flags: number, what: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, flags);
  } catch (err) {
    throw openError(path, err, what);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw notRegular(path, what);
  }
  return handle;
}

/** The synchronous twin of openRegular (the results writer writes synchronously). */
export function openRegularSync(path: string, flags: number, what: string, mode = OWNER_ONLY): number {
  let fd: number;
  try {
    fd = openSync(path, flags, mode);
  } catch (err) {
    throw openError(path, err, what);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw notRegular(path, what);
  }
  return fd;
}

/**
 * Writes all of `data` at the file's end, looping over short writes (a write(2) on a filling disk may
 * write part and return). Throws ResultsWriteError with how much was written: a failed row is never
 * counted as written.
 */
export function writeAllSync(fd: number, data: string | Uint8Array, path: string): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let done = 0;
  try {
    while (done < buf.length) {
      const n = writeSync(fd, buf, done, buf.length - done);
      if (n <= 0) throw Object.assign(new Error('short write'), { code: 'EIO' });
      done += n;
    }
  } catch (err) {
    throw new ResultsWriteError(path, err, done);
  }
}

/**
 * Replaces `path` with `text` whole: written to `<path>.tmp` (created fresh, owner-only, never through
 * a link), synced, then renamed over `path` — a crash leaves the old file or the new one, never half.
 * A leftover `.tmp` (a crash, or something planted there) is removed first: unlink removes a link
 * itself, never its target.
 */
export async function replaceFileAtomically(path: string, text: string, what = 'run state'): Promise<void> {
  const tmp = `${path}.tmp`;
  await unlink(tmp).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT')
      throw new UsageError(`cannot remove the leftover ${tmp}: ${describeErrno(err)}`, { cause: err });
  });
  let fd: number;
  try {
    fd = openSync(tmp, CREATE_NEW, OWNER_ONLY);
  } catch (err) {
    throw openError(tmp, err, what);
  }
  try {
    writeAllSync(fd, text, tmp);
    syncAndClose(fd, tmp);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  await rename(tmp, path).catch((err: unknown) => {
    throw new ResultsWriteError(path, err, 0);
  });
}

/** fsync then close; a failed fsync (data that never reached the disk) is a failed write. */
export function syncAndClose(fd: number, path: string): void {
  try {
    fsyncSync(fd);
  } catch (err) {
    throw new ResultsWriteError(path, err, 0);
  }
  closeSync(fd);
}

function openError(path: string, err: unknown, what: string): UsageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EEXIST')
    return new UsageError(`cannot create the ${what} ${path}: something already exists at that name`, { cause: err });
  if (code === 'ELOOP')
    return new UsageError(
      `refusing the ${what} ${path}: it is a symbolic link (this tool never writes through one; pass the real path)`,
      { cause: err },
    );
  return new UsageError(`cannot open the ${what} ${path}: ${describeErrno(err)}`, { cause: err });
}

export function notRegular(path: string, what: string): UsageError {
  return new UsageError(
    `refusing the ${what} ${path}: it is not a regular file (a FIFO, device or folder is in its place); move it away`,
  );
}

/**
 * The first bytes of an existing regular file as text, or undefined when nothing is there; for
 * refusing to overwrite a file that is not what we would write (an input, a results file). Never
 * blocks on a FIFO: anything but a regular file is refused.
 */
export function headOf(path: string, what: string, bytes = 64): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, READ);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw openError(path, err, what);
  }
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(path, what);
    const buf = Buffer.alloc(bytes);
    return buf
      .subarray(0, readSync(fd, buf, 0, bytes, 0))
      .toString('utf8')
      .replace(/^\uFEFF/, '');
  } finally {
    closeSync(fd);
  }
}
