/**
 * The CSV scanner against csv-parse: lenient, it ends records where csv-parse does (and counts lines
 * by `\n`), however the bytes are handed over; strict, it reads cells exactly as csv-parse reads
 * them, or stops — for generated CSV (quotes, doubled quotes, delimiters and line breaks inside
 * cells, CRLF, a BOM, multi-byte text and delimiters), whole or damaged, read in chunks small enough
 * to cut records and characters anywhere. The callers' own tests hold them to csv-parse as well
 * (test/input/csv/split.test.ts, test/ledger/scan.test.ts, test/ledger/merge.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvScanner, MORE, ODD, QUOTED, RECORD, type ScanOptions } from '../../src/csv/scan.js';
import { tempDir } from '../helpers.js';

/** '©' shares its first byte with '§', '😁' its first three with '😀'. */
const delimiters = [',', ';', '\t', '§', '😀'];
const unit = fc.constantFrom('a', ' ', ',', ';', '\t', '"', '\n', '\r', '\r\n', 'é', '©', '§', '😀', '😁');
/** A file by the book for delimiter `d`: a cell that needs quotes has them; others may too. */
const file = fc
  .record({
    d: fc.constantFrom(...delimiters),
    records: fc.array(
      fc.array(fc.tuple(fc.string({ unit, maxLength: 6 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
      { minLength: 1, maxLength: 6 },
    ),
    crlf: fc.boolean(),
    bom: fc.boolean(),
  })
  .map(({ d, records, crlf, bom }) => {
    const quote = (c: string, q: boolean) =>
      q || /["\r\n]/.test(c) || c.includes(d) ? `"${c.replaceAll('"', '""')}"` : c;
    const text = records.map((cells) => cells.map(([c, q]) => quote(c, q)).join(d) + (crlf ? '\r\n' : '\n')).join('');
    return { d, bytes: Buffer.from((bom ? '\uFEFF' : '') + text) };
  });
/** The same, with a byte dropped, added or changed anywhere, or the end cut off. */
const damaged = fc
  .tuple(file, fc.nat(), fc.constantFrom('drop', 'quote', 'cr', 'lf', 'delimiter', 'cut'))
  .map(([{ d, bytes }, at, how]) => {
    const i = at % (bytes.length + 1);
    const put = Buffer.from({ drop: '', cut: '', quote: '"', cr: '\r', lf: '\n', delimiter: d }[how]);
    return {
      d,
      bytes: Buffer.concat([
        bytes.subarray(0, i),
        put,
        how === 'cut' ? Buffer.alloc(0) : bytes.subarray(how === 'drop' ? i + 1 : i),
      ]),
    };
  });

/** csv-parse's records of `bytes`, each with the byte offset after it; undefined where it refuses. */
function csvParse(bytes: Buffer, delimiter: string): { record: string[]; bytes: number }[] | undefined {
  try {
    const read = parse(bytes, {
      delimiter,
      bom: true,
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n'],
      info: true,
    }) as unknown as { record: string[]; info: { bytes: number } }[];
    return read.map(({ record, info }) => ({ record, bytes: info.bytes }));
  } catch {
    return undefined;
  }
}

/**
 * The lenient scanner over `bytes`, handed over in pieces cut at `cuts` (never inside a character),
 * as the input reader hands it decoded text: without a BOM. Offsets are in `bytes`.
 */
function lenient(all: Buffer, cuts: number[], delimiter: string) {
  const bom = all.subarray(0, 3).equals(Buffer.from('\uFEFF')) ? 3 : 0;
  const bytes = all.subarray(bom);
  const scanner = new CsvScanner({ delimiter });
  const ends: number[] = [];
  const lines: number[] = [];
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))]
    .filter((c) => (bytes[c]! & 0xc0) !== 0x80)
    .sort((a, b) => a - b);
  let from = 0;
  for (const to of [...at, bytes.length]) {
    scanner.feed(bytes.subarray(from, to), to - from);
    while (scanner.next() === RECORD) {
      ends.push(bom + from + scanner.pos);
      lines.push(scanner.line);
    }
    from = to;
  }
  return { ends, lines, inQuotes: scanner.inQuotes };
}

/** The strict scanner over a file of `bytes`, `chunk` bytes read at a time. */
async function strict(bytes: Buffer, chunk: number, options: ScanOptions) {
  const path = join(tempDir(), 's.csv');
  writeFileSync(path, bytes);
  const handle = await open(path, 'r');
  try {
    const scanner = new CsvScanner({ ...options, strict: true });
    await scanner.open(handle, chunk);
    const records: string[][] = [];
    const ends: number[] = [];
    const starts: number[] = [];
    const crOutsideQuotes: boolean[] = [];
    for (;;) {
      const token = scanner.next();
      if (token === MORE) {
        if (await scanner.read()) continue;
        return { records, starts, ends, crOutsideQuotes, whole: scanner.between };
      }
      if (token === ODD) return { records, starts, ends, crOutsideQuotes, whole: false };
      expect(token).toBe(RECORD);
      const { buf, width, starts: s, ends: e, flags } = scanner;
      records.push(Array.from({ length: width }, (_, i) => scanner.cell(i)));
      starts.push(scanner.base + scanner.recordStart);
      ends.push(scanner.base + scanner.pos);
      const plain = Array.from({ length: width }, (_, i) =>
        flags[i]! & QUOTED ? '' : buf.toString('latin1', s[i], e[i]),
      );
      crOutsideQuotes.push(plain.some((c) => c.includes('\r')) || buf[scanner.pos - 2] === 0x0d);
    }
  } finally {
    await handle.close();
  }
}

describe('CsvScanner, lenient', () => {
  it('ends every record where csv-parse does, and counts lines by `\\n`, however the bytes are handed over', () => {
    fc.assert(
      fc.property(file, fc.array(fc.nat(), { maxLength: 8 }), ({ d, bytes }, cuts) => {
        const expected = csvParse(bytes, d)!;
        const got = lenient(bytes, cuts, d);
        expect(got.ends).toEqual(expected.map((r) => r.bytes));
        expect(got.lines).toEqual(got.ends.map((end) => 1 + bytes.subarray(0, end).filter((b) => b === 0x0a).length));
        expect(got.inQuotes).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('knows the line a quote never closed opened on', () => {
    const scanner = new CsvScanner();
    const bytes = Buffer.from('a,"b\nc"\r\nd,e"\n"f\ng\n\ni');
    scanner.feed(bytes, bytes.length);
    const lines: number[] = [];
    while (scanner.next() === RECORD) lines.push(scanner.line);
    expect(lines).toEqual([3, 4]);
    expect([scanner.inQuotes, scanner.quoteLine, scanner.line]).toEqual([true, 4, 7]);
  });
});

describe('CsvScanner, strict', () => {
  it('reads a file by the book as csv-parse does, whatever the chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(file, fc.integer({ min: 1, max: 64 }), async ({ d, bytes }, chunk) => {
        const expected = csvParse(bytes, d)!;
        const got = await strict(bytes, chunk, { delimiter: d });
        expect(got.whole).toBe(true);
        expect(got.records).toEqual(expected.map((r) => r.record));
      }),
      { numRuns: 400 },
    );
  });

  it(
    'on a damaged file hands over what csv-parse reads of the bytes up to where it stops, and ends records where ' +
      'the lenient scanner does',
    async () => {
      await fc.assert(
        fc.asyncProperty(damaged, fc.integer({ min: 1, max: 64 }), async ({ d, bytes }, chunk) => {
          const got = await strict(bytes, chunk, { delimiter: d });
          const read = got.ends.at(-1) ?? (bytes.subarray(0, 3).equals(Buffer.from('\uFEFF')) ? 3 : 0);
          expect(got.records).toEqual((csvParse(bytes.subarray(0, read), d) ?? []).map((r) => r.record));
          if (got.whole) expect(read).toBe(bytes.length);
          expect(lenient(bytes, [], d).ends.slice(0, got.ends.length)).toEqual(got.ends);
        }),
        { numRuns: 800 },
      );
    },
  );

  it('with no `\\r` outside quotes, stops at the first record that holds one (a CRLF line end too)', async () => {
    await fc.assert(
      fc.asyncProperty(damaged, fc.integer({ min: 1, max: 64 }), async ({ d, bytes }, chunk) => {
        const any = await strict(bytes, chunk, { delimiter: d });
        const lf = await strict(bytes, chunk, { delimiter: d, crOutsideQuotes: false });
        const first = any.crOutsideQuotes.indexOf(true);
        expect(lf.records).toEqual(first === -1 ? any.records : any.records.slice(0, first));
        expect(lf.whole).toBe(any.whole && first === -1);
      }),
      { numRuns: 600 },
    );
  });

  it('gives each record its byte offset, after a BOM and across multi-line cells', async () => {
    const got = await strict(Buffer.from('\uFEFFa,b\n"x\ny",2\r\n3,"q""r"\n'), 3, {});
    expect(got.records).toEqual([
      ['a', 'b'],
      ['x\ny', '2'],
      ['3', 'q"r'],
    ]);
    expect(got.starts).toEqual([3, 7, 16]);
    expect(got.whole).toBe(true);
  });

  it.each([
    ['a torn last record', 'a,b\n1,2', true],
    ['a quote inside an unquoted cell', 'a,b\n1,x"y\n', true],
    ['text after a closing quote', 'a,b\n"1"x,2\n', true],
    ['a quote never closed', 'a,b\n"1,2\n', true],
    ['a `\\r` after a closing quote but no `\\n`', 'a,b\n"1"\r2\n', true],
    ['a CRLF line end, when odd', 'a,b\r\n1,2\r\n', false],
    ['a `\\r` in an unquoted cell, when odd', 'a,b\n1\r,2\n', false],
  ])('stops at %s', async (_name, text, crOutsideQuotes) => {
    const got = await strict(Buffer.from(text), 4, { crOutsideQuotes });
    expect(got.whole).toBe(false);
    expect(got.records.length).toBeLessThanOrEqual(1);
  });
});
