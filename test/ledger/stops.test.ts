/** The stop file: a torn last row (a kill -9 mid-write) is cut off, the last row of a line wins. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStopRows, STOP_COLUMNS, StopWriter, stopResultsPath } from '../../src/ledger/stops.js';
import { tempDir } from '../helpers.js';

describe('stop file', () => {
  it('is named after the results file, beside it', () => {
    expect(stopResultsPath('/a/x.results.csv')).toBe('/a/x.results.stop.csv');
    expect(stopResultsPath('out/x')).toBe('out/x.stop.csv');
    expect(stopResultsPath('x.results.csv')).toBe('x.results.stop.csv');
  });

  it('writes rows that read back, quoting messages; a torn tail is cut off; the last row of a line wins', async () => {
    const path = join(tempDir(), 'x.results.stop.csv');
    const writer = new StopWriter(path, true, () => {});
    writer.write({
      line: 2,
      contactId: 'c2',
      status: 'failed',
      attempts: 8,
      errorCode: 'E',
      errorMessage: 'a, "b"\nc',
    });
    writer.write({ line: 3, contactId: 'c3', status: 'stopped', attempts: 1 });
    writer.write({
      line: 2,
      contactId: 'c2',
      status: 'already-ended',
      attempts: 1,
      errorCode: 'ContactNotFoundException',
    });
    writer.close();
    writeFileSync(path, `${readFileSync(path, 'utf8')}4,c4,stop`, { flag: 'w' });
    const { byLine, repairedBytes } = await readStopRows(path);
    expect(repairedBytes).toBe(Buffer.byteLength('4,c4,stop'));
    expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true);
    expect([...byLine.values()]).toEqual([
      { line: 2, contactId: 'c2', status: 'already-ended', attempts: 1, errorCode: 'ContactNotFoundException' },
      { line: 3, contactId: 'c3', status: 'stopped', attempts: 1 },
    ]);
    expect(readFileSync(path, 'utf8').split('\n')[0]).toBe(STOP_COLUMNS.join(','));
    expect(readFileSync(path, 'utf8')).toContain('"a, ""b"" c"');
  });

  it('refuses a file that is not a stop file', async () => {
    const path = join(tempDir(), 'other.csv');
    writeFileSync(path, 'Name,Description\nx,y\n');
    await expect(readStopRows(path)).rejects.toThrow(/not a stop results file/);
  });
});
