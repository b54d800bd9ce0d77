/**
 * The fast way through a results file the tool wrote: a byte scanner for plain RFC 4180 CSV, so that
 * a 2,000,000-row ledger is read in seconds, not in the half a minute csv-parse's record objects take.
 *
 * It reads only what needs no judgement — quoted cells with `""`, `\n` or `\r\n` line ends, a BOM —
 * and stops at the first thing that does: a quote out of place, an empty line, a last record without
 * its line end (a torn row). The caller then reads the file the careful way (reader.ts), which repairs
 * or refuses it with the line named. So this scanner never decides anything csv-parse would read
 * otherwise: it either reads the file exactly as csv-parse does, or says it did not.
 */
import type { FileHandle } from 'node:fs/promises';

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const CHUNK = 1 << 20;

const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted cell: the next byte says whether it closed the cell or was `""`. */
  QuoteInQuoted,
  /** `\r` after a closing quote: only `\n` may follow. */
  CrAfterQuote,
}

/** One record as the scanner holds it; valid only during the callback. */
export interface ScannedRecord {
  /** Number of fields. */
  readonly width: number;
  /** Byte offset in the file where the record starts. */
  readonly start: number;
  /** Field `i`'s text, unquoted. */
  cell(i: number): string;
}

/**
 * Calls `each` with every record of the file, in order, from its first byte. `each` returns false to
 * stop. True when every record was read and handed over and the file ends with a line end; false
 * when the scanner (or `each`) stopped early. `chunk`: bytes read at a time (tests make it small).
 */
export async function scanCsv(handle: FileHandle, each: (record: ScannedRecord) => boolean, chunk = CHUNK): Promise<boolean> {
  let buf = Buffer.allocUnsafe(chunk);
  let len = 0; // bytes of `buf` holding file content
  let base = 0; // file offset of buf[0]
  let pos = 0; // file offset of the next read
  let recStart = 0; // where the current record starts in buf
  let fieldStart = 0;
  let state = State.FieldStart;
  let quoted = false;
  let escaped = false;
  let width = 0;
  let starts = new Int32Array(64);
  let ends = new Int32Array(64);
  let flags = new Uint8Array(64); // 1: quoted, 2: holds `""`

  const record: ScannedRecord = {
    get width() {
      return width;
    },
    get start() {
      return base + recStart;
    },
    cell(i) {
      const text = buf.toString('utf8', starts[i], ends[i]);
      return flags[i]! & 2 ? text.replaceAll('""', '"') : text;
    },
  };
  const push = (end: number) => {
    if (width === starts.length) {
      starts = grow(starts);
      ends = grow(ends);
      const f = new Uint8Array(flags.length * 2);
      f.set(flags);
      flags = f;
    }
    starts[width] = fieldStart;
    ends[width] = end;
    flags[width++] = (quoted ? 1 : 0) | (escaped ? 2 : 0);
  };

  // A BOM is skipped, as csv-parse's `bom` drops it.
  const head = (await handle.read(Buffer.alloc(3), 0, 3, 0)).buffer;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) base = pos = 3;

  let i = 0;
  for (;;) {
    if (i >= len) {
      // Keep the current record whole at the front of the buffer, then read on.
      if (recStart > 0) {
        buf.copyWithin(0, recStart, len);
        for (let f = 0; f < width; f++) {
          starts[f]! -= recStart;
          ends[f]! -= recStart;
        }
        fieldStart -= recStart;
        i -= recStart;
        len -= recStart;
        base += recStart;
        recStart = 0;
      }
      if (buf.length - len < chunk / 2) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const { bytesRead } = await handle.read(buf, len, buf.length - len, pos);
      if (bytesRead === 0) return state === State.FieldStart && width === 0;
      pos += bytesRead;
      len += bytesRead;
      continue;
    }
    const c = buf[i]!;
    switch (state) {
      case State.FieldStart:
        quoted = escaped = false;
        if (c === QUOTE) {
          state = State.Quoted;
          quoted = true;
          fieldStart = i + 1;
        } else if (c === COMMA) {
          fieldStart = i;
          push(i);
        } else if (c === LF) {
          if (width === 0) return false; // an empty line: csv-parse skips it; the careful reader decides
          fieldStart = i;
          push(i);
          if (!each(record)) return false;
          width = 0;
          recStart = i + 1;
        } else {
          state = State.Unquoted;
          fieldStart = i;
        }
        break;
      case State.Unquoted:
        if (c === COMMA) {
          push(i);
          state = State.FieldStart;
        } else if (c === LF) {
          const end = i > fieldStart && buf[i - 1] === CR ? i - 1 : i;
          if (width === 0 && end === fieldStart) return false; // `\r\n` alone: an empty line too
          push(end);
          if (!each(record)) return false;
          width = 0;
          recStart = i + 1;
          state = State.FieldStart;
        } else if (c === QUOTE) {
          return false;
        }
        break;
      case State.Quoted: {
        const q = buf.indexOf(QUOTE, i);
        if (q === -1 || q >= len) {
          i = len;
          continue;
        }
        i = q;
        state = State.QuoteInQuoted;
        break;
      }
      case State.QuoteInQuoted:
        if (c === QUOTE) {
          escaped = true;
          state = State.Quoted;
        } else if (c === COMMA) {
          push(i - 1);
          state = State.FieldStart;
        } else if (c === LF) {
          push(i - 1);
          if (!each(record)) return false;
          width = 0;
          recStart = i + 1;
          state = State.FieldStart;
        } else if (c === CR) {
          state = State.CrAfterQuote;
        } else {
          return false;
        }
        break;
      case State.CrAfterQuote:
        if (c !== LF) return false;
        push(i - 2);
        if (!each(record)) return false;
        width = 0;
        recStart = i + 1;
        state = State.FieldStart;
        break;
    }
    i++;
  }
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
