/**
 * Stage 1 — read. Streams a CSV file (a path, `-` for stdin, `*.gz`, or an S3 object as a ByteSource) into
 * InputRecords without ever
 * holding the file: bytes are decoded (decode.ts), cut into records (split.ts, which bounds a record's
 * size) and each record's cells are read by csv-parse. Memory is one chunk plus one record.
 *
 * A record that cannot be read (over the size limit, a stray quote) does not end the file: it is
 * handed over as an `unreadable` InputRecord (its line and the rule; never its content) and becomes
 * one `invalid` results row. Two things do end it: bytes that are not valid in the encoding (the
 * records before them are all handed over first, then an InputError names the line) and a quote that
 * is still open when the file ends (nothing after it can be read; one `invalid` row names its line).
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CsvError, parse } from 'csv-parse/sync';
import { InputError, type LoaderError, S3UnavailableError, UsageError } from '../../errors.js';
import { describeS3Error, isPreconditionFailed, isUnavailable } from '../../s3/client.js';
import { isS3Url } from '../../s3/url.js';
import type { ByteSource, InputRecord } from '../../types.js';
import { decodeChunks, sniffEncoding } from './decode.js';
import { type RawRecord, RecordSplitter } from './split.js';

export interface ReadOptions {
  /** Any WHATWG encoding label (`utf8`, `latin1`, `windows-1252`, `utf-16le`…). Invalid UTF-8 is an error. */
  encoding?: string;
  /** One character (`,` by default; `;`, a tab…). */
  delimiter?: string;
  /**
   * A record over this many UTF-8 bytes is not read (it becomes an `invalid` row): a real task needs
   * < 40 KB, so a bigger record is a mistake, and holding it would let one line exhaust memory.
   */
  maxRecordBytes?: number;
  /** How messages name the input (standard input read from a spooled copy is still "standard input"). */
  name?: string;
}

export interface CsvInput {
  header: string[];
  records: AsyncIterable<InputRecord>;
  /** Size of a plain file, for progress against records' `endByte` (unknown for stdin and .gz). */
  totalBytes: number | undefined;
  /** Releases the input when the records will not be read to the end. */
  close(): void;
}

const DEFAULT_MAX_RECORD_BYTES = 1 << 20;

/** Opens `input` and reads its header row. Fails with InputError (nothing sent, nothing written) if it cannot. */
export async function openCsv(input: string | ByteSource, options: ReadOptions = {}): Promise<CsvInput> {
  // `tab` and `\t` as typed in a shell are turned into the tab character by the settings table.
  const delimiter = options.delimiter ?? ',';
  if ([...delimiter].length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new UsageError(
      `--delimiter must be one character other than a quote or a line break (got ${JSON.stringify(delimiter)})`,
    );
  }
  // an unknown label fails before opening
  if (options.encoding !== undefined) sniffEncoding(Buffer.alloc(0), options.encoding);
  if (typeof input !== 'string')
    return readCsv(
      input.open() as Readable,
      input.gzip,
      input.gzip ? undefined : input.size,
      options.name ?? input.name,
      options,
    );
  const name = options.name ?? (input === '-' ? 'standard input' : input);
  let raw: Readable;
  let totalBytes: number | undefined;
  if (input === '-') {
    raw = process.stdin;
  } else {
    try {
      const handle = await open(input, 'r');
      totalBytes = (await stat(input)).size;
      // 64 KB: the text decoded from a chunk stays under V8's large-object size (128 KB), so it is
      // young and dies young. 256 KB chunks went straight to the old generation with every record
      // cut from them, and a million-row file grew the heap by a hundred MB between collections.
      raw = handle.createReadStream({ highWaterMark: 64 * 1024 });
    } catch (err) {
      throw new InputError(`cannot read ${input}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        cause: err,
      });
    }
  }
  // Gzip by its first bytes, whatever the name says (`.GZ`, a `.csv` that is compressed).
  const gz = input !== '-' && (await isGzip(input).catch(() => input.toLowerCase().endsWith('.gz')));
  if (gz) await verifyGzip(input, name, raw);
  return readCsv(raw, gz, totalBytes, name, options);
}

/** The header row and the records of `raw` (gzip data already checked whole). */
async function readCsv(
  raw: Readable,
  gz: boolean,
  totalBytes: number | undefined,
  name: string,
  options: ReadOptions,
): Promise<CsvInput> {
  const delimiter = options.delimiter ?? ',';
  const source = gz ? raw.pipe(createGunzip()) : raw;
  if (gz) raw.on('error', (err) => source.destroy(err));
  const close = () => {
    raw.destroy();
    if (gz) source.destroy();
  };

  const maxBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const raws = rawRecords(
    source as AsyncIterable<Buffer>,
    name,
    options.encoding,
    new RecordSplitter(delimiter, maxBytes),
  );
  const cells = (r: RawRecord) => readRecord(r, delimiter, maxBytes);
  let first: IteratorResult<RawRecord>;
  try {
    first = await raws.next();
  } catch (err) {
    close();
    throw err;
  }
  if (first.done) {
    close();
    throw new InputError(`${name} is empty: a header row is needed`);
  }
  const head = cells(first.value);
  if (head.unreadable || head.values.every((v) => v.trim() === '')) {
    close();
    const why = head.unreadable ? head.unreadable.reason : 'it has no column names';
    throw new InputError(`${name}: the header row (line ${head.line}) cannot be used: ${why}`);
  }

  async function* records(): AsyncGenerator<InputRecord> {
    try {
      for await (const r of raws) yield checkShape(cells(r), head.values);
    } finally {
      close(); // also when the consumer stops early (an interrupted run): release the file
    }
  }
  return { header: head.values, records: records(), totalBytes: gz ? undefined : totalBytes, close };
}

/** A regular file that starts as gzip does (reading a FIFO would take its bytes: only its name tells). */
async function isGzip(path: string): Promise<boolean> {
  if (!(await stat(path)).isFile()) return path.toLowerCase().endsWith('.gz');
  const handle = await open(path, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Reads a gzip file to its end once before any record is used: gzip checks its data only at the end
 * of each member, so a damaged byte mid-file would otherwise be sent as changed text before the
 * checksum failed (and trailing bytes that are not gzip would end the file early). A damaged file is
 * an InputError naming the line where its text stops: nothing was sent from it.
 */
async function verifyGzip(path: string, name: string, reading: Readable): Promise<void> {
  let lines = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 }).pipe(
      createGunzip(),
    ) as AsyncIterable<Buffer>) {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    }
  } catch (err) {
    reading.destroy();
    throw gzipDamage(name, err, lines);
  }
}

/** A gzip file that does not check out, after `lines` lines of its text: nothing is sent from it. */
export function gzipDamage(name: string, err: unknown, lines: number): InputError {
  const code = (err as NodeJS.ErrnoException).code;
  const what =
    code === 'Z_BUF_ERROR' || /unexpected end/i.test((err as Error).message)
      ? 'it ends in the middle (cut short)'
      : /header check/i.test((err as Error).message)
        ? 'bytes that are not gzip follow its data'
        : 'its data is damaged (the checksum does not match)';
  return new InputError(
    `${name} is not a whole gzip file: ${what}, after line ${lines + 1} of its text (${code ?? 'zlib'}). ` +
      'Nothing was sent from it. Restore the file (gzip -t checks one) and run again',
    { cause: err },
  );
}

/** Records of the input in order; throws InputError after the last whole record before undecodable bytes. */
async function* rawRecords(
  source: AsyncIterable<Buffer>,
  name: string,
  explicitEncoding: string | undefined,
  splitter: RecordSplitter,
): AsyncGenerator<RawRecord> {
  const chunks = source[Symbol.asyncIterator]();
  let firstChunk: IteratorResult<Buffer>;
  try {
    firstChunk = await chunks.next();
  } catch (err) {
    throw readFailure(name, err);
  }
  const encoding = sniffEncoding(firstChunk.done ? Buffer.alloc(0) : firstChunk.value, explicitEncoding);
  async function* all(): AsyncGenerator<Buffer> {
    if (firstChunk.done) return;
    yield firstChunk.value;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  }
  const texts = decodeChunks(all(), encoding);
  for (;;) {
    let next: IteratorResult<string | { failure: true; encoding: string }>;
    try {
      next = await texts.next();
    } catch (err) {
      throw readFailure(name, err);
    }
    if (next.done) break;
    if (typeof next.value !== 'string') {
      // The record holding the bad bytes and everything after it are not read: guessing where the
      // bytes end would risk sending text in the wrong encoding.
      throw new InputError(
        `${name} is not valid ${next.value.encoding} at line ${splitter.currentLine}: the records before it ` +
          `were read; ` +
          `that line and the rest were not. Pass --encoding (e.g. latin1 or windows-1252) if the file is ` +
          `not ${next.value.encoding}, or fix that line`,
      );
    }
    yield* splitter.push(next.value);
  }
  const last = splitter.end();
  if (last) yield last;
}

function readFailure(name: string, err: unknown): LoaderError {
  if (err instanceof InputError) return err;
  // S3 gone quiet mid-file is no fault of the input: the run stops resumably (the pipeline drains it).
  if (isS3Url(name) && isUnavailable(err))
    return new S3UnavailableError(`cannot read ${name}: ${describeS3Error(err, 's3:GetObject')}`, { cause: err });
  if (isPreconditionFailed(err))
    return new InputError(
      `${name} was replaced while it was being read (its ETag changed): the records before this point were read, ` +
        'the rest not. Restore the object and run the same command with --resume, or start a new run with ' +
        'another --results',
      { cause: err },
    );
  if ((err as { $metadata?: unknown }).$metadata)
    return new InputError(`cannot read ${name}: ${describeS3Error(err, 's3:GetObject')}`, { cause: err });
  const code = (err as NodeJS.ErrnoException).code;
  return new InputError(`cannot read ${name}: ${code ?? (err as Error).message}`, { cause: err });
}

/**
 * The header row again (files joined with `cat`) would otherwise be sent as a task named "Name".
 * (A record with another number of cells than the header is refused by the mapping: map.ts.)
 */
function checkShape(record: InputRecord, header: string[]): InputRecord {
  const { values } = record;
  if (record.unreadable || values.length !== header.length || !header.every((name, i) => values[i] === name))
    return record;
  return {
    ...record,
    unreadable: { code: 'RepeatedHeader', reason: 'the record repeats the header row (files joined together?)' },
  };
}

/** Reasons a record is unreadable, by the rule it breaks (Result.ErrorCode → message); never its content. */
function readRecord(r: RawRecord, delimiter: string, maxBytes: number): InputRecord {
  const base = { line: r.line, endByte: r.endByte };
  if (r.tooLarge) {
    const reason =
      `the record is ${r.tooLarge.bytes} bytes, over the limit of ${maxBytes}: it was not read (a task needs far ` +
      `less: look for a cell pasted by mistake)`;
    return { ...base, values: [], unreadable: { code: 'RecordTooLarge', reason } };
  }
  if (r.unclosedQuote) {
    const at = r.unclosedQuote.openedAt;
    const reason =
      `a quote opened on line ${at} is never closed: the file ends inside this record, so it and anything after ` +
      `line ${at} were not read`;
    return { ...base, values: [], unreadable: { code: 'UnclosedQuote', reason } };
  }
  // Written out, not spread from `base`: reading a million records, V8 carried the spread copies into
  // the old generation (three times the bytes of the written-out ones, measured).
  const quick = plainCells(r.text!, delimiter);
  if (quick) return { line: r.line, endByte: r.endByte, values: quick };
  const options = { delimiter, relax_column_count: true, record_delimiter: ['\r\n', '\n'] };
  try {
    const [values] = parse(r.text!, options) as string[][];
    return { ...base, values: values ?? [] };
  } catch (err) {
    const csv = err instanceof CsvError ? err : undefined;
    const column =
      typeof (csv as { column?: unknown } | undefined)?.column === 'number'
        ? ` in column ${(csv as unknown as { column: number }).column + 1}`
        : '';
    const [code, rule] =
      csv?.code === 'INVALID_OPENING_QUOTE'
        ? [
            'StrayQuote',
            `a quote${column} inside a cell that does not start with one: put the whole cell in quotes and ` +
              `double the quote inside it ("")`,
          ]
        : csv?.code === 'CSV_INVALID_CLOSING_QUOTE'
          ? [
              'StrayQuote',
              `text follows the closing quote of a quoted cell${column}: double a quote that belongs to the cell ("")`,
            ]
          : ['UnreadableRecord', `CSV error ${csv?.code ?? (err as Error).name}`];
    // Keep the cells as a lenient reader sees them, so the results row shows what was there (it is never sent).
    let values: string[] = [];
    try {
      values = (parse(r.text!, { ...options, relax_quotes: true }) as string[][])[0] ?? [];
    } catch {
      /* no cells, then */
    }
    return { ...base, values, unreadable: { code, reason: rule } };
  }
}

/**
 * The cells of a record written by the book (csv-parse reads it the same: test/input/csv/read.test.ts),
 * without csv-parse's cost per call; undefined for anything else — a quote inside an unquoted cell,
 * text after a closing quote — which csv-parse then reads and names.
 */
export function plainCells(text: string, delimiter: string): string[] | undefined {
  if (!text.includes('"')) return text.split(delimiter);
  const cells: string[] = [];
  for (let i = 0; ; ) {
    if (text.startsWith('"', i)) {
      let cell = '';
      for (let from = i + 1; ; ) {
        const quote = text.indexOf('"', from);
        if (quote === -1) return undefined;
        cell += text.slice(from, quote);
        if (text.startsWith('"', quote + 1)) {
          cell += '"';
          from = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      cells.push(cell);
      if (i === text.length) return cells;
      if (!text.startsWith(delimiter, i)) return undefined;
      i += delimiter.length;
    } else {
      const next = text.indexOf(delimiter, i);
      const cell = text.slice(i, next === -1 ? text.length : next);
      if (cell.includes('"')) return undefined;
      cells.push(cell);
      if (next === -1) return cells;
      i = next + delimiter.length;
    }
  }
}
