/**
 * Decoded text → the raw text of each CSV record, with the line it starts on. Only the record
 * *boundaries* are found here (a line break outside quotes); the cells are csv-parse's job (read.ts).
 *
 * Why not let csv-parse find them: it stops the whole stream at the first record it cannot read, so
 * one oversized record or stray quote used to end the file. Finding boundaries needs only RFC 4180's
 * quote rule (a quote opens a quoted cell only at the start of a cell; inside one, `""` is a quote and
 * a lone `"` closes it), so a bad record can be cut out exactly and the next one read. The CSV
 * scanner (csv/scan.ts, lenient) finds them in the text's UTF-8.
 *
 * Memory is bounded: a record over `maxBytes` (UTF-8 bytes, as Connect counts sizes) is not kept. Its text is dropped
 * as soon as it passes the limit and the scan goes on, keeping only the quote state, to the next line break outside
 * quotes; the record is then handed over as `tooLarge` with its line and size.
 *
 * Lines are counted as `wc -l`, `grep -n` and editors' "go to line" do with CSV: by `\n` (so `\r\n`
 * counts once, also inside a quoted cell, and a lone `\r` inside a cell does not start a line).
 */
import { CsvScanner, RECORD } from '../../csv/scan.js';

export interface RawRecord {
  /** Line where the record starts (1-based). */
  line: number;
  /** The record's text without its line break; absent when `tooLarge`. */
  text?: string;
  /** The record was over the size limit: its text was not kept. */
  tooLarge?: { bytes: number };
  /** The input ended inside a quoted cell that opened on this line (nothing after it can be read). */
  unclosedQuote?: { openedAt: number };
  /** UTF-8 bytes of decoded text up to the end of this record (for progress). */
  endByte: number;
}

/**
 * Splits a stream of text into records. `end()` must be called after the last `push()` to get the
 * last record (a file need not end with a line break). Chunks hold whole characters, as a
 * TextDecoder hands them over.
 */
export class RecordSplitter {
  private readonly scanner: CsvScanner;
  /** The chunk being split, as UTF-8 (the scanner's bytes). */
  private utf8 = Buffer.alloc(0);
  /** Pieces of the current record's text (from earlier chunks). */
  private pieces: string[] = [];
  /** `bytes` where the current record began. */
  private recordStart = 0;
  private tooLarge = false;
  private startLine = 1;
  /** UTF-8 bytes scanned. */
  private bytes = 0;

  constructor(
    delimiter: string,
    private readonly maxBytes: number,
  ) {
    this.scanner = new CsvScanner({ delimiter });
  }

  /** The line the reader is on (where the next undecodable byte would be). */
  get currentLine(): number {
    return this.scanner.line;
  }

  /** Feeds a chunk of text; returns the records it completed, in order. */
  push(chunk: string): RawRecord[] {
    const out: RawRecord[] = [];
    const scanner = this.scanner;
    // At most 3 UTF-8 bytes a UTF-16 unit.
    if (this.utf8.length < chunk.length * 3) this.utf8 = Buffer.allocUnsafe(chunk.length * 3);
    const length = this.utf8.write(chunk, 'utf8');
    scanner.feed(this.utf8, length);
    const before = this.bytes;
    // In ASCII text a byte offset is the text's offset; else a record's end is found as its `\n` in
    // the text (the scanner counts every `\n`), which is cheaper than decoding each record again.
    const ascii = length === chunk.length;
    let lines = scanner.line;
    let lf = -1;
    let start = 0; // where the current record's text begins in this chunk
    while (scanner.next() === RECORD) {
      if (ascii) lf = scanner.pos - 1;
      else for (; lines < scanner.line; lines++) lf = chunk.indexOf('\n', lf + 1);
      this.bytes = before + scanner.pos;
      const record = this.take(chunk, start, lf, 1);
      start = lf + 1;
      this.startLine = scanner.line;
      if (record) out.push(record);
    }
    this.bytes = before + length;
    this.keep(chunk, start, chunk.length);
    return out;
  }

  /** The last record, if the input did not end with a line break. */
  end(): RawRecord | undefined {
    if (this.scanner.inQuotes) {
      const record: RawRecord = {
        line: this.startLine,
        unclosedQuote: { openedAt: this.scanner.quoteLine },
        endByte: this.bytes,
      };
      this.reset();
      return record;
    }
    return this.take('', 0, 0, 0);
  }

  /** Adds chunk[start, end) to the current record, or only counts it once the record is too large. */
  private keep(chunk: string, start: number, end: number, lineBreak = 0): void {
    if (this.tooLarge) return;
    if (this.bytes - lineBreak - this.recordStart > this.maxBytes) {
      this.tooLarge = true;
      this.pieces = []; // release it: an oversized record is never held whole
      return;
    }
    if (end > start) this.pieces.push(chunk.slice(start, end));
  }

  /** Ends the current record at chunk[start, end) (a line break follows, or the input ends). */
  private take(chunk: string, start: number, end: number, lineBreak: number): RawRecord | undefined {
    this.keep(chunk, start, end, lineBreak);
    const tooLarge = this.tooLarge;
    const bytes = this.bytes - lineBreak - this.recordStart;
    let text = tooLarge ? '' : this.pieces.join('');
    if (text.endsWith('\r')) text = text.slice(0, -1); // `\r\n` ends the record
    const line = this.startLine;
    this.reset();
    if (tooLarge) return { line, tooLarge: { bytes }, endByte: this.bytes };
    // A blank line is no record (csv-parse's skip_empty_lines); `""` or spaces are one.
    return text ? { line, text, endByte: this.bytes } : undefined;
  }

  private reset(): void {
    this.pieces = [];
    this.recordStart = this.bytes;
    this.tooLarge = false;
  }
}
