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

export const STATUSES: ReadonlySet<string> = new Set<RowStatus>([
  'created',
  'failed',
  'invalid',
  'filtered',
  'planned',
]);

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
export function checkCoverage(
  ledger: { rows: number; repeated?: { line: number; at: number } },
  path: string,
  expectedRows: number | undefined,
  way: string,
): void {
  if (ledger.repeated)
    throw new UsageError(
      `line ${ledger.repeated.at} of ${path}: a second row for input line ${ledger.repeated.line}. ${way}`,
    );
  const { rows } = ledger;
  if (expectedRows !== undefined && rows !== expectedRows) {
    throw new UsageError(
      `${path} holds ${rows} rows, but the run that wrote it recorded ${expectedRows}: rows ` +
        `were ${rows < expectedRows ? 'removed' : 'added'} since ` +
        `(e.g. in a spreadsheet), and a rerun ` +
        `would ${rows < expectedRows ? 'never send the missing ones' : 'send rows it cannot place'}. ${way}`,
    );
  }
}

/** Line numbers from here on (past any real file's: a hand-typed 1e9) are kept apart, so the arrays stay small. */
const FAR = 1 << 27;

/** A growable set of small non-negative integers: one bit per input line, so a million rows cost ~128 KB. */
export class LineSet {
  private bits = new Uint8Array(1024);
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

/** The final statuses, as 4-bit codes (0: no final row). */
const FINAL_CODES: readonly (RowStatus | undefined)[] = [undefined, 'created', 'failed', 'invalid', 'filtered'];

/**
 * Input line → the final status of its row: 4 bits per line, so the ledger of a 2,000,000-row file
 * costs 1 MB where a Map cost ~100 MB. A later row for a line replaces an earlier one.
 */
export class FinalStatuses {
  private codes = new Uint8Array(1024);
  private readonly far = new Map<number, RowStatus>();
  /** Lines with a final status. */
  size = 0;

  get(line: number): RowStatus | undefined {
    if (line >= FAR) return this.far.get(line);
    const byte = line >> 1;
    return byte < this.codes.length ? FINAL_CODES[(this.codes[byte]! >> ((line & 1) << 2)) & 15] : undefined;
  }

  /** Records `status` for `line`; a status that is not final (`planned`) is not kept. */
  set(line: number, status: RowStatus): void {
    const code = FINAL_CODES.indexOf(status);
    if (code <= 0) return;
    if (line >= FAR) {
      if (!this.far.has(line)) this.size++;
      this.far.set(line, status);
      return;
    }
    const byte = line >> 1;
    if (byte >= this.codes.length) {
      const grown = new Uint8Array(Math.max(this.codes.length * 2, byte + 1));
      grown.set(this.codes);
      this.codes = grown;
    }
    const shift = (line & 1) << 2;
    const old = this.codes[byte]!;
    if (((old >> shift) & 15) === 0) this.size++;
    this.codes[byte] = (old & ~(15 << shift)) | (code << shift);
  }
}
