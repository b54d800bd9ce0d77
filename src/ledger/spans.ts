/**
 * The rows of results files as byte spans, for `merge`, so that a merge holds a few bytes per line
 * instead of the rows themselves.
 *
 * `scanSpans` accepts a file only when every record in it is exactly what csv-stringify (as merge
 * writes) would make of what csv-parse (`bom`, `relax_column_count`) reads from it: LF line ends,
 * cells quoted exactly when they hold a quote, comma, CR or LF, valid UTF-8. The results writer
 * writes nothing else, so merge copies such records byte for byte. Anything else — CRLF or needless
 * quotes from a spreadsheet, a torn last line, a stray quote, UTF-16, invalid UTF-8 — makes it say
 * no, and `normalise` reads that file with csv-parse itself and writes it canonical into a private
 * temporary file, which then scans (the old whole-file merge's reading, refusals and output, exactly).
 *
 * `LineIndex` is, per `Result.Line`, which part holds the line's row, where and how long its record
 * is, and its status: 17 bytes a line in typed arrays indexed by line.
 */
import { isUtf8 } from 'node:buffer';
import { createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { CsvScanner, ESCAPED, MORE, QUOTED, RECORD } from '../csv/scan.js';
import { UsageError } from '../errors.js';

/** How merge reads results files (csv-parse) and writes the merged one (csv-stringify). */
const PARSE = { relax_column_count: true, bom: true } as const;
export const STRINGIFY = { record_delimiter: 'unix', quoted_match: /[\r\n]/ } as const;

/** The `Result.Status` values merge counts, by their index in a LineIndex; 0: any other. */
export const STATUSES = ['', 'created', 'failed', 'invalid', 'planned', 'filtered'] as const;
const WORDS = STATUSES.map((s) => Buffer.from(s));

export interface SpanSink {
  /** The first record, whole. Returns the columns of `Result.Line` and `Result.Status` (-1: none). */
  header(cells: string[]): { line: number; status: number };
  /**
   * Every later record: its file offset and byte length (line end included), `Number()` of its
   * Result.Line cell (NaN when the row has none), and its status index.
   */
  row(start: number, length: number, line: number, status: number): void;
}

const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Hands every record of the file to `sink`, in order. False as soon as the file is not plain (see
 * above): what was handed over until then is the same as csv-parse's first records, but the caller
 * must read the file again through `normalise`.
 */
export async function scanSpans(handle: FileHandle, sink: SpanSink, chunk = 1 << 20): Promise<boolean> {
  // Strict, with `\r` outside quotes odd: only LF line ends.
  const scanner = new CsvScanner({ strict: true, crOutsideQuotes: false });
  // A UTF-8 BOM is dropped, as csv-parse's `bom` does; a UTF-16 one makes csv-parse read UTF-16.
  const head = await scanner.open(handle, chunk);
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return false;
  let cols: { line: number; status: number } | undefined;
  for (;;) {
    const token = scanner.next();
    if (token === MORE) {
      if (!(await scanner.read())) return scanner.between; // else a torn last record
      continue;
    }
    // An empty line is a record of one empty cell here, as csv-parse reads it.
    if (token !== RECORD || !canonical(scanner)) return false;
    if (!cols) {
      cols = sink.header(Array.from({ length: scanner.width }, (_, i) => scanner.cell(i)));
      continue;
    }
    const { buf, starts, ends, flags, width, recordStart } = scanner;
    const { line: l, status: s } = cols;
    const line = l < 0 || l >= width ? NaN : (number(buf, starts[l]!, ends[l]!, flags[l]!) ?? Number(scanner.cell(l)));
    sink.row(
      scanner.base + recordStart,
      scanner.pos - recordStart,
      line,
      s < 0 || s >= width || flags[s]! & ESCAPED ? 0 : statusOf(buf, starts[s]!, ends[s]!),
    );
  }
}

/** What csv-stringify would write as it is: valid UTF-8, a cell quoted only when it needs to be. */
function canonical(scanner: CsvScanner): boolean {
  const { buf, starts, ends, flags, width } = scanner;
  // csv-parse would write U+FFFD in its place
  if (!isUtf8(buf.subarray(scanner.recordStart, scanner.pos))) return false;
  for (let i = 0; i < width; i++) if (flags[i] === QUOTED && !holdsSeparator(buf, starts[i]!, ends[i]!)) return false;
  return true;
}

function holdsSeparator(buf: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const c = buf[k];
    if (c === COMMA || c === LF || c === CR) return true;
  }
  return false;
}

/** A cell of plain digits as a number (what `Number()` makes of it); undefined for anything else. */
function number(buf: Buffer, from: number, to: number, flags: number): number | undefined {
  if (flags & ESCAPED || to === from || to - from > 15) return undefined;
  let value = 0;
  for (let k = from; k < to; k++) {
    const d = buf[k]! - 0x30;
    if (d < 0 || d > 9) return undefined;
    value = value * 10 + d;
  }
  return value;
}

function statusOf(buf: Buffer, from: number, to: number): number {
  for (let s = 1; s < WORDS.length; s++)
    if (WORDS[s]!.length === to - from && WORDS[s]!.compare(buf, from, to) === 0) return s;
  return 0;
}

/** Writes `handle`'s file as csv-parse reads it and csv-stringify writes it into `to` (created owner-only). */
export async function normalise(handle: FileHandle, to: string, name: string): Promise<void> {
  try {
    await pipeline(
      handle.createReadStream({ start: 0, autoClose: false }),
      parse(PARSE),
      stringify(STRINGIFY),
      createWriteStream(to, { flags: 'wx', mode: 0o600 }),
    );
  } catch (err) {
    // csv-parse's own message may quote the cell (customer data): the file, the line and the code only.
    if (!(err instanceof CsvError)) throw err;
    throw new UsageError(
      `${name} is not a readable results file: broken CSV at line ${err.lines ?? '?'} (${err.code}); fix that ` +
        `row or pass the file as its run left it`,
    );
  }
}

/**
 * Per `Result.Line`: the part holding its row (+1; 0 = none), the record's offset and length, its
 * status. Lines are indexed directly; the odd line far beyond the rows seen (a hand-edited
 * `Result.Line`, a negative one) is kept in a map instead, so that it cannot make the arrays huge.
 */
export class LineIndex {
  private part = new Int32Array(1024);
  private start = new Float64Array(1024);
  private length = new Uint32Array(1024);
  private status = new Uint8Array(1024);
  private readonly sparse = new Map<number, [part: number, start: number, length: number, status: number]>();
  private lines = 0;

  /** The part holding `line`'s row, +1; 0 when none does. */
  holder(line: number): number {
    if (line >= 0 && line < this.part.length && this.part[line]! !== 0) return this.part[line]!;
    return (this.sparse.get(line)?.[0] ?? -1) + 1;
  }

  set(line: number, part: number, start: number, length: number, status: number): void {
    line += 0; // -0 is line 0
    if (this.holder(line) === 0) this.lines++;
    if (this.sparse.has(line) || !(line >= 0 && line < Math.max(this.part.length, 65_536 + 16 * this.lines))) {
      this.sparse.set(line, [part, start, length, status]);
      return;
    }
    if (line >= this.part.length) this.grow(line);
    this.part[line] = part + 1;
    this.start[line] = start;
    this.length[line] = length;
    this.status[line] = status;
  }

  /** Calls `each` for every line's row, in line order. */
  forEach(each: (part: number, start: number, length: number, status: number) => void): void {
    const odd = [...this.sparse.keys()].sort((a, b) => a - b);
    let s = 0;
    const oddBefore = (line: number) => {
      for (; s < odd.length && odd[s]! < line; s++) each(...this.sparse.get(odd[s]!)!);
    };
    for (let line = 0; line < this.part.length; line++) {
      if (this.part[line] === 0) continue;
      oddBefore(line);
      each(this.part[line]! - 1, this.start[line]!, this.length[line]!, this.status[line]!);
    }
    oddBefore(Infinity);
  }

  private grow(line: number): void {
    let size = this.part.length * 2;
    while (size <= line) size *= 2;
    const part = new Int32Array(size);
    const start = new Float64Array(size);
    const length = new Uint32Array(size);
    const status = new Uint8Array(size);
    part.set(this.part);
    start.set(this.start);
    length.set(this.length);
    status.set(this.status);
    [this.part, this.start, this.length, this.status] = [part, start, length, status];
  }
}
