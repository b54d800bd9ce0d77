/**
 * Stage 6 — record. The results CSV: every input column in input order, then the `Result.*` columns.
 * Rows are appended (O_APPEND) in group commits: the rows that become final in one turn of the event
 * loop (up to 64 KB of them) go out together in one write(2) at the turn's end. A row for which a
 * request was sent is counted as recorded only once its group is written (`commit` resolves then),
 * so a crash loses at most the rows of the group being written, which --resume sends again with the
 * same tokens (and it repairs a torn last line). One write per row cost as much CPU as the SDK's
 * signing of the request; a group is the rows whose answers came in the same turn. A row nothing was
 * sent for in this run (carried over by a rerun, or invalid) is not waited for: a rerun copies a
 * million rows in a few thousand writes, and a crash that loses them loses nothing that --resume
 * does not redo. A write that fails or comes up short (a full disk) throws
 * ResultsWriteError, and the writer writes nothing after it: a later row must never land behind a
 * torn one. The file holds customer data copied from the input, so it is created readable by its
 * owner only, and never through a symbolic link (see files.ts).
 */

import { closeSync, fstatSync, type Stats, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { ResultsLostError, UsageError } from '../errors.js';
import type { Shard } from '../input/shard.js';
import { isS3Url } from '../s3/url.js';
import type { RowResult } from '../types.js';
import { APPEND_EXISTING, CREATE_NEW, openRegularSync, syncAndClose, writeAllSync } from './files.js';

export const RESULT_COLUMNS = [
  'Result.Line',
  'Result.Status',
  'Result.ContactId',
  'Result.ClientToken',
  'Result.Attempts',
  'Result.ErrorCode',
  'Result.ErrorMessage',
] as const;

const isResultColumn = (name: string) => name.startsWith('Result.');

/**
 * Throws to refuse a write (the run lost its lock). `recentMs`: a check that passed less than this
 * long ago stands, so a burst of writes costs one look at the disk, not one each.
 */
export type Guard = (recentMs?: number) => void;

/** How long a passed lock check covers routine writes: a run that lost its lock stops writing within this. */
const GUARD_RECENT_MS = 200;
/** Bytes of rows that may wait for the end of the turn, at most. */
const BATCH = 64 * 1024;

/**
 * Where `rerun` writes: `x.results.csv` → `x.results.rerun-1.csv`, and a rerun of that →
 * `x.results.rerun-2.csv`, beside the file being rerun.
 */
export function rerunResultsPath(resultsPath: string): string {
  let name = basename(resultsPath);
  if (name.endsWith('.csv')) name = name.slice(0, -4);
  const m = /^(.*)\.rerun-(\d+)$/.exec(name);
  const rerun = m ? `${m[1]}.rerun-${Number(m[2]) + 1}.csv` : `${name}.rerun-1.csv`;
  // Beside it, in S3 as on disk (path.join would fold the `//` of `s3://`).
  return isS3Url(resultsPath)
    ? `${resultsPath.slice(0, resultsPath.lastIndexOf('/') + 1)}${rerun}`
    : join(dirname(resultsPath), rerun);
}

/**
 * `<input without extension>.results.csv` beside the input (`x.csv.gz` → `x.results.csv`); for an S3
 * object, in the current folder: nothing is written into the bucket unless --results names it.
 */
function defaultResultsPath(input: string): string {
  if (input === '-') throw new UsageError('reading standard input needs --results <file>');
  let name = basename(input);
  if (name.endsWith('.gz')) name = name.slice(0, -3);
  const ext = extname(name);
  if (ext) name = name.slice(0, -ext.length);
  return join(isS3Url(input) ? '.' : dirname(input), `${name}.results.csv`);
}

/** `<input without extension>.shard-i-of-n.results.csv` beside the input; without a shard the usual name. */
function shardResultsPath(input: string, shard: Shard | undefined): string {
  const plain = defaultResultsPath(input);
  return shard ? plain.replace(/\.results\.csv$/, `.shard-${shard.index}-of-${shard.count}.results.csv`) : plain;
}

/**
 * Where a run or validate writes: `--results` as given; a folder or prefix (ending in `/`: `out/`,
 * `s3://bucket/results/`) holds the name {@link shardResultsPath} gives, so that every worker of an
 * array, all given the same environment, has a results file of its own, and a replaced one finds its own
 * again. Without `--results`, beside the input.
 */
export function runResultsPath(results: string | undefined, input: string, shard: Shard | undefined): string {
  if (results === undefined || !results.endsWith('/')) return results ?? shardResultsPath(input, shard);
  const name = basename(shardResultsPath(input, shard));
  // Appended, not joined: path.join would fold the `//` of `s3://`.
  return `${results}${name}`;
}

export class ResultsWriter {
  private fd: number | undefined;
  /** The first failed write: every later write throws it again. */
  private failure: Error | undefined;
  /** Called before each write; throws to refuse it (the run lost its lock). */
  private guard: Guard = () => undefined;
  /** Rows formatted and not yet written, as UTF-8: `waiting[0, used)`. Bytes, not a string, so that
   * rows waiting add no objects for the garbage collector to carry. */
  private waiting = Buffer.allocUnsafe(BATCH);
  private used = 0;
  private flushing: NodeJS.Immediate | undefined;
  /** The sent rows waiting in `waiting`: settled when their group is written (or fails to be). */
  private group: { done: Promise<void>; resolve: () => void; reject: (err: Error) => void } | undefined;
  /** A failure of a write at the end of a turn that no caller has seen yet: the next call throws it. */
  private unseen: Error | undefined;
  /** Bytes the file holds by this writer's account; a smaller file was cut short by someone else. */
  private size: number;
  private lastLook = 0;
  /** Input columns carried over: all but `Result.*` ones (a results file fed back in gets fresh ones). */
  private readonly carried: number[];
  readonly header: string[];

  private constructor(
    private readonly path: string,
    fd: number,
    inputHeader: string[],
    writeHeader: boolean,
  ) {
    this.fd = fd;
    this.size = fstatSync(fd).size;
    this.carried = inputHeader.flatMap((name, i) => (isResultColumn(name) ? [] : [i]));
    this.header = [...this.carried.map((i) => inputHeader[i]!), ...RESULT_COLUMNS];
    if (!writeHeader) return;
    try {
      this.writeLine(this.header);
    } catch (err) {
      // Nothing sent yet: leave no half-made results file behind.
      closeSync(fd);
      unlinkSync(path);
      throw err;
    }
  }

  /**
   * Creates `path` (owner read/write only). Refuses to replace an existing file: it is the ledger of
   * an earlier run, and --resume is how to continue it.
   */
  static create(path: string, inputHeader: string[], guard?: Guard): ResultsWriter {
    guard?.();
    let fd: number;
    try {
      fd = openRegularSync(path, CREATE_NEW, 'results file');
    } catch (err) {
      if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'EEXIST') {
        throw new UsageError(
          `results file ${path} already exists: add --resume to continue that run, or pass another --results`,
        );
      }
      throw err;
    }
    return new ResultsWriter(path, fd, inputHeader, true).guarded(guard);
  }

  /**
   * Opens an existing results file (already repaired by readLedger) to append to it. Its header must
   * be the one this input produces, or the rows would not line up.
   */
  static append(path: string, inputHeader: string[], existingHeader: string[], guard?: Guard): ResultsWriter {
    const writer = new ResultsWriter(
      path,
      openRegularSync(path, APPEND_EXISTING, 'results file'),
      inputHeader,
      false,
    ).guarded(guard);
    if (writer.header.join('\u0000') !== existingHeader.join('\u0000')) {
      writer.close();
      throw new UsageError(
        `results file ${path} has other columns than this input produces: was it made from another file?`,
      );
    }
    return writer;
  }

  /** Bytes of the file written whole so far (a row waiting for the end of its turn is not counted). */
  get bytes(): number {
    return this.size;
  }

  /**
   * Appends a row nothing was sent for in this run (carried over, invalid, planned): it waits for the
   * end of the turn, and a failed write shows as the next call's throw.
   */
  write(values: string[], result: RowResult): void {
    this.enqueue(values, result);
  }

  /**
   * Appends a row whose request was sent. Resolves once it is written, with the rest of its group at
   * the end of the turn; rejects with the group's write failure (a full disk, the lock lost).
   */
  commit(values: string[], result: RowResult): Promise<void> {
    this.enqueue(values, result);
    if (!this.used) return Promise.resolve(); // its group filled up and was written already
    return (this.group ??= settled()).done;
  }

  private enqueue(values: string[], result: RowResult): void {
    this.throwUnseen();
    if (this.failure) throw this.failure;
    let line = '';
    for (const i of this.carried) line += `${cell(values[i] ?? '')},`;
    line += `${result.line},${result.status},${cell(result.contactId ?? '')},`;
    line += `${cell(result.clientToken ?? '')},${result.attempts},`;
    line += `${cell(result.errorCode ?? '')},${cell(result.errorMessage ?? '')}\n`;
    this.add(line);
    if (this.used >= BATCH) return this.flush(GUARD_RECENT_MS);
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined;
      try {
        this.flush(GUARD_RECENT_MS);
      } catch (err) {
        // The group's rows are told by their promise; a row nothing was sent for, by the next call.
        this.unseen = err as Error;
      }
    });
  }

  /** Writes the rows waiting, syncs and closes; throws ResultsWriteError when the data did not reach the disk. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    try {
      if (this.flushing) clearImmediate(this.flushing);
      this.throwUnseen();
      if (!this.failure) this.flush(0); // the last rows: the lock is checked whatever the time since the last look
      if (!this.failure) this.checkStillOurs(0);
    } catch (err) {
      this.fd = undefined;
      closeSync(fd);
      throw err;
    }
    this.fd = undefined;
    if (this.failure) return closeSync(fd);
    syncAndClose(fd, this.path);
  }

  /**
   * The file at the results path is still the one this writer holds open, and no shorter than what
   * it wrote: a file deleted, replaced or truncated under a run would otherwise take the rows it
   * recorded with it while the run went on to exit 0. Looked at as often as the lock.
   */
  private checkStillOurs(recentMs: number): void {
    const now = performance.now();
    if (recentMs > 0 && now - this.lastLook < recentMs) return;
    this.lastLook = now;
    const own = fstatSync(this.fd!);
    let named: Stats | undefined;
    try {
      named = statSync(this.path);
    } catch {
      named = undefined;
    }
    const what =
      !named || named.ino !== own.ino || named.dev !== own.dev
        ? 'deleted or replaced'
        : own.size < this.size
          ? 'cut short'
          : own.size > this.size
            ? 'written to by something else'
            : undefined;
    if (!what) return;
    this.failure = new ResultsLostError(
      `the results file ${this.path} was ${what} while this run wrote it: it no longer holds just the rows this ` +
        `run recorded, so the run stopped. ` +
        'Rows sent before keep their ClientTokens: run the same command into a new --results (same input, same ' +
        'settings and --token-namespace) ' +
        'and the service recognises the tasks already created instead of creating them twice',
    );
    throw this.failure;
  }

  private guarded(guard: Guard | undefined): this {
    if (guard) this.guard = guard;
    return this;
  }

  private throwUnseen(): void {
    const err = this.unseen;
    this.unseen = undefined;
    if (err) throw err;
  }

  private writeLine(cells: string[]): void {
    this.add(`${cells.map(cell).join(',')}\n`);
    this.flush(0);
  }

  private add(text: string): void {
    const most = text.length * 3; // UTF-8 bytes a UTF-16 code unit can take, at most
    if (this.used + most > this.waiting.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.waiting.length * 2, this.used + most));
      this.waiting.copy(bigger, 0, 0, this.used);
      this.waiting = bigger;
    }
    this.used += this.waiting.write(text, this.used);
  }

  private flush(recentMs: number): void {
    const group = this.group;
    this.group = undefined;
    try {
      this.writeWaiting(recentMs);
    } catch (err) {
      group?.reject(err as Error);
      throw err;
    }
    group?.resolve();
  }

  private writeWaiting(recentMs: number): void {
    if (this.failure) throw this.failure;
    if (this.fd === undefined) throw new Error('results file is closed');
    if (!this.used) return;
    this.guard(recentMs);
    this.checkStillOurs(recentMs);
    const bytes = this.waiting.subarray(0, this.used);
    this.used = 0;
    try {
      writeAllSync(this.fd, bytes, this.path);
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
    this.size += bytes.length;
    if (this.waiting.length > 4 * BATCH) this.waiting = Buffer.allocUnsafe(BATCH); // after a huge row
  }
}

function settled(): { done: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const done = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { done, resolve, reject };
}

/**
 * One cell as csv-stringify writes it (test/ledger/writer.test.ts holds them equal): quoted when it
 * holds a comma, a quote, a CR or an LF, with quotes doubled. No formula escaping: the file is data
 * that is fed back in, and a changed cell would change the row. A lone CR is quoted too, so that no
 * CSV reader splits the row at it.
 */
function cell(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
const NEEDS_QUOTES = /[",\r\n]/;
