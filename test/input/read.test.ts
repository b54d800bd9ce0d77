import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openCsv } from '../../src/input/read.js';
import type { InputRecord } from '../../src/types.js';
import { tempDir } from '../helpers.js';

async function readAll(content: string | Buffer, name = 'in.csv', options = {}) {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  const csv = await openCsv(path, options);
  const records: InputRecord[] = [];
  const ends: number[] = [];
  for await (const { endByte, ...r } of csv.records) {
    records.push(r);
    ends.push(endByte!);
  }
  return { header: csv.header, records, ends };
}

describe('openCsv', () => {
  it('gives each record the physical line where it starts, across quoted line breaks and blank lines', async () => {
    const { header, records, ends } = await readAll('\uFEFFa,b\n1,"x\ny"\n\n2,z\r\n"3","q""\n\nr"\n4,w');
    expect(ends).toEqual([12, 18, 31, 34]); // decoded bytes up to each record's end (the BOM is not counted)
    expect(header).toEqual(['a', 'b']);
    expect(records).toEqual([
      { line: 2, values: ['1', 'x\ny'] },
      { line: 5, values: ['2', 'z'] },
      { line: 6, values: ['3', 'q"\n\nr'] },
      { line: 9, values: ['4', 'w'] },
    ]);
  });

  it('reads gzip, semicolons and latin1', async () => {
    expect((await readAll(gzipSync('a;b\n1;2\n'), 'in.csv.gz', { delimiter: ';' })).records).toEqual([{ line: 2, values: ['1', '2'] }]);
    const latin1 = Buffer.from('Name\nCaf\xe9\n', 'latin1');
    expect((await readAll(latin1, 'in.csv', { encoding: 'latin1' })).records[0]!.values).toEqual(['Café']);
  });

  it('refuses invalid UTF-8 instead of sending replacement characters', async () => {
    const latin1 = Buffer.from('Name\nok\nCaf\xe9\n', 'latin1');
    await expect(readAll(latin1)).rejects.toThrow(/not valid utf-8 near line 3: pass --encoding/);
  });

  it('names the line of an unclosed quote and bounds the record size', async () => {
    await expect(readAll('a\n"never closed\n' + 'x'.repeat(100), 'in.csv', { maxRecordChars: 50 })).rejects.toThrow(/CSV error CSV_MAX_RECORD_SIZE in the record starting at line 2: a quote opened there is never closed/);
    await expect(readAll('a\n"open\n')).rejects.toThrow(/CSV error CSV_QUOTE_NOT_CLOSED/);
  });

  it('fails clearly on a missing or empty file', async () => {
    await expect(openCsv('/no/such/file.csv')).rejects.toThrow('cannot read /no/such/file.csv: ENOENT');
    await expect(readAll('')).rejects.toThrow(/is empty: a header row is needed/);
    await expect(openCsv(join(tempDir(), 'x.csv'), { encoding: 'klingon' })).rejects.toThrow(/unknown --encoding/);
  });
});

describe('a broken record mid-file', () => {
  it('hands over every record before it, then the error with its line', async () => {
    const path = join(tempDir(), 'in.csv');
    writeFileSync(path, 'a,b\n1,x\n2,"y\n3,z\n');
    const csv = await openCsv(path);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const r of csv.records) seen.push(r.line);
      })(),
    ).rejects.toThrow(/CSV error CSV_QUOTE_NOT_CLOSED in the record starting at line 3: a quote opened there is never closed/);
    expect(seen).toEqual([2]);
  });
});
