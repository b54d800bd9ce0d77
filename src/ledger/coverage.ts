/**
 * Before a rerun sends anything: is this results file still the whole record of its run? A row
 * deleted in a spreadsheet would silently never be sent; a status cell edited to something the tool
 * never writes would silently be neither sent nor counted. So: as many rows as the run recorded,
 * each `Result.Line` once, and every status one the tool writes (stray spaces and case forgiven).
 * The file is read as the tool always writes it — UTF-8, comma-separated — whatever the input was.
 */
import { createReadStream } from 'node:fs';
import { Parser, type Info } from 'csv-parse';
import { UsageError } from '../errors.js';
import type { RowStatus } from '../types.js';

const STATUSES: ReadonlySet<string> = new Set<RowStatus>(['created', 'failed', 'invalid', 'planned']);

/** A status cell as the tool reads it: trimmed and lower-cased; undefined when it is not one of ours. */
export function normaliseStatus(cell: string | undefined): RowStatus | undefined {
  const s = (cell ?? '').trim().toLowerCase();
  return STATUSES.has(s) ? (s as RowStatus) : undefined;
}

/** Throws a UsageError naming the line of the first problem, or the count that does not match. */
export async function checkCoverage(path: string, expectedRows: number | undefined, way: string): Promise<void> {
  const parser = createReadStream(path).pipe(new Parser({ bom: true, info: true, relax_column_count: true, record_delimiter: ['\r\n', '\n'], skip_empty_lines: true }));
  let lineCol = -1;
  let statusCol = -1;
  let rows = 0;
  let nextLine = 1;
  const seen = new BitSet();
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const at = nextLine;
      nextLine = info.lines + 1;
      if (lineCol === -1) {
        lineCol = record.lastIndexOf('Result.Line');
        statusCol = record.lastIndexOf('Result.Status');
        if (lineCol === -1 || statusCol === -1) throw new UsageError(`${path} is not a results file: it has no Result.Line and Result.Status columns (rerun takes the results file of a run)`);
        continue;
      }
      rows++;
      const line = Number((record[lineCol] ?? '').trim());
      if (!Number.isInteger(line) || line < 2) throw new UsageError(`line ${at} of ${path}: Result.Line does not hold an input line number. ${way}`);
      if (seen.has(line)) throw new UsageError(`line ${at} of ${path}: a second row for input line ${line}. ${way}`);
      seen.add(line);
      if (!normaliseStatus(record[statusCol])) {
        throw new UsageError(`line ${at} of ${path} (input line ${line}): Result.Status must be one of created, failed, invalid, planned. Correct the cell and rerun`);
      }
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const e = err as { code?: string; lines?: number };
    throw new UsageError(`${path} is not a well-formed CSV near line ${e.lines ?? nextLine} (${e.code ?? 'parse error'}): was it edited? ${way}`);
  }
  if (lineCol === -1) throw new UsageError(`${path} is empty: it holds no results header`);
  if (expectedRows !== undefined && rows !== expectedRows) {
    throw new UsageError(
      `${path} holds ${rows} rows, but the run that wrote it recorded ${expectedRows}: rows were ${rows < expectedRows ? 'removed' : 'added'} since ` +
        `(e.g. in a spreadsheet), and a rerun would ${rows < expectedRows ? 'never send the missing ones' : 'send rows it cannot place'}. ${way}`,
    );
  }
}

const FAR = 1 << 27;

/** A growable set of small non-negative integers: one bit per input line, so a million rows cost ~128 KB. */
class BitSet {
  private bits = new Uint8Array(1024);
  /** Line numbers past any real file's (a hand-typed 1e9) are kept apart, so the bits stay small. */
  private readonly far = new Set<number>();

  has(n: number): boolean {
    if (n >= FAR) return this.far.has(n);
    return n >> 3 < this.bits.length && (this.bits[n >> 3]! & (1 << (n & 7))) !== 0;
  }

  add(n: number): void {
    if (n >= FAR) {
      this.far.add(n);
      return;
    }
    if (n >> 3 >= this.bits.length) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, (n >> 3) + 1));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[n >> 3]! |= 1 << (n & 7);
  }
}
