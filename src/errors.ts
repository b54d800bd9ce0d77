/**
 * Typed errors. Only cli.ts turns them into exit codes; library callers can catch them by class.
 * Messages never carry customer data (task names, descriptions, attribute values): they name
 * the line and column instead.
 */
export class LoaderError extends Error {
  /** The exit code SPEC.md assigns to this kind of failure. */
  readonly exitCode: number = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Wrong flags, a bad job file, a missing required option: nothing was sent. Exit 2. */
export class UsageError extends LoaderError {}

/** The input cannot be read or parsed (missing file, broken encoding, unclosed quote). Exit 2. */
export class InputError extends LoaderError {}

/** Another run holds the lock on this results file. Exit 4. */
export class LockedError extends LoaderError {
  override readonly exitCode = 4;
}

/**
 * Writing the results file (or the run state) failed — a full disk, a quota, an I/O error. The run
 * stopped sending at the first failed write; rows not recorded are sent again with the same
 * ClientTokens by `--resume`. Exit 3, like any interrupted run.
 */
export class ResultsWriteError extends LoaderError {
  override readonly exitCode = 3;
  /** The errno of the failure (ENOSPC, EDQUOT, EIO…), when there is one. */
  readonly code: string | undefined;
  constructor(path: string, cause: unknown, bytesWritten: number) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    super(
      `cannot write ${path}: ${describeErrno(cause)}` +
        `${bytesWritten ? ` (after ${bytesWritten} bytes of a row: --resume repairs that torn row)` : ''}. ` +
        'Sending stopped at the first failed write; every row recorded so far stands. ' +
        'Free some space (or fix the cause), ' +
        'then run the same command with --resume: rows not recorded are sent again with the same ClientTokens, ' +
        'so no task is created twice.',
      { cause },
    );
    this.code = code;
  }
}

/** Stopped (a signal) before anything was sent, e.g. while standard input was being read. Exit 3. */
export class StoppedError extends LoaderError {
  override readonly exitCode = 3;
}

/**
 * The results file was deleted, replaced or cut short while the run wrote it: the rows it recorded
 * are gone with it. Exit 3: the run stopped; the message says how to go on without a second task.
 */
export class ResultsLostError extends LoaderError {
  override readonly exitCode = 3;
}

/**
 * The results could not be saved to S3 (a checkpoint, the results object, the run state): the run
 * stopped sending. Rows not saved are sent again with the same ClientTokens by `--resume`. Exit 3.
 */
export class ResultsSaveError extends LoaderError {
  override readonly exitCode = 3;
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      `${message}. Sending stopped; every row saved so far stands. Run the same command with --resume once S3 ` +
        'answers: rows not saved are sent again with the same ClientTokens, so no task is created twice.',
      options,
    );
  }
}

/**
 * S3 did not answer (a refused connection, an unknown host, a reset, a timeout), or kept answering
 * 5xx or throttling through every retry: what the same command later may get past. Exit 3, as for an
 * endpoint that cannot be reached; a run stopped by it mid-file drains the rows in flight first.
 */
export class S3UnavailableError extends LoaderError {
  override readonly exitCode = 3;
  /** What failed, without the way on the message adds. */
  readonly reason: string;
  constructor(reason: string, options?: { cause?: unknown; next?: string }) {
    super(options?.next ? `${reason}. ${options.next}` : reason, options);
    this.reason = reason;
  }
}

/**
 * This run's lock (or S3 lease) was taken over: it was frozen or cut off for longer than a lock stays
 * fresh. Exit 4.
 */
export class LockLostError extends LoaderError {
  override readonly exitCode = 4;
}

/** An errno as a person reads it: "disk full (ENOSPC)". */
export function describeErrno(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (!code) return String((err as Error | undefined)?.message ?? err);
  return PLAIN_ERRNO[code] ? `${PLAIN_ERRNO[code]} (${code})` : code;
}

const PLAIN_ERRNO: Record<string, string> = {
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for this system or its limits',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'it is a symbolic link',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  ENXIO: 'it is a FIFO or device with no one at the other end',
};
