/**
 * The results file read back as a ledger: which input lines are already final, so that --resume
 * sends only what is missing (with the same tokens), and `rerun` knows what failed.
 *
 * A crash can leave a torn last record (a write cut short). It is cut off here, at the end of the
 * last complete record, before anything is appended.
 */
import { open, truncate } from 'node:fs/promises';
import { Parser, type Info } from 'csv-parse';
import { InputError, UsageError } from '../errors.js';
import { normaliseStatus } from './coverage.js';
import { RESULT_COLUMNS } from './writer.js';
import type { RowResult, RowStatus } from '../types.js';

/** Statuses that end a row: a resumed run never sends such a row again. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set<RowStatus>(['created', 'failed', 'invalid']);

export interface Ledger {
  header: string[];
  /** Input line → status of its row, for rows whose status is final. */
  final: Map<number, RowStatus>;
  /** Rows in the file (after repair). */
  rows: number;
  /** Bytes cut off the end (a torn last record), 0 when the file was whole. */
  repairedBytes: number;
}

/** Reads `path` and repairs a torn last record in place. */
export async function readLedger(path: string): Promise<Ledger> {
  const handle = await open(path, 'r');
  const size = (await handle.stat()).size;
  const parser = handle.createReadStream({ autoClose: false }).pipe(
    new Parser({ info: true, relax_column_count: true, record_delimiter: ['\r\n', '\n'] }),
  );
  let header: string[] | undefined;
  let lineCol = -1;
  let statusCol = -1;
  let goodBytes = 0;
  let rows = 0;
  const final = new Map<number, RowStatus>();
  // The newest record is held back until the next one proves it complete: a record is whole only
  // if a newline follows it (the writer ends every row with one).
  let held: { record: string[]; end: number } | undefined;
  const commit = () => {
    if (!held) return;
    goodBytes = held.end;
    rows++;
    const status = held.record[statusCol]!;
    if (FINAL_STATUSES.has(status)) final.set(Number(held.record[lineCol]), status as RowStatus);
    held = undefined;
  };
  let lastByte = -1;
  try {
    if (size > 0) {
      const { buffer } = await handle.read(Buffer.alloc(1), 0, 1, size - 1);
      lastByte = buffer[0]!;
    }
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      if (!header) {
        header = record;
        lineCol = header.indexOf('Result.Line');
        statusCol = header.indexOf('Result.Status');
        if (lineCol === -1 || statusCol === -1 || header.slice(-RESULT_COLUMNS.length).join() !== RESULT_COLUMNS.join()) {
          throw new InputError(`${path} is not a results file of this tool (its last columns must be ${RESULT_COLUMNS.join(', ')})`);
        }
        goodBytes = info.bytes;
        continue;
      }
      // A record cut short has too few fields: everything from it on is the torn tail.
      if (record.length !== header.length) break;
      commit();
      held = { record, end: info.bytes };
    }
    if (held && (held.end < size || lastByte === 0x0a)) commit();
  } catch (err) {
    if (err instanceof InputError) throw err;
    // An unclosed quote at the very end: the last record was torn inside a quoted cell.
    if ((err as { code?: string }).code !== 'CSV_QUOTE_NOT_CLOSED') throw err;
    commit();
  } finally {
    await handle.close();
  }
  if (!header) throw new InputError(`${path} is empty: it holds no results header`);
  if (goodBytes < size) await truncate(path, goodBytes);
  return { header, final, rows, repairedBytes: size - goodBytes };
}

/** Reads the `Result.*` cells of a results file's record (for rerun) into a RowResult. */
export function earlierResults(header: string[], path: string): (values: string[]) => RowResult {
  const col = (name: string) => {
    const i = header.lastIndexOf(name);
    if (i === -1) throw new UsageError(`${path} is not a results file: it has no ${name} column (rerun takes the results file of a run)`);
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
