import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type CsvError, parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openCsv, plainCells } from '../../../src/input/csv/read.js';
import type { InputRecord } from '../../../src/types.js';
import { tempDir } from '../../helpers.js';

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
    expect((await readAll(gzipSync('a;b\n1;2\n'), 'in.csv.gz', { delimiter: ';' })).records).toEqual([
      { line: 2, values: ['1', '2'] },
    ]);
    const latin1 = Buffer.from('Name\nCaf\xe9\n', 'latin1');
    expect((await readAll(latin1, 'in.csv', { encoding: 'latin1' })).records[0]!.values).toEqual(['Café']);
  });

  it('refuses invalid UTF-8 instead of sending replacement characters', async () => {
    const latin1 = Buffer.from('Name\nok\nCaf\xe9\n', 'latin1');
    await expect(readAll(latin1)).rejects.toThrow(
      /not valid utf-8 at line 3: the records before it were read; .*Pass --encoding/,
    );
  });

  it('a quote never closed at the end of the file is one unreadable record naming where it opened', async () => {
    const { records } = await readAll('a,b\n1,x\n2,"y\n3,z\n');
    expect(records).toEqual([
      { line: 2, values: ['1', 'x'] },
      {
        line: 3,
        values: [],
        unreadable: { code: 'UnclosedQuote', reason: expect.stringMatching(/quote opened on line 3 is never closed/) },
      },
    ]);
  });

  it('fails clearly on a missing or empty file', async () => {
    await expect(openCsv('/no/such/file.csv')).rejects.toThrow('cannot read /no/such/file.csv: ENOENT');
    await expect(readAll('')).rejects.toThrow(/is empty: a header row is needed/);
    await expect(openCsv(join(tempDir(), 'x.csv'), { encoding: 'klingon' })).rejects.toThrow(/unknown --encoding/);
  });
});

describe('a record that cannot be read is one unreadable record; the next one is read', () => {
  const codes = (records: InputRecord[]) => records.map((r) => [r.line, r.unreadable?.code ?? 'ok']);

  it('a record over the size limit, quoted and multi-line or not, never blamed on a quote', async () => {
    const big = 'x'.repeat(200);
    const { records } = await readAll(`a,b\n1,${big}\n2,"${big}\n${big}\n"\n3,z\n`, 'in.csv', { maxRecordBytes: 100 });
    expect(codes(records)).toEqual([
      [2, 'RecordTooLarge'],
      [3, 'RecordTooLarge'],
      [6, 'ok'],
    ]);
    expect(records[0]!.unreadable!.reason).toMatch(/^the record is 202 bytes, over the limit of 100/);
    expect(records[1]!.unreadable!.reason).not.toMatch(/quote/i);
    expect(records[2]!.values).toEqual(['3', 'z']);
  });

  it('the default limit is 1 MiB of UTF-8: an unquoted 2 MB cell, 600 Ki of "é", a 1 MiB+ quoted record', async () => {
    const e = 'é'.repeat(600 * 1024);
    const content =
      `Name,Notes\nA,${'y'.repeat(2_000_000)}\nB,${e}\nC,"${'z\n'.repeat(600_000)}"\nD,ok\n` +
      `E,${'w'.repeat(1_000_000)}\n`;
    const { records } = await readAll(content);
    expect(codes(records)).toEqual([
      [2, 'RecordTooLarge'],
      [3, 'RecordTooLarge'],
      [4, 'RecordTooLarge'],
      [600_005, 'ok'],
      [600_006, 'ok'],
    ]);
  });

  it(
    'a stray quote in an unquoted cell: one unreadable ' + 'row with the cells as written, then the next record',
    async () => {
      const { records } = await readAll(
        'Name,Desc\nScreen,needs a 27" monitor\nOther,"fine"\nBad,"closed"then text\nLast,x\n',
      );
      expect(codes(records)).toEqual([
        [2, 'StrayQuote'],
        [3, 'ok'],
        [4, 'StrayQuote'],
        [5, 'ok'],
      ]);
      expect(records[0]!.values).toEqual(['Screen', 'needs a 27" monitor']);
      expect(records[0]!.unreadable!.reason).toMatch(/quote in column 2 inside a cell that does not start with one/);
      expect(records[0]!.unreadable!.reason).not.toContain('monitor');
    },
  );

  it('counts lines by LF: CRLF inside quoted cells once, a lone CR not at all', async () => {
    const { records } = await readAll('a,b\r\n1,"x\r\ny\r\nz"\r\n2,"p\rq"\r\n3,r\rs\r\n\r\n4,t');
    expect(records).toEqual([
      { line: 2, values: ['1', 'x\r\ny\r\nz'] },
      { line: 5, values: ['2', 'p\rq'] },
      { line: 6, values: ['3', 'r\rs'] },
      { line: 8, values: ['4', 't'] },
    ]);
  });

  it('invalid UTF-8 in row 2,000 of 3,000: the 1,999 records before it, then the error with its line', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) =>
      i === 1999 ? Buffer.from(`${i},Caf\xe9\n`, 'latin1') : Buffer.from(`${i},Café ${'x'.repeat(200)}\n`),
    );
    const path = join(tempDir(), 'in.csv');
    writeFileSync(path, Buffer.concat([Buffer.from('a,b\n'), ...rows]));
    const csv = await openCsv(path);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const r of csv.records) seen.push(r.line);
      })(),
    ).rejects.toThrow(/not valid utf-8 at line 2001/);
    expect(seen).toHaveLength(1999);
    expect(seen.at(-1)).toBe(2000);
  });

  it('names the right line when a character is split across the read-chunk boundary', async () => {
    const chunk = 256 * 1024;
    const head = Buffer.from('a,b\n');
    // Fill so that a 2-byte "é" straddles the chunk boundary, then a bad byte three lines later.
    const filler = Buffer.from(`1,${'x'.repeat(chunk - head.length - 3)}`);
    const content = Buffer.concat([
      head,
      filler,
      Buffer.from('é\n2,ok\n3,ok\n'),
      Buffer.from([0x34, 0x2c, 0xff, 0x0a]),
    ]);
    expect(content[chunk - 1]).toBe(0xc3); // the first byte of "é" ends the first chunk
    const path = join(tempDir(), 'in.csv');
    writeFileSync(path, content);
    const csv = await openCsv(path);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const r of csv.records) seen.push(r.line);
      })(),
    ).rejects.toThrow(/not valid utf-8 at line 5/);
    expect(seen).toEqual([2, 3, 4]);
  });

  it(
    'takes a tab (the settings table turns `tab` and `\\t` into one), and refuses a delimiter that is not one ' +
      'character',
    async () => {
      expect((await readAll('a\tb\n1\t2\n', 'in.csv', { delimiter: '\t' })).records[0]!.values).toEqual(['1', '2']);
      await expect(readAll('a;;b\n', 'in.csv', { delimiter: ';;' })).rejects.toThrow(
        /--delimiter must be one character/,
      );
    },
  );

  it('reads UTF-16 with a byte-order mark without --encoding', async () => {
    const text = '\uFEFFName\tNotes\nCafé\t1\n';
    expect((await readAll(Buffer.from(text, 'utf16le'), 'in.csv', { delimiter: '\t' })).records).toEqual([
      { line: 2, values: ['Café', '1'] },
    ]);
  });

  it('refuses a header that cannot be read or names no column', async () => {
    await expect(readAll('"Name,Desc\nx,y\n')).rejects.toThrow(
      /the header row \(line 1\) cannot be used: a quote opened on line 1 is never closed/,
    );
    await expect(readAll('Na"me,Desc\nx,y\n')).rejects.toThrow(
      /the header row \(line 1\) cannot be used: a quote in column 1/,
    );
    await expect(readAll(`${'h'.repeat(200)}\nx\n`, 'in.csv', { maxRecordBytes: 100 })).rejects.toThrow(
      /the header row \(line 1\) cannot be used: the record is 200 bytes/,
    );
    await expect(readAll(',,\nx,y,z\n')).rejects.toThrow(
      /the header row \(line 1\) cannot be used: it has no column names/,
    );
    await expect(readAll('\n\r\n\n')).rejects.toThrow(/is empty: a header row is needed/);
    await expect(readAll(Buffer.from('Caf\xe9\nx\n', 'latin1'))).rejects.toThrow(/not valid utf-8 at line 1/);
  });
});

describe('the header row again', () => {
  it('is unreadable (files joined together), not a task named after the columns', async () => {
    const { records } = await readAll('Name,Desc\nA,b\nName,Desc\nB,c\n');
    expect(records.map((r) => [r.line, r.unreadable?.code ?? 'ok'])).toEqual([
      [2, 'ok'],
      [3, 'RepeatedHeader'],
      [4, 'ok'],
    ]);
  });
});

describe('plainCells (the fast way through a record)', () => {
  /** How read.ts has csv-parse read one record's text; the error code when it refuses. */
  const csvParse = (text: string, delimiter: string): string[][] | string => {
    try {
      return parse(text, { delimiter, relax_column_count: true, record_delimiter: ['\r\n', '\n'] }) as string[][];
    } catch (err) {
      return (err as CsvError).code;
    }
  };
  const delimiters = [',', ';', '\t', '|'];
  /** Text the splitter can hand over: no line break outside quotes, none at the end. */
  const cell = fc.string({
    unit: fc.constantFrom('a', ' ', ',', ';', '|', '\t', '"', '\r', '\n', 'é', '😀'),
    maxLength: 6,
  });
  const record = fc
    .tuple(fc.array(fc.tuple(cell, fc.boolean()), { minLength: 1, maxLength: 5 }), fc.constantFrom(...delimiters))
    .map(([cells, d]) => ({
      d,
      text: cells
        .map(([c, q]) =>
          q || c.includes('"') || c.includes('\n') || c.includes('\r') || c.includes(d)
            ? `"${c.replaceAll('"', '""')}"`
            : c,
        )
        .join(d),
    }));

  it('reads a record by the book exactly as csv-parse does', () => {
    fc.assert(
      fc.property(record, ({ d, text }) => {
        if (!text) return;
        expect([plainCells(text, d)]).toEqual(csvParse(text, d));
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves to csv-parse any record it would read otherwise (a stray quote or byte anywhere)', () => {
    const damaged = fc.tuple(record, fc.nat(), fc.constantFrom('"', '\r', 'x', ' ', ''));
    fc.assert(
      fc.property(damaged, ([{ d, text }, at, put]) => {
        const i = at % (text.length + 1);
        const t = text.slice(0, i) + put + text.slice(put ? i : i + 1);
        if (!t || /\n/.test(t.replace(/"([^"]|"")*"/g, ''))) return; // the splitter cuts at a line break outside quotes
        if (t.endsWith('\r')) return; // the splitter takes a CR before the line break as part of it
        // half a character: decoded text never holds one
        if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(t)) return;
        const quick = plainCells(t, d);
        if (quick) expect([quick]).toEqual(csvParse(t, d));
      }),
      { numRuns: 3000 },
    );
  });
});
