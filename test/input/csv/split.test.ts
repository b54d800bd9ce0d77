import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RawRecord, RecordSplitter } from '../../../src/input/csv/split.js';

/** Feeds `text` in pieces cut at `cuts` (offsets), as a stream would hand it over. */
function split(text: string, cuts: number[], maxBytes = 1 << 20): RawRecord[] {
  const splitter = new RecordSplitter(',', maxBytes);
  const out: RawRecord[] = [];
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b).concat(text.length)) {
    out.push(...splitter.push(text.slice(at, cut)));
    at = cut;
  }
  const last = splitter.end();
  if (last) out.push(last);
  return out;
}

const cell = fc.string({ unit: fc.constantFrom('a', 'é', ',', '"', '\n', '\r', '\r\n', ' '), maxLength: 6 });
const record = fc.array(cell, { minLength: 1, maxLength: 3 }).filter((r) => r.length > 1 || r[0] !== '');

describe('RecordSplitter', () => {
  it('finds the records csv-stringify wrote, each on the line it starts, however the text is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(record, fc.constantFrom('\n', '\r\n'), fc.constantFrom('', '\n', '\r\n\n')), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (records, cuts) => {
          let text = '';
          const expected: { line: number; values: string[] }[] = [];
          for (const [values, eol, blank] of records) {
            // Quote any cell with a CR or LF, as the results writer does (csv-stringify alone leaves an LF
            // unquoted when records end with CRLF); line = 1 + LFs before the record.
            expected.push({ line: 1 + (text.match(/\n/g)?.length ?? 0), values });
            text += stringify([values], { record_delimiter: eol, quoted_match: /[\r\n]/ }) + blank;
          }
          const got = split(
            text,
            cuts.map((c) => c % (text.length + 1)),
          );
          const read = got.map((r) => ({
            line: r.line,
            values: (parse(r.text!, { relax_column_count: true, record_delimiter: ['\r\n', '\n'] }) as string[][])[0],
          }));
          expect(read).toEqual(expected);
        },
      ),
      { seed: 8, numRuns: Number(process.env.FULL ? 20_000 : 300) },
    );
  });

  it('drops a record over the limit and counts its size and lines; the next record is whole', () => {
    const text = `a,"${'x\r\n'.repeat(50)}"\r\nb,c\r\n`;
    const got = split(text, [7, 60, 61, 155], 100);
    expect(got).toEqual([
      { line: 1, tooLarge: { bytes: 155 }, endByte: 156 },
      { line: 52, text: 'b,c', endByte: 161 },
    ]);
  });

  it('ends with an unclosed quote naming the line it opened on', () => {
    expect(split('a,b\nc,"d\ne\n', [5])).toEqual([
      { line: 1, text: 'a,b', endByte: 4 },
      { line: 2, unclosedQuote: { openedAt: 2 }, endByte: 11 },
    ]);
  });
});
