/**
 * The fast way through a results file the tool wrote: the CSV scanner (csv/scan.ts), strict, so that
 * a 2,000,000-row ledger is read in seconds, not in the half a minute csv-parse's record objects take.
 *
 * It reads only what needs no judgement — quoted cells with `""`, `\n` or `\r\n` line ends, a BOM —
 * and stops at the first thing that does: a quote out of place, an empty line, a last record without
 * its line end (a torn row). The caller then reads the file the careful way (reader.ts), which repairs
 * or refuses it with the line named. So this scanner never decides anything csv-parse would read
 * otherwise: it either reads the file exactly as csv-parse does, or says it did not.
 */
import type { FileHandle } from 'node:fs/promises';
import { CsvScanner, MORE, RECORD } from '../csv/scan.js';

const CHUNK = 1 << 20;

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
export async function scanCsv(
  handle: FileHandle,
  each: (record: ScannedRecord) => boolean,
  chunk = CHUNK,
): Promise<boolean> {
  const scanner = new CsvScanner({ strict: true });
  const record: ScannedRecord = {
    get width() {
      return scanner.width;
    },
    get start() {
      return scanner.base + scanner.recordStart;
    },
    cell: (i) => scanner.cell(i),
  };
  await scanner.open(handle, chunk);
  for (;;) {
    const token = scanner.next();
    if (token === RECORD) {
      // An empty line: csv-parse skips it; the careful reader decides.
      if (scanner.width === 1 && scanner.flags[0] === 0 && scanner.starts[0] === scanner.ends[0]) return false;
      if (!each(record)) return false;
    } else if (token === MORE) {
      if (!(await scanner.read())) return scanner.between; // else a torn last record
    } else return false;
  }
}
