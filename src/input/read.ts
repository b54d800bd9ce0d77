/**
 * Stage 1 — read. Streams a CSV file (a path, `-` for stdin, or `*.gz`) into InputRecords without ever
 * holding the file: memory is bounded by csv-parse's buffer and `maxRecordChars`, so a 5 GB export
 * reads in constant memory.
 */
import { open, stat } from 'node:fs/promises';
import { Transform, pipeline, type Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createGunzip } from 'node:zlib';
import { Parser, type Info } from 'csv-parse';
import { InputError, UsageError } from '../errors.js';
import type { InputRecord } from '../types.js';

export interface ReadOptions {
  /** Any WHATWG encoding label (`utf8`, `latin1`, `windows-1252`, `utf-16le`…). Invalid UTF-8 is an error. */
  encoding?: string;
  delimiter?: string;
  /**
   * A record longer than this is refused: a real task needs < 40 KB, so a longer record is almost
   * always an unclosed quote swallowing the rest of the file.
   */
  maxRecordChars?: number;
}

export interface CsvInput {
  header: string[];
  records: AsyncIterable<InputRecord>;
  /** Size of a plain file, for progress against records' `endByte` (unknown for stdin and .gz). */
  totalBytes: number | undefined;
  /** Releases the input when the records will not be read to the end. */
  close(): void;
}

const DEFAULT_MAX_RECORD_CHARS = 1 << 20;

/** Opens `input` and reads its header row. Fails with InputError before anything is sent. */
export async function openCsv(input: string, options: ReadOptions = {}): Promise<CsvInput> {
  const decoder = makeDecoder(options.encoding ?? 'utf8');
  let source: Readable;
  let totalBytes: number | undefined;
  if (input === '-') {
    source = process.stdin;
  } else {
    try {
      const handle = await open(input, 'r');
      totalBytes = (await stat(input)).size;
      source = handle.createReadStream({ highWaterMark: 256 * 1024 });
    } catch (err) {
      throw new InputError(`cannot read ${input}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  const raw = source;
  const gz = input.endsWith('.gz');

  const parser = new TolerantParser({
    bom: true,
    delimiter: options.delimiter ?? ',',
    // Both endings, so a file that mixes them (edited on two systems) still parses cleanly.
    record_delimiter: ['\r\n', '\n'],
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    max_record_size: options.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS,
  });
  const stages: NodeJS.ReadWriteStream[] = gz ? [createGunzip(), decoder] : [decoder];
  pipeline([raw, ...stages, parser] as unknown as [Readable, Transform], () => {
    /* errors surface through the parser's iterator */
  });

  const iterator = parser[Symbol.asyncIterator]() as AsyncIterator<Parsed>;
  const close = () => raw.destroy();
  const first = await nextRecord(iterator, input, 1).catch((err: unknown) => {
    close();
    throw err;
  });
  if (first.done) throw new InputError(`${input === '-' ? 'standard input' : input} is empty: a header row is needed`);
  const header = first.value.record;

  async function* records(): AsyncGenerator<InputRecord> {
    let lastLine = first.done ? 1 : first.value.info.lines;
    try {
      for (;;) {
        const next = await nextRecord(iterator, input, lastLine + 1);
        if (next.done) return;
        const { record, info } = next.value;
        lastLine = info.lines;
        // info.lines is the line where the record ends; count back the line breaks inside its cells.
        let inner = 0;
        for (const cell of record) for (let i = cell.indexOf('\n'); i !== -1; i = cell.indexOf('\n', i + 1)) inner++;
        yield { line: info.lines - inner, values: record, endByte: info.bytes };
      }
    } finally {
      close(); // also when the consumer stops early (an interrupted run): release the file
    }
  }

  return {
    header,
    records: records(),
    totalBytes: gz ? undefined : totalBytes,
    close,
  };
}

type Parsed = { record: string[]; info: Info; parseError?: undefined } | { parseError: Error };

/**
 * csv-parse fails by destroying its stream, which drops the records it had already parsed but not yet
 * handed over. This parser instead passes the error along in order, after those records, so that
 * every record before a broken one still gets its results row.
 */
class TolerantParser extends Parser {
  override _transform(buf: Buffer, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    super._transform(buf, encoding, (err?: Error | null) => this.settle(err, callback));
  }

  override _flush(callback: (err?: Error | null) => void): void {
    super._flush((err?: Error | null) => this.settle(err, callback));
  }

  private settle(err: Error | null | undefined, callback: (err?: Error | null) => void): void {
    if (!err) return callback();
    this.push({ parseError: err } satisfies Parsed);
    this.push(null);
    callback();
  }
}

/** `startLine`: where the next record starts (after the last good one), to name it in an error. */
async function nextRecord(
  iterator: AsyncIterator<Parsed>,
  input: string,
  startLine: number,
): Promise<IteratorResult<{ record: string[]; info: Info }>> {
  let err: unknown;
  try {
    const next = await iterator.next();
    if (next.done || !next.value.parseError) return next as IteratorResult<{ record: string[]; info: Info }>;
    err = next.value.parseError;
  } catch (e) {
    err = e; // a read or decode failure upstream
  }
  if (err instanceof InputError) throw err;
  const e = err as Error & { code?: string };
  const hint =
    e.code === 'CSV_QUOTE_NOT_CLOSED' || e.code === 'CSV_MAX_RECORD_SIZE' ? ': a quote opened there is never closed' : '';
  // csv-parse messages can quote cell text; keep only the code and line to stay private.
  throw new InputError(
    `${input === '-' ? 'standard input' : input}: CSV error ${e.code ?? e.name} in the record starting at line ${startLine}${hint}`,
    { cause: err },
  );
}

/** A Transform that decodes bytes to text, failing on bytes that are not valid in the encoding. */
function makeDecoder(encoding: string): Transform {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    throw new UsageError(`unknown --encoding "${encoding}" (try utf8, latin1, windows-1252, utf-16le)`);
  }
  let lines = 1;
  const countLines = (text: string): string => {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
    return text;
  };
  // On a bad chunk, find the line of the first undecodable byte by decoding it leniently.
  const fail = (err: unknown, chunk?: Buffer) => {
    if (chunk) {
      const text = new TextDecoder(encoding).decode(chunk);
      countLines(text.slice(0, Math.max(0, text.indexOf('\uFFFD'))));
    }
    return new InputError(
      `the input is not valid ${decoder.encoding} near line ${lines}: pass --encoding (e.g. latin1 or windows-1252) for files that are not UTF-8`,
      { cause: err },
    );
  };
  return new Transform({
    readableObjectMode: false,
    transform(chunk: Buffer, _enc, done) {
      try {
        done(null, countLines(decoder.decode(chunk, { stream: true })));
      } catch (err) {
        done(fail(err, chunk));
      }
    },
    flush(done) {
      try {
        done(null, countLines(decoder.decode()));
      } catch (err) {
        done(fail(err));
      }
    },
  });
}
