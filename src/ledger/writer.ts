/**
 * Stage 6 — record. The results CSV: every input column in input order, then the `Result.*` columns.
 * Each row is appended (O_APPEND) with one write(2) as soon as it is final, so a crash loses at most
 * the row being written (and --resume repairs a torn last line). A write that fails or comes up short
 * (a full disk) throws ResultsWriteError, and the writer writes nothing after it: a later row must
 * never land behind a torn one. The file holds customer data copied from the input, so it is created
 * readable by its owner only, and never through a symbolic link (see files.ts).
 */
import { closeSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.js';
import { APPEND_EXISTING, CREATE_NEW, openRegularSync, syncAndClose, writeAllSync } from './files.js';
import type { RowResult } from '../types.js';

/** A cell csv-stringify would quote: it holds the delimiter, a quote, or a line break. */
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One results row as CSV. Most rows hold no cell that needs quoting, and for those csv-stringify's
 * output is the cells joined by commas: that is written directly, because a row of 100,000 cells
 * costs csv-stringify ~30 ms (its per-cell work). Any other row goes through csv-stringify.
 * (A row has at least the seven Result columns, so the one-empty-cell case never arises.)
 */
export function csvLine(cells: string[]): string {
  for (const cell of cells) {
    if (NEEDS_QUOTES.test(cell)) return stringify([cells], { record_delimiter: 'unix', quoted_match: /[\r\n]/ });
  }
  return `${cells.join(',')}\n`;
}

export const RESULT_COLUMNS = [
  'Result.Line', 'Result.Status', 'Result.ContactId', 'Result.ClientToken',
  'Result.Attempts', 'Result.ErrorCode', 'Result.ErrorMessage',
] as const;

export const isResultColumn = (name: string) => name.startsWith('Result.');

/**
 * Where `rerun` writes: `x.results.csv` → `x.results.rerun-1.csv`, and a rerun of that →
 * `x.results.rerun-2.csv`, beside the file being rerun.
 */
export function rerunResultsPath(resultsPath: string): string {
  const dir = dirname(resultsPath);
  let name = basename(resultsPath);
  if (name.endsWith('.csv')) name = name.slice(0, -4);
  const m = /^(.*)\.rerun-(\d+)$/.exec(name);
  return join(dir, m ? `${m[1]}.rerun-${Number(m[2]) + 1}.csv` : `${name}.rerun-1.csv`);
}

/** `<input without extension>.results.csv` beside the input (`x.csv.gz` → `x.results.csv`). */
export function defaultResultsPath(input: string): string {
  if (input === '-') throw new UsageError('reading standard input needs --results <file>');
  let name = basename(input);
  if (name.endsWith('.gz')) name = name.slice(0, -3);
  const ext = extname(name);
  if (ext) name = name.slice(0, -ext.length);
  return join(dirname(input), `${name}.results.csv`);
}

export class ResultsWriter {
  private fd: number | undefined;
  /** The first failed write: every later write throws it again. */
  private failure: Error | undefined;
  /** Called before each write; throws to refuse it (the run lost its lock). */
  private guard: () => void = () => undefined;
  /** Input columns carried over: all but `Result.*` ones (a results file fed back in gets fresh ones). */
  private readonly carried: number[];
  readonly header: string[];

  private constructor(private readonly path: string, fd: number, inputHeader: string[], writeHeader: boolean) {
    this.fd = fd;
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
  static create(path: string, inputHeader: string[], guard?: () => void): ResultsWriter {
    guard?.();
    let fd: number;
    try {
      fd = openRegularSync(path, CREATE_NEW, 'results file');
    } catch (err) {
      if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'EEXIST') {
        throw new UsageError(`results file ${path} already exists: add --resume to continue that run, or pass another --results`);
      }
      throw err;
    }
    return new ResultsWriter(path, fd, inputHeader, true).guarded(guard);
  }

  /**
   * Opens an existing results file (already repaired by readLedger) to append to it. Its header must
   * be the one this input produces, or the rows would not line up.
   */
  static append(path: string, inputHeader: string[], existingHeader: string[], guard?: () => void): ResultsWriter {
    const writer = new ResultsWriter(path, openRegularSync(path, APPEND_EXISTING, 'results file'), inputHeader, false).guarded(guard);
    if (writer.header.join('\u0000') !== existingHeader.join('\u0000')) {
      writer.close();
      throw new UsageError(`results file ${path} has other columns than this input produces: was it made from another file?`);
    }
    return writer;
  }

  write(values: string[], result: RowResult): void {
    const carried = this.carried.map((i) => values[i] ?? '');
    this.writeLine([
      ...carried,
      String(result.line),
      result.status,
      result.contactId ?? '',
      result.clientToken ?? '',
      String(result.attempts),
      result.errorCode ?? '',
      result.errorMessage ?? '',
    ]);
  }

  /** Syncs and closes; throws ResultsWriteError when the data did not reach the disk. */
  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    if (this.failure) return closeSync(fd);
    syncAndClose(fd, this.path);
  }

  private guarded(guard: (() => void) | undefined): this {
    if (guard) this.guard = guard;
    return this;
  }

  private writeLine(cells: string[]): void {
    if (this.failure) throw this.failure;
    if (this.fd === undefined) throw new Error('results file is closed');
    this.guard();
    try {
      // No formula escaping: the file is data that is fed back in, and a changed cell would change the row.
      // Any cell holding a CR or LF is quoted (csv-stringify quotes only the record delimiter by
      // itself), so that no CSV reader splits the row at a lone CR.
      writeAllSync(this.fd, csvLine(cells), this.path);
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }
}
