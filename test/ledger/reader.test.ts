import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLedger } from '../../src/ledger/reader.js';
import { tempDir } from '../helpers.js';

const HEADER =
  'Name,Result.Line,Result.Status,Result.ContactId,Result.ClientToken,Result.Attempts,Result.ErrorCode,' +
  'Result.ErrorMessage\n';
const ROW2 = 'a,2,created,c-2,t-2,1,,\n';
const ROW3 = '"b\nmulti",3,failed,,t-3,8,InternalServiceException,"boom, again"\n';

function ledgerOf(text: string) {
  const path = join(tempDir(), 'r.csv');
  writeFileSync(path, text);
  return readLedger(path).then((l) => ({ ...l, text: readFileSync(path, 'utf8') }));
}

describe('readLedger', () => {
  it('reads final rows by input line and leaves a whole file alone', async () => {
    const l = await ledgerOf(`${HEADER + ROW2 + ROW3}c,5,planned,,t-5,0,,\n`);
    expect([2, 3, 5].map((line) => l.final.get(line))).toEqual(['created', 'failed', undefined]);
    expect(l.final.size).toBe(2);
    expect(l.rows).toBe(3);
    expect(l.repairedBytes).toBe(0);
  });

  it.each([
    ['a row cut before its last fields', 'd,6,created,c-6'],
    [
      'a row with every field but no newline (the last cell cut short)',
      'd,6,failed,,t-6,2,InternalServiceException,"Injected fail',
    ],
    ['a row with every field, unquoted, no newline', 'd,6,failed,,t-6,2,InternalServiceException,Injected'],
    ['a row cut inside a quoted multi-line cell', '"d\nmulti'],
  ])('cuts off %s and keeps the rest', async (_name, torn) => {
    const l = await ledgerOf(HEADER + ROW2 + ROW3 + torn);
    expect(l.text).toBe(HEADER + ROW2 + ROW3);
    expect(l.rows).toBe(2);
    expect(l.final.get(6)).toBeUndefined();
    expect(l.repairedBytes).toBe(Buffer.byteLength(torn));
  });

  it('cuts a final record that does not parse (a stray quote on the last line)', async () => {
    const l = await ledgerOf(`${HEADER + ROW2 + ROW3}needs a 27" monitor,6,created,c-6,t-6,1,,\n`);
    expect(l.text).toBe(HEADER + ROW2 + ROW3);
    expect(l.repairedLine).toBe(5);
  });

  it.each([
    ['a wrong number of fields', 'x,4,created,c-4\n', /line 5: it has 4 fields where the header has 8/],
    ['a stray quote', 'needs a 27" monitor,4,created,c-4,t-4,1,,\n', /line 5: CSV error .*QUOTE/],
    [
      'an opening quote never closed (swallowing quote-free rows)',
      '"x,4,created,c-4,t-4,1,,\n',
      /line 5: CSV error CSV_QUOTE_NOT_CLOSED/,
    ],
    [
      'a status that is none of ours',
      'x,4,donez,c-4,t-4,1,,\n',
      /line 5: its Result.Status is not one of created, failed, invalid, filtered, planned/,
    ],
  ])('refuses, naming the line, a row in the middle with %s — and cuts nothing', async (_name, bad, message) => {
    const tail = 'e,7,created,c-7,t-7,1,,\nf,8,created,c-8,t-8,1,,\n';
    const path = join(tempDir(), 'r.csv');
    const text = HEADER + ROW2 + ROW3 + bad + tail;
    writeFileSync(path, text);
    const err = (await readLedger(path).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/monitor|needs a/); // no cell value
    expect(err).toMatchObject({ exitCode: 2 });
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('reads a file saved by Excel (BOM, CRLF) like one it wrote', async () => {
    const crlf = (t: string) => t.replace(/\n/g, '\r\n');
    const l = await ledgerOf(`\uFEFF${crlf(HEADER + ROW2 + ROW3)}`);
    expect(l.header[0]).toBe('Name');
    expect([2, 3, 5].map((line) => l.final.get(line))).toEqual(['created', 'failed', undefined]);
    expect(l.final.size).toBe(2);
    expect(l.repairedBytes).toBe(0);
  });

  it('without repair (rerun), a torn end is refused rather than cut', async () => {
    const path = join(tempDir(), 'r.csv');
    writeFileSync(path, `${HEADER + ROW2}d,6,created,c-6`);
    await expect(readLedger(path, { repair: false })).rejects.toThrow(/line 3: the last row is torn .* --resume/);
    expect(readFileSync(path, 'utf8')).toBe(`${HEADER + ROW2}d,6,created,c-6`);
  });

  it('refuses a file that is not a results file', async () => {
    await expect(ledgerOf('Name,Description\nx,y\n')).rejects.toThrow(/is not a results file of this tool/);
  });
});

describe('readLedger and spreadsheet edits', () => {
  it('forgives stray spaces and capitals in a status, as rerun does: the row stays final', async () => {
    const path = join(tempDir(), 'r.csv');
    writeFileSync(path, `${HEADER + ROW2 + ROW3}x,4, Created ,c-4,t-4,1,,\n`);
    const l = await readLedger(path);
    expect(l.final.get(4)).toBe('created');
  });
});

describe('readLedger of a whole file (the scanner) and of a damaged one (csv-parse) alike', () => {
  it(
    'keeps far line numbers (a hand-typed 1e9) and reads a BOM and CRLF file the fast way and the careful way ' +
      'the same',
    async () => {
      const rows = `${HEADER + ROW2}x,1000000000,failed,,t-9,8,E,m\ny,134217728,invalid,,,0,InvalidRow,bad\n`;
      for (const text of [rows, `\uFEFF${rows.replace(/\n/g, '\r\n')}`, `${rows}torn,7,creat`]) {
        const l = await ledgerOf(text);
        expect([2, 1e9, 2 ** 27, 7].map((line) => l.final.get(line))).toEqual([
          'created',
          'failed',
          'invalid',
          undefined,
        ]);
        expect(l.final.size).toBe(3);
        expect(l.rows).toBe(3);
      }
    },
  );
});

describe("readLedger for a rerun's coverage check", () => {
  it('names the first second row for one input line, by its line in the results file', async () => {
    const path = join(tempDir(), 'r.csv');
    writeFileSync(path, HEADER + ROW2 + ROW3 + ROW3);
    const l = await readLedger(path, { repair: false });
    expect(l.rows).toBe(3);
    expect(l.repeated).toEqual({ line: 3, at: 5 }); // ROW3's cell spans lines 3–4: the second copy starts on line 5
  });
});
