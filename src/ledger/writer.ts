/**
 * Stage 6 — record. The results CSV: every input column in input order, then the `Result.*` columns.
 * Each row is written with one write(2) as soon as it is final, so a crash loses at most the row
 * being written (and --resume repairs a torn last line). The file holds customer data copied from the
 * input, so it is created readable by its owner only.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.js';
import type { RowResult } from '../types.js';

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
  /** Input columns carried over: all but `Result.*` ones (a results file fed back in gets fresh ones). */
  private readonly carried: number[];
  readonly header: string[];

  private constructor(fd: number, inputHeader: string[], writeHeader: boolean) {
    this.fd = fd;
    this.carried = inputHeader.flatMap((name, i) => (isResultColumn(name) ? [] : [i]));
    this.header = [...this.carried.map((i) => inputHeader[i]!), ...RESULT_COLUMNS];
    if (writeHeader) this.writeLine(this.header);
  }

  /**
   * Creates `path` (owner read/write only). Refuses to replace an existing file: it is the ledger of
   * an earlier run, and --resume is how to continue it.
   */
  static create(path: string, inputHeader: string[]): ResultsWriter {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new UsageError(`results file ${path} already exists: add --resume to continue that run, or pass another --results`);
      }
      throw new UsageError(`cannot create results file ${path}: ${code ?? String(err)}`);
    }
    return new ResultsWriter(fd, inputHeader, true);
  }

  /**
   * Opens an existing results file (already repaired by readLedger) to append to it. Its header must
   * be the one this input produces, or the rows would not line up.
   */
  static append(path: string, inputHeader: string[], existingHeader: string[]): ResultsWriter {
    const writer = new ResultsWriter(openSync(path, 'a', 0o600), inputHeader, false);
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

  close(): void {
    if (this.fd === undefined) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
  }

  private writeLine(cells: string[]): void {
    if (this.fd === undefined) throw new Error('results file is closed');
    // No formula escaping: the file is data that is fed back in, and a changed cell would change the row.
    // Any cell holding a CR or LF is quoted (csv-stringify quotes only the record delimiter by
    // itself), so that no CSV reader splits the row at a lone CR.
    writeSync(this.fd, stringify([cells], { record_delimiter: 'unix', quoted_match: /[\r\n]/ }));
  }
}
