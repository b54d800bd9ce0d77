/**
 * Stage 1 — read. Streams a CSV file (a path, `-` for stdin, or `*.gz`) into InputRecords without ever
 * holding the file: memory is bounded by csv-parse's buffer and `maxRecordChars`, so a 5 GB export
 * reads in constant memory.
 */
import { open, stat } from 'node:fs/promises';
import { Transform, pipeline, type Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createGunzip } from 'node:zlib';
import { parse, type Info } from 'csv-parse';
import { InputError, UsageError } from './errors.js';
import type { InputRecord } from './types.js';

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
  /** Raw bytes consumed so far and the total when known (a plain file): for progress. */
  bytesRead(): number;
  totalBytes: number | undefined;
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

  const parser = parse({
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

  const iterator = parser[Symbol.asyncIterator]() as AsyncIterator<{ record: string[]; info: Info }>;
  const first = await nextRecord(iterator, input);
  if (first.done) throw new InputError(`${input === '-' ? 'standard input' : input} is empty: a header row is needed`);
  const header = first.value.record;

  async function* records(): AsyncGenerator<InputRecord> {
    for (;;) {
      const next = await nextRecord(iterator, input);
      if (next.done) return;
      const { record, info } = next.value;
      // info.lines is the line where the record ends; count back the line breaks inside its cells.
      let inner = 0;
      for (const cell of record) for (let i = cell.indexOf('\n'); i !== -1; i = cell.indexOf('\n', i + 1)) inner++;
      yield { line: info.lines - inner, values: record };
    }
  }

  return {
    header,
    records: records(),
    bytesRead: () => (raw as Readable & { bytesRead?: number }).bytesRead ?? 0,
    totalBytes,
  };
}

async function nextRecord(
  iterator: AsyncIterator<{ record: string[]; info: Info }>,
  input: string,
): Promise<IteratorResult<{ record: string[]; info: Info }>> {
  try {
    return await iterator.next();
  } catch (err) {
    if (err instanceof InputError) throw err;
    const e = err as Error & { code?: string; lines?: number };
    const where = e.lines !== undefined ? ` at line ${e.lines}` : '';
    const hint = e.code === 'CSV_MAX_RECORD_SIZE' ? ' (probably a quote that is never closed)' : '';
    // csv-parse messages quote no cell values except for a few codes; keep only the code to stay private.
    throw new InputError(`${input === '-' ? 'standard input' : input}: CSV error ${e.code ?? e.name}${where}${hint}`, { cause: err });
  }
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
