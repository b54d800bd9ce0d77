/**
 * Before a rerun sends anything, or a run is called already done: is this results file (as
 * reader.ts read it) still the whole record of its run? A row
 * deleted in a spreadsheet would silently never be sent; a status cell edited to something the tool
 * never writes would silently be neither sent nor counted. So: as many rows as the run recorded,
 * each `Result.Line` once, and every status one the tool writes (stray spaces and case forgiven).
 * The file is read as the tool always writes it — UTF-8, comma-separated — whatever the input was.
 */
import { UsageError } from '../errors.js';
import type { RowStatus } from '../types.js';

const STATUSES: ReadonlySet<string> = new Set<RowStatus>(['created', 'failed', 'invalid', 'planned']);

/** A status cell as the tool reads it: trimmed and lower-cased; undefined when it is not one of ours. */
export function normaliseStatus(cell: string | undefined): RowStatus | undefined {
  const s = (cell ?? '').trim().toLowerCase();
  return STATUSES.has(s) ? (s as RowStatus) : undefined;
}

/**
 * Throws a UsageError when the ledger read from `path` is not the whole record of its run: a second
 * row for one input line, or another number of rows than the run recorded. (Rows that do not parse,
 * lack a line number or hold a status the tool never writes were refused while reading it.)
 */
export function checkCoverage(ledger: { rows: number; repeated?: { line: number; at: number } }, path: string, expectedRows: number | undefined, way: string): void {
  if (ledger.repeated) throw new UsageError(`line ${ledger.repeated.at} of ${path}: a second row for input line ${ledger.repeated.line}. ${way}`);
  const { rows } = ledger;
  if (expectedRows !== undefined && rows !== expectedRows) {
    throw new UsageError(
      `${path} holds ${rows} rows, but the run that wrote it recorded ${expectedRows}: rows were ${rows < expectedRows ? 'removed' : 'added'} since ` +
        `(e.g. in a spreadsheet), and a rerun would ${rows < expectedRows ? 'never send the missing ones' : 'send rows it cannot place'}. ${way}`,
    );
  }
}

const FAR = 1 << 27;

/** A growable set of small non-negative integers: one bit per input line, so a million rows cost ~128 KB. */
export class LineSet {
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
