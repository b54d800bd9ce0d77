/**
 * Decoded text → the raw text of each CSV record, with the line it starts on. Only the record
 * *boundaries* are found here (a line break outside quotes); the cells are csv-parse's job (read.ts).
 *
 * Why not let csv-parse find them: it stops the whole stream at the first record it cannot read, so
 * one oversized record or stray quote used to end the file. Finding boundaries needs only RFC 4180's
 * quote rule (a quote opens a quoted cell only at the start of a cell; inside one, `""` is a quote and
 * a lone `"` closes it), so a bad record can be cut out exactly and the next one read.
 *
 * Memory is bounded: a record over `maxBytes` (UTF-8 bytes, as Connect counts sizes) is not kept. Its text is dropped as soon as it
 * passes the limit and the scan goes on, keeping only the quote state, to the next line break outside
 * quotes; the record is then handed over as `tooLarge` with its line and size.
 *
 * Lines are counted as `wc -l`, `grep -n` and editors' "go to line" do with CSV: by `\n` (so `\r\n`
 * counts once, also inside a quoted cell, and a lone `\r` inside a cell does not start a line).
 */

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

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted cell: the next character says whether it closed the cell or was `""`. */
  QuoteInQuoted,
}

/**
 * Splits a stream of text into records. `end()` must be called after the last `push()` to get the
 * last record (a file need not end with a line break).
 */
export class RecordSplitter {
  private state = State.FieldStart;
  /** Pieces of the current record's text (from earlier chunks). */
  private pieces: string[] = [];
  /** `bytes` where the current record began. */
  private recordStart = 0;
  private tooLarge = false;
  private line = 1;
  private startLine = 1;
  private quoteLine = 1;
  private bytes = 0;
  private readonly delimiter: number;

  constructor(delimiter: string, private readonly maxBytes: number) {
    this.delimiter = delimiter.charCodeAt(0);
  }

  /** The line the reader is on (where the next undecodable byte would be). */
  get currentLine(): number {
    return this.line;
  }

  /** Feeds a chunk of text; returns the records it completed, in order. */
  push(chunk: string): RawRecord[] {
    const out: RawRecord[] = [];
    let start = 0; // where the current record's text begins in this chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      this.bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
      if (this.state === State.QuoteInQuoted) {
        if (c === QUOTE) {
          this.state = State.Quoted; // `""`: a quote inside the cell
          continue;
        }
        this.state = State.Unquoted; // the cell closed; this character is read as after it
      }
      if (this.state === State.Quoted) {
        if (c === QUOTE) this.state = State.QuoteInQuoted;
        else if (c === LF) this.line++;
        continue;
      }
      if (c === LF) {
        const record = this.take(chunk, start, i, 1);
        start = i + 1;
        this.line++;
        this.startLine = this.line;
        if (record) out.push(record);
        continue;
      }
      if (c === this.delimiter) this.state = State.FieldStart;
      else if (c === QUOTE && this.state === State.FieldStart) {
        this.state = State.Quoted;
        this.quoteLine = this.line;
      } else if (this.state === State.FieldStart) this.state = State.Unquoted;
      // A quote inside an unquoted cell stays text here; csv-parse names it when it reads the cells.
    }
    this.keep(chunk, start, chunk.length);
    return out;
  }

  /** The last record, if the input did not end with a line break. */
  end(): RawRecord | undefined {
    if (this.state === State.Quoted) {
      const record: RawRecord = { line: this.startLine, unclosedQuote: { openedAt: this.quoteLine }, endByte: this.bytes };
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
    if (text.charCodeAt(text.length - 1) === CR) text = text.slice(0, -1); // `\r\n` ends the record
    const line = this.startLine;
    this.reset();
    if (tooLarge) return { line, tooLarge: { bytes }, endByte: this.bytes };
    // A blank line is no record (csv-parse's skip_empty_lines); `""` or spaces are one.
    return text ? { line, text, endByte: this.bytes } : undefined;
  }

  private reset(): void {
    this.state = State.FieldStart;
    this.pieces = [];
    this.recordStart = this.bytes;
    this.tooLarge = false;
  }
}
