/**
 * The results file read back as a ledger: which input lines are already final, so that --resume
 * sends only what is missing (with the same tokens), and `rerun` knows what failed.
 *
 * Only the LAST record may be damaged by a crash: rows are appended in whole writes (writer.ts), and
 * a crash or a full disk can cut a write short only at its end, tearing the row being written. That
 * torn end (no line end, or a final record that does not parse) is cut off before anything is
 * appended. Anything wrong before it — a row edited by hand, a stray quote, a wrong number of
 * fields — is not a crash: the file is refused, naming the line, and nothing is cut (cutting would
 * drop good rows and send them again).
 *
 * A file saved by a spreadsheet (BOM, CRLF line ends) reads like one written by this tool.
 *
 * A whole file is read by scan.ts's byte scanner (seconds for millions of rows); anything it does not
 * read on its own — a torn end, a row edited by hand — is read again here with csv-parse, which
 * repairs or refuses it. Memory does not grow with the file: final statuses take 4 bits per line.
 */

import type { FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type Info, type Options, Parser } from 'csv-parse';
import { parse } from 'csv-parse/sync';
import { InputError, UsageError } from '../errors.js';
import type { RowResult, RowStatus } from '../types.js';
import { FinalStatuses, LineSet, normaliseStatus, STATUSES } from './coverage.js';
import { openRegular, READ, READ_WRITE } from './files.js';
import { scanCsv } from './scan.js';
import { RESULT_COLUMNS } from './writer.js';

const CSV_OPTIONS: Options = {
  bom: true,
  info: true,
  relax_column_count: true,
  skip_empty_lines: true,
  record_delimiter: ['\r\n', '\n'],
};

export interface Ledger {
  header: string[];
  /** Input line → status of its row, for rows whose status is final (`final.get(line)`). */
  final: FinalStatuses;
  /** Rows in the file (after repair). */
  rows: number;
  /** Bytes cut off the end (a torn last record), 0 when the file was whole. */
  repairedBytes: number;
  /** The results-file line where the cut record began, when one was cut. */
  repairedLine?: number;
  /** The first row for an input line that already had one: its input line and its line in this file. */
  repeated?: { line: number; at: number };
}

interface Shape {
  width: number;
  line: number;
  status: number;
}

/**
 * Reads `path`. With `repair` (the default; --resume) a torn last record is cut off in place;
 * without it (rerun) a torn end is refused too.
 */
export async function readLedger(path: string, { repair = true }: { repair?: boolean } = {}): Promise<Ledger> {
  const handle = await openRegular(path, repair ? READ_WRITE : READ, 'results file');
  try {
    return (await readWhole(path, handle)) ?? (await readCarefully(path, handle, repair));
  } finally {
    await handle.close();
  }
}

/** What the rows of a ledger add up to, as they are read. */
class Tally {
  rows = 0;
  readonly final = new FinalStatuses();
  private readonly seen = new LineSet();
  repeatedAt: { line: number; start: number } | undefined;

  add(lineCell: string, statusCell: string, start: number): void {
    this.rows++;
    const line = Number(lineCell);
    if (this.seen.has(line)) this.repeatedAt ??= { line, start };
    this.seen.add(line);
    // Stray spaces or capitals from a spreadsheet are forgiven, as rerun forgives them.
    const status = normaliseStatus(statusCell);
    if (status) this.final.set(line, status);
  }

  async ledger(
    handle: FileHandle,
    header: string[],
    repair: { cutAt: number; size: number; line?: number },
  ): Promise<Ledger> {
    const repeated = this.repeatedAt && { line: this.repeatedAt.line, at: await lineAt(handle, this.repeatedAt.start) };
    const repairedBytes = repair.size - repair.cutAt;
    return {
      header,
      final: this.final,
      rows: this.rows,
      repairedBytes,
      ...(repair.line ? { repairedLine: repair.line } : {}),
      ...(repeated ? { repeated } : {}),
    };
  }
}

/** The ledger of a whole, untouched file (the scanner's fast path), or undefined when it needs a careful read. */
async function readWhole(path: string, handle: FileHandle): Promise<Ledger | undefined> {
  let header: string[] | undefined;
  let shape: Shape | undefined;
  const tally = new Tally();
  const whole = await scanCsv(handle, (record) => {
    if (!shape) {
      header = Array.from({ length: record.width }, (_, i) => record.cell(i));
      shape = shapeOf(header, path);
      return true;
    }
    if (record.width !== shape.width) return false;
    const line = record.cell(shape.line);
    const status = record.cell(shape.status);
    if (!LINE.test(line) || !normaliseStatus(status)) return false;
    tally.add(line, status, record.start);
    return true;
  });
  if (!whole || !header) return undefined;
  return tally.ledger(handle, header, { cutAt: 0, size: 0 });
}

async function readCarefully(path: string, handle: FileHandle, repair: boolean): Promise<Ledger> {
  const size = (await handle.stat()).size;
  const lastByte = size > 0 ? (await handle.read(Buffer.alloc(1), 0, 1, size - 1)).buffer[0] : undefined;
  // A record that does not parse is skipped and reported (position, code), so that the records after
  // it still arrive and show whether it was the last one.
  const parser = handle
    .createReadStream({ autoClose: false, start: 0 })
    .pipe(new Parser({ ...CSV_OPTIONS, skip_records_with_error: true }));
  let firstError: { at: number; code: string } | undefined;
  parser.on('skip', (err: { bytes?: number; code?: string }) => {
    // csv-parse's message quotes cell text: keep only its code and position.
    firstError ??= { at: err.bytes ?? 0, code: err.code ?? 'CSV_ERROR' };
  });
  let header: string[] | undefined;
  let shape: Shape | undefined;
  let end = 0; // where the last record read ends
  let held: { record: string[]; start: number; end: number } | undefined;
  const tally = new Tally();
  const accept = async (record: string[], start: number) => {
    const reason = malformation(record, shape!);
    if (reason) throw await refusal(path, handle, start, reason);
    tally.add(record[shape!.line]!, record[shape!.status]!, start);
  };
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
    if (!header) {
      if (firstError && info.bytes > firstError.at) break; // the header itself did not parse
      header = record;
      shape = shapeOf(header, path);
    } else {
      // A record that does not parse, followed by one that does: damage in the middle.
      if (firstError && info.bytes > firstError.at) throw await refusal(path, handle, end, syntax(firstError.code));
      // A record followed by another is not the torn end: it must be whole.
      if (held) await accept(held.record, held.start);
      held = { record, start: end, end: info.bytes };
    }
    end = info.bytes;
  }
  if (!header || !shape) {
    throw new InputError(
      firstError
        ? `${path} is not a results file of this tool: its header does not parse as CSV`
        : `${path} is empty: it holds no results header`,
    );
  }

  let cutAt = size;
  if (firstError) {
    // The record after the last good one does not parse. It is the torn end only if no later line is
    // a whole row of this file (an opening quote never closed can swallow every row after it).
    if (held) await accept(held.record, held.start);
    if (await laterWholeRow(handle, end, shape)) throw await refusal(path, handle, end, syntax(firstError.code));
    cutAt = end;
  } else if (held) {
    const whole = !malformation(held.record, shape) && (held.end < size || lastByte === 0x0a);
    if (whole) await accept(held.record, held.start);
    else cutAt = held.start;
  }
  if (cutAt < size && !repair) {
    throw await refusal(
      path,
      handle,
      cutAt,
      'the last row is torn (the run that wrote it was cut off): finish that run with --resume first',
    );
  }
  const repairedLine = cutAt < size ? await lineAt(handle, cutAt) : undefined;
  if (cutAt < size) await handle.truncate(cutAt);
  return tally.ledger(handle, header, { cutAt, size, ...(repairedLine ? { line: repairedLine } : {}) });
}

const LINE = /^[1-9][0-9]*$/;
const syntax = (code: string) => `CSV error ${code} (a quote out of place?)`;

function shapeOf(header: string[], path: string): Shape {
  const line = header.indexOf('Result.Line');
  const status = header.indexOf('Result.Status');
  if (line === -1 || status === -1 || header.slice(-RESULT_COLUMNS.length).join() !== RESULT_COLUMNS.join()) {
    throw new InputError(
      `${path} is not a results file of this tool (its last columns must be ${RESULT_COLUMNS.join(', ')})`,
    );
  }
  return { width: header.length, line, status };
}

/** Why a record cannot be a row this tool wrote, or undefined. Names no cell value. */
function malformation(record: string[], shape: Shape): string | undefined {
  if (record.length !== shape.width) return `it has ${record.length} fields where the header has ${shape.width}`;
  if (!LINE.test(record[shape.line]!)) return 'its Result.Line is not a line number';
  if (!normaliseStatus(record[shape.status])) return `its Result.Status is not one of ${[...STATUSES].join(', ')}`;
  return undefined;
}

/** Whether any physical line after the one at `start` is, on its own, a whole row of this file. */
async function laterWholeRow(handle: FileHandle, start: number, shape: Shape): Promise<boolean> {
  const lines = createInterface({ input: handle.createReadStream({ autoClose: false, start }), crlfDelay: Infinity });
  let first = true;
  for await (const line of lines) {
    if (first) {
      first = false;
      continue;
    }
    try {
      const [record] = parse(line, { relax_column_count: true }) as string[][];
      if (record && !malformation(record, shape)) {
        lines.close();
        return true;
      }
    } catch {
      // Not a row on its own: a piece of a multi-line cell.
    }
  }
  return false;
}

async function refusal(path: string, handle: FileHandle, offset: number, reason: string): Promise<UsageError> {
  return new UsageError(
    `${path} line ${await lineAt(handle, offset)}: ${reason}. Only a torn last row is repaired on its own; ` +
      'a row before it was changed by hand (or the file was not written by this tool). Nothing was cut and ' +
      'nothing sent: ' +
      'correct that line (or restore the file), then run again',
  );
}

/** The 1-based line of the file at byte `offset` (the lines a text editor shows). */
async function lineAt(handle: FileHandle, offset: number): Promise<number> {
  let line = 1;
  const chunk = Buffer.alloc(64 * 1024);
  for (let pos = 0; pos < offset; ) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, offset - pos), pos);
    if (bytesRead === 0) break;
    for (let i = 0; i < bytesRead; i++) if (chunk[i] === 0x0a) line++;
    pos += bytesRead;
  }
  return line;
}

/**
 * The input lines of the rows holding each of `tokens` (the repeated-token check at the end of a
 * run); undefined when the file is not one the scanner reads whole (it is this run's own file, so
 * that means it was changed meanwhile).
 */
export async function tokenLines(
  path: string,
  tokens: ReadonlySet<string>,
): Promise<Map<string, number[]> | undefined> {
  const handle = await openRegular(path, READ, 'results file');
  try {
    const found = new Map<string, number[]>();
    let columns: { line: number; token: number } | undefined;
    const whole = await scanCsv(handle, (record) => {
      if (!columns) {
        const header = Array.from({ length: record.width }, (_, i) => record.cell(i));
        columns = { line: header.lastIndexOf('Result.Line'), token: header.lastIndexOf('Result.ClientToken') };
        return columns.line >= 0 && columns.token >= 0;
      }
      if (record.width <= Math.max(columns.line, columns.token)) return false;
      const token = record.cell(columns.token);
      if (tokens.has(token)) found.set(token, [...(found.get(token) ?? []), Number(record.cell(columns.line))]);
      return true;
    });
    return whole ? found : undefined;
  } finally {
    await handle.close();
  }
}

/** Reads the `Result.*` cells of a results file's record (for rerun) into a RowResult. */
export function earlierResults(header: string[], path: string): (values: string[]) => RowResult {
  const col = (name: string) => {
    const i = header.lastIndexOf(name);
    if (i === -1)
      throw new UsageError(
        `${path} is not a results file: it has no ${name} column (rerun takes the results file of a run)`,
      );
    return i;
  };
  const [line, status, contactId, token, attempts, code, message] = RESULT_COLUMNS.map(col);
  const opt = (v: string | undefined) => (v ? v : undefined);
  return (values) => ({
    line: Number(values[line!]),
    // Stray spaces or case from a spreadsheet are forgiven; checkCoverage refused anything else.
    status: normaliseStatus(values[status!]) ?? (values[status!] as RowStatus),
    contactId: opt(values[contactId!]),
    clientToken: opt(values[token!]),
    attempts: Number(values[attempts!]) || 0,
    errorCode: opt(values[code!]),
    errorMessage: opt(values[message!]),
  });
}
