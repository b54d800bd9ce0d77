/**
 * The byte scanner reads a file exactly as csv-parse does, or says it did not: generated CSV (quotes,
 * doubled quotes, commas and line breaks inside cells, CRLF, a BOM, multi-byte text), whole or
 * damaged, read in chunks small enough to cut records and characters anywhere.
 */
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanCsv } from '../../src/ledger/scan.js';
import { tempDir } from '../helpers.js';

async function scan(text: string, chunk: number): Promise<{ whole: boolean; records: string[][]; starts: number[] }> {
  const path = join(tempDir(), 's.csv');
  writeFileSync(path, text);
  const handle = await open(path, 'r');
  try {
    const records: string[][] = [];
    const starts: number[] = [];
    const whole = await scanCsv(
      handle,
      (r) => {
        records.push(Array.from({ length: r.width }, (_, i) => r.cell(i)));
        starts.push(r.start);
        return true;
      },
      chunk,
    );
    return { whole, records, starts };
  } finally {
    await handle.close();
  }
}

/** As the careful reader (reader.ts) has csv-parse read a results file; undefined where it refuses. */
function csvParse(text: string): string[][] | undefined {
  try {
    return parse(text, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      record_delimiter: ['\r\n', '\n'],
    }) as string[][];
  } catch {
    return undefined;
  }
}

const cellText = fc.string({
  unit: fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r', 'é', '€', '😀', 'x'),
  maxLength: 8,
});
const quoted = (c: string) => `"${c.replaceAll('"', '""')}"`;
/** A record as a writer by the book would put it: a cell that needs quotes has them; others may too. */
const record = fc
  .array(fc.tuple(cellText, fc.boolean()), { minLength: 1, maxLength: 5 })
  .map((cells) => cells.map(([c, quote]) => (quote || /[",\r\n]/.test(c) ? quoted(c) : c)).join(','));
const file = fc.record({
  bom: fc.boolean(),
  records: fc.array(record, { minLength: 1, maxLength: 8 }),
  crlf: fc.boolean(),
});
const text = (f: { bom: boolean; records: string[]; crlf: boolean }) =>
  (f.bom ? '\uFEFF' : '') + f.records.map((r) => `${r}${f.crlf ? '\r\n' : '\n'}`).join('');

describe('scanCsv', () => {
  it('reads a whole file by the book as csv-parse does, whatever the chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(file, fc.integer({ min: 1, max: 64 }), async (f, chunk) => {
        const t = text(f);
        const expected = csvParse(t)!;
        const got = await scan(t, chunk);
        // A record that is one empty cell is an empty line to csv-parse (skipped): the scanner leaves it to the careful
        // reader.
        if (f.records.includes('')) {
          expect(got.whole).toBe(false);
        } else {
          expect(got.whole).toBe(true);
          expect(got.records).toEqual(expected);
        }
      }),
      { numRuns: 400 },
    );
  });

  it(
    'on a damaged file (a byte dropped, added or changed ' + 'anywhere) reads what csv-parse reads, or says it did not',
    async () => {
      const damage = fc.tuple(
        file,
        fc.nat(),
        fc.constantFrom('drop', 'quote', 'cr', 'lf', 'comma', 'cut'),
        fc.integer({ min: 1, max: 64 }),
      );
      await fc.assert(
        fc.asyncProperty(damage, async ([f, at, how, chunk]) => {
          const t = text(f);
          const i = at % (t.length + 1);
          const broken =
            how === 'drop'
              ? t.slice(0, i) + t.slice(i + 1)
              : how === 'cut'
                ? t.slice(0, i)
                : t.slice(0, i) + { quote: '"', cr: '\r', lf: '\n', comma: ',' }[how] + t.slice(i);
          const got = await scan(broken, chunk);
          if (got.whole) expect(got.records).toEqual(csvParse(broken));
        }),
        { numRuns: 600 },
      );
    },
  );

  it('gives each record its byte offset, after a BOM and across multi-line cells', async () => {
    const t = '\uFEFFa,b\n"x\ny",2\r\n3,"q""r"\n';
    const got = await scan(t, 3);
    expect(got.whole).toBe(true);
    expect(got.records).toEqual([
      ['a', 'b'],
      ['x\ny', '2'],
      ['3', 'q"r'],
    ]);
    expect(got.starts).toEqual([3, 7, 16]);
  });

  it.each([
    ['no line end after the last record', 'a,b\n1,2'],
    ['a quote inside an unquoted cell', 'a,b\n1,x"y\n'],
    ['text after a closing quote', 'a,b\n"1"x,2\n'],
    ['a quote never closed', 'a,b\n"1,2\n'],
    ['an empty line', 'a,b\n\n1,2\n'],
  ])('stops at %s', async (_name, t) => {
    expect((await scan(t, 4)).whole).toBe(false);
  });
});
