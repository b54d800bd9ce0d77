/**
 * The one CSV scanner: where cells and records end, by RFC 4180's quote rule — a quote opens a
 * quoted cell only at the start of a cell; inside one, `""` is a quote and a lone `"` closes it; a
 * record ends at a `\n` outside quotes (a `\r` before it is not part of the last cell). The input
 * reader (input/csv/split.ts) and the ledger (ledger/scan.ts, ledger/spans.ts) read CSV with it.
 *
 * It scans UTF-8 bytes, not text (no byte of a multi-byte character is ASCII): the ledger decodes
 * only the cells it asks for, and the input reader has sizes in UTF-8 bytes as it goes.
 *
 * - Lenient (the input reader, `feed`ing it chunk by chunk): where records end, and lines; a quote
 *   inside an unquoted cell or text after a closing quote is text (csv-parse names it in the cells).
 * - Strict (the ledger, reading a file with `open` and `read`, which keep the current record whole
 *   in `buf`): every cell's place instead of lines, and `ODD` at the first thing csv-parse might
 *   read otherwise (those quotes; with `crOutsideQuotes: false`, any `\r` outside quotes), so that
 *   the caller either reads a file exactly as csv-parse does or knows it did not.
 *
 * It is pulled: `next()` runs to the end of a record (`RECORD`), of the bytes it has (`MORE`), or to
 * something odd (`ODD`: the scan is over).
 */
import type { FileHandle } from 'node:fs/promises';

/** `next()`: the bytes ran out; `feed` or `read` more. */
export const MORE = 0;
/** `next()`: a record ended at `pos - 1` (its `\n`); strict, its cells are `width`, `starts`… */
export const RECORD = 1;
/** `next()` (strict): `pos` is at something csv-parse might read otherwise; the scan is over. */
export const ODD = 2;

/** `flags` of a cell: it was quoted; it holds `""`. */
export const QUOTED = 1;
export const ESCAPED = 2;

export interface ScanOptions {
  /** One character; `,` by default. */
  delimiter?: string;
  /** Keep every cell's place, and stop at odd quotes (see above). */
  strict?: boolean;
  /** Strict: false makes a `\r` outside quotes odd (CRLF line ends included). */
  crOutsideQuotes?: boolean;
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const START = 0;
const PLAIN = 1;
const IN_QUOTES = 2;
/** A quote inside a quoted cell: the next byte says whether it closed the cell or was `""`. */
const QUOTE_IN_QUOTES = 3;
/** (Strict) `\r` after a closing quote: only `\n` may follow. */
const CR_AFTER_QUOTE = 4;

export class CsvScanner {
  /** The bytes scanned; `[0, len)` hold input. */
  buf: Buffer = Buffer.alloc(0);
  len = 0;
  /** The next byte to scan. */
  pos = 0;
  /** Where the current record (the one `RECORD` returned, else the one being scanned) starts in `buf`. */
  recordStart = 0;
  /** Strict: the current record's cells so far — content from `starts[i]` to `ends[i]`, `flags[i]`. */
  width = 0;
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  flags = new Uint8Array(64);
  /** Lenient: 1 + the `\n`s scanned (also inside quoted cells); the line the last quoted cell opened on. */
  line = 1;
  quoteLine = 1;
  /** Reading a file: the file offset of `buf[0]`. */
  base = 0;

  private state = START;
  private cellStart = 0;
  private cellFlags = 0;
  private ended = false;
  private readonly strict: boolean;
  private readonly crOdd: boolean;
  private readonly delimiter: Buffer;
  /** Bytes that end a run of unquoted text: quote, `\n`, the delimiter's first byte, `\r` when odd. */
  private readonly special = new Uint8Array(256);
  private handle: FileHandle | undefined;
  private chunk = 0;
  private filePos = 0;

  constructor(options: ScanOptions = {}) {
    this.strict = options.strict ?? false;
    this.crOdd = this.strict && options.crOutsideQuotes === false;
    this.delimiter = Buffer.from(options.delimiter ?? ',');
    for (const c of [QUOTE, LF, this.delimiter[0]!, ...(this.crOdd ? [CR] : [])]) this.special[c] = 1;
  }

  /** Reading a file, after `MORE`: no byte of a record is scanned yet (the file may end here whole). */
  get between(): boolean {
    return this.pos === this.recordStart && this.pos === this.len;
  }

  /** Inside a quoted cell (an input that ends here never closed it). */
  get inQuotes(): boolean {
    return this.state === IN_QUOTES;
  }

  /** Scans `bytes[0, len)` next; the record being scanned goes on in them. They end with a whole character. */
  feed(bytes: Buffer, len: number): void {
    this.buf = bytes;
    this.len = len;
    this.pos = this.recordStart = this.cellStart = 0;
  }

  /** Cell `i` of the current record (strict), unquoted. */
  cell(i: number): string {
    const text = this.buf.toString('utf8', this.starts[i], this.ends[i]);
    return this.flags[i]! & ESCAPED ? text.replaceAll('""', '"') : text;
  }

  /** Scans on from `pos` to the next `RECORD`, `MORE` or `ODD`. */
  next(): number {
    const { buf, len, special, strict } = this;
    const d0 = this.delimiter[0]!;
    const dn = this.delimiter.length;
    let i = this.pos;
    if (this.ended) {
      this.ended = false;
      this.recordStart = i;
      this.width = 0;
    }
    let state = this.state;
    let start = this.cellStart;
    let flags = this.cellFlags;
    let line = this.line;
    let token = MORE;
    scan: for (;;) {
      switch (state) {
        case START: {
          if (i === len) break scan;
          start = i;
          flags = 0;
          if (buf[i] !== QUOTE) {
            state = PLAIN; // an empty cell too: PLAIN reads what ends it
            continue;
          }
          state = IN_QUOTES;
          start = i + 1;
          flags = QUOTED;
          this.quoteLine = line;
          i++;
          continue;
        }
        case PLAIN: {
          while (i < len && special[buf[i]!] === 0) i++;
          if (i === len) break scan;
          const c = buf[i]!;
          if (c === d0 && i + dn > len) break scan; // the rest of the delimiter is still to come
          if (c === d0 && (dn === 1 || this.delimiterAt(i))) {
            if (strict) this.push(start, i, 0);
            state = START;
            i += dn;
            continue;
          }
          if (c === LF) {
            if (strict) this.push(start, i > start && buf[i - 1] === CR ? i - 1 : i, 0);
            token = RECORD;
            break scan;
          }
          if (strict && c !== d0) {
            token = ODD; // a quote in an unquoted cell; a `\r` when odd
            break scan;
          }
          i++;
          continue;
        }
        case IN_QUOTES: {
          if (strict) {
            const q = buf.indexOf(QUOTE, i); // native, and no lines to count: long cells are skipped fast
            i = q === -1 || q > len ? len : q;
          } else for (; i < len && buf[i] !== QUOTE; i++) if (buf[i] === LF) line++;
          if (i === len) break scan;
          state = QUOTE_IN_QUOTES;
          i++;
          continue;
        }
        case QUOTE_IN_QUOTES: {
          if (i === len) break scan;
          const c = buf[i]!;
          if (c === d0 && i + dn > len) break scan;
          if (c === QUOTE) {
            flags = QUOTED | ESCAPED;
            state = IN_QUOTES;
            i++;
          } else if (c === d0 && (dn === 1 || this.delimiterAt(i))) {
            if (strict) this.push(start, i - 1, flags);
            state = START;
            i += dn;
          } else if (c === LF) {
            if (strict) this.push(start, i - 1, flags);
            token = RECORD;
            break scan;
          } else if (!strict) {
            state = PLAIN; // the cell closed; this byte is read as text after it
          } else if (c === CR && !this.crOdd) {
            state = CR_AFTER_QUOTE;
            i++;
          } else {
            token = ODD;
            break scan;
          }
          continue;
        }
        case CR_AFTER_QUOTE: {
          if (i === len) break scan;
          token = buf[i] === LF ? RECORD : ODD;
          if (token === RECORD) this.push(start, i - 2, flags);
          break scan;
        }
      }
    }
    if (token === RECORD) {
      line++;
      i++;
      state = START;
      this.ended = true;
    }
    this.pos = i;
    this.state = state;
    this.cellStart = start;
    this.cellFlags = flags;
    this.line = line;
    return token;
  }

  /**
   * Reads `handle`'s file with `read()`, `chunk` bytes at a time, skipping a UTF-8 BOM (as csv-parse's
   * `bom` does). Returns its first bytes (up to 3), for a caller that looks for another BOM.
   */
  async open(handle: FileHandle, chunk: number): Promise<Buffer> {
    this.handle = handle;
    this.chunk = chunk;
    this.buf = Buffer.allocUnsafe(chunk);
    const head = Buffer.alloc(3);
    const { bytesRead } = await handle.read(head, 0, 3, 0);
    if (bytesRead === 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) this.base = this.filePos = 3;
    return head.subarray(0, bytesRead);
  }

  /**
   * After `MORE`: reads on, with the current record moved whole to the front of `buf` (a record longer
   * than a chunk grows it). False at the end of the file.
   */
  async read(): Promise<boolean> {
    const keep = this.recordStart;
    if (keep > 0) {
      this.buf.copyWithin(0, keep, this.len);
      for (let f = 0; f < this.width; f++) {
        this.starts[f]! -= keep;
        this.ends[f]! -= keep;
      }
      this.cellStart -= keep;
      this.pos -= keep;
      this.len -= keep;
      this.base += keep;
      this.recordStart = 0;
    }
    if (this.buf.length - this.len < this.chunk / 2) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    const { bytesRead } = await this.handle!.read(this.buf, this.len, this.buf.length - this.len, this.filePos);
    this.filePos += bytesRead;
    this.len += bytesRead;
    return bytesRead > 0;
  }

  private delimiterAt(i: number): boolean {
    const d = this.delimiter;
    for (let k = 1; k < d.length; k++) if (this.buf[i + k] !== d[k]) return false;
    return true;
  }

  private push(start: number, end: number, flags: number): void {
    const w = this.width;
    if (w === this.flags.length) {
      this.starts = grow(this.starts, new Int32Array(w * 2));
      this.ends = grow(this.ends, new Int32Array(w * 2));
      this.flags = grow(this.flags, new Uint8Array(w * 2));
    }
    this.starts[w] = start;
    this.ends[w] = end;
    this.flags[w] = flags;
    this.width = w + 1;
  }
}

function grow<T extends Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
