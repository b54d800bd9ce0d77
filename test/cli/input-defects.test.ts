/**
 * The input-defects corpus (test/fixtures/inputs/, described in its README): every bad or awkward
 * input a user really has, run through the command line (the compiled bin for standard input) and
 * the real SDK against one in-process emulator. Each case states the results rows (line, status, error code), a message
 * fragment and the exit code. Oversized inputs are generated here rather than committed.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileEmulator } from '../emulator.js';
import { fileTempDir, readResults, ROUTE_FLAGS as route } from '../helpers.js';
import { cli, spawnCli } from './bin.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/inputs');

const emulator = fileEmulator({ rate: 1000, burst: 1000 });

type Row = [line: number, status: string, code?: string];
interface Case {
  /** A file in test/fixtures/inputs/, or content made here. */
  file: string;
  make?: () => Buffer;
  args?: string[];
  stdin?: boolean;
  exit: number;
  /** Results rows in line order; absent when nothing may be left behind (exit 2). */
  rows?: Row[];
  message?: RegExp;
  /** Cell text that must appear in no log or message. */
  secret?: string;
}

const created = (...lines: number[]): Row[] => lines.map((l) => [l, 'created']);

const CASES: Case[] = [
  { file: 'bom.csv', exit: 0, rows: created(2, 3) },
  { file: 'crlf.csv', exit: 0, rows: created(2, 3) },
  { file: 'crlf-multiline.csv', exit: 0, rows: created(2, 5, 6, 8) },
  { file: 'quoted-newlines.csv', exit: 0, rows: created(2, 4, 7) },
  { file: 'lone-cr.csv', exit: 0, rows: created(2, 3, 4) },
  { file: 'blank-lines.csv', exit: 0, rows: created(5, 8) },
  { file: 'blank-header-column.csv', exit: 0, rows: created(2, 3) },
  { file: 'duplicate-column.csv', exit: 2, message: /the header repeats the mapped column\(s\) "Name"/ },
  {
    file: 'repeated-header-row.csv',
    exit: 1,
    rows: [
      [2, 'created'],
      [3, 'invalid', 'RepeatedHeader'],
      [4, 'created'],
    ],
  },
  // Another number of cells than the header is refused by the mapping (a shifted cell would go to the wrong member).
  {
    file: 'ragged-short.csv',
    exit: 1,
    rows: [
      [2, 'invalid', 'InvalidRow'],
      [3, 'invalid', 'InvalidRow'],
      [4, 'created'],
    ],
  },
  {
    file: 'ragged-long.csv',
    exit: 1,
    rows: [
      [2, 'invalid', 'InvalidRow'],
      [3, 'invalid', 'InvalidRow'],
      [4, 'created'],
    ],
  },
  {
    file: 'stray-quote.csv',
    exit: 1,
    rows: [
      [2, 'invalid', 'StrayQuote'],
      [3, 'created'],
      [4, 'invalid', 'StrayQuote'],
      [5, 'invalid', 'StrayQuote'],
      [6, 'created'],
    ],
    secret: 'monitor',
  },
  {
    file: 'unclosed-quote-end.csv',
    exit: 1,
    rows: [
      [2, 'created'],
      [3, 'created'],
      [4, 'invalid', 'UnclosedQuote'],
    ],
    message: /"line":4,"status":"invalid","code":"UnclosedQuote"/,
  },
  { file: 'no-final-newline.csv', exit: 0, rows: created(2, 3) },
  { file: 'latin1.csv', exit: 1, rows: created(2), message: /is not valid utf-8 at line 3: .*Pass --encoding/ },
  { file: 'latin1.csv', args: ['--encoding', 'latin1'], exit: 0, rows: created(2, 3, 4) },
  { file: 'windows-1252.csv', args: ['--encoding', 'windows-1252'], exit: 0, rows: created(2, 3) },
  { file: 'utf16le-bom.txt', args: ['--delimiter', '\t'], exit: 0, rows: created(2, 3) },
  { file: 'semicolon.csv', args: ['--delimiter', ';'], exit: 0, rows: created(2, 3) },
  { file: 'semicolon.csv', exit: 2, message: /Name/ },
  { file: 'tab.tsv', args: ['--delimiter', '\t'], exit: 0, rows: created(2, 3) },
  { file: 'gzip.csv.gz', exit: 0, rows: created(2, 3) },
  { file: 'stdin.csv', stdin: true, args: ['--token-namespace', 'fixture'], exit: 0, rows: created(2, 3) },
  { file: 'empty.csv', exit: 2, message: /is empty: a header row is needed/ },
  { file: 'blank-only.csv', exit: 2, message: /is empty: a header row is needed/ },
  { file: 'header-only.csv', exit: 0, rows: [], message: /header row and no records/ },
  { file: 'header-stray-quote.csv', exit: 2, message: /the header row \(line 1\) cannot be used: a quote in column 1/ },
  {
    file: 'header-unclosed-quote.csv',
    exit: 2,
    message: /the header row \(line 1\) cannot be used: a quote opened on line 1 is never closed/,
  },
  { file: 'header-invalid-utf8.csv', exit: 2, message: /is not valid utf-8 at line 1/ },
  {
    file: 'header-empty-cells.csv',
    exit: 2,
    message: /the header row \(line 1\) cannot be used: it has no column names/,
  },
  { file: 'formulas.csv', exit: 0, rows: created(2, 3) },
  {
    file: 'oversized.csv',
    // An unquoted 2 MB cell, 600 Ki of "é" (1.2 MB of UTF-8), a quoted record of 1 MiB+ over 600,000 lines.
    make: () =>
      Buffer.from(
        `Name,Notes\nA,${'y'.repeat(2_000_000)}\nB,${'é'.repeat(600 * 1024)}\nC,"${'z\n'.repeat(600_000)}"\nD,ok\n`,
      ),
    exit: 1,
    rows: [
      [2, 'invalid', 'RecordTooLarge'],
      [3, 'invalid', 'RecordTooLarge'],
      [4, 'invalid', 'RecordTooLarge'],
      [600_005, 'created'],
    ],
  },
  {
    // Invalid UTF-8 in row 200 of 300 (test/run/input-breaks.e2e.test.ts does 2,000 of 3,000).
    file: 'invalid-utf8-row-200.csv',
    make: () =>
      Buffer.concat([
        Buffer.from('Name,Description\n'),
        ...Array.from({ length: 300 }, (_, i) =>
          Buffer.from(i === 198 ? `Row ${i},caf\xe9\n` : `Row ${i},x\n`, i === 198 ? 'latin1' : 'utf8'),
        ),
      ]),
    exit: 1,
    rows: created(...Array.from({ length: 198 }, (_, i) => i + 2)),
    message: /is not valid utf-8 at line 200: the records before it were read/,
  },
];

describe.concurrent('input defects corpus', () => {
  it.each(CASES.map((c) => [`${c.file} ${(c.args ?? []).join(' ')}`.trim(), c] as const))('%s', async (_name, c) => {
    const dir = fileTempDir(); // cases run at once: each has its own folder
    const input = join(dir, c.file);
    if (c.make) writeFileSync(input, c.make());
    else copyFileSync(join(FIXTURES, c.file), input);
    const results = join(dir, 'out.results.csv');
    const args = [
      'run',
      c.stdin ? '-' : input,
      '--results',
      results,
      '--endpoint',
      emulator.url,
      '--rate',
      '1000',
      '--burst',
      '1000',
      '--log-format',
      'json',
      '--no-progress',
      ...route,
      ...(c.args ?? []),
    ];
    const ran = c.stdin ? await spawnCli(args, { stdin: readFileSync(input) }) : await cli(args);
    const r = { code: ran.code, out: ran.stdout + ran.stderr };
    expect(r.code, r.out).toBe(c.exit);
    if (c.message) expect(r.out).toMatch(c.message);
    if (c.secret) expect(r.out).not.toContain(c.secret);
    if (!c.rows) {
      expect(readdirSync(dir)).toEqual([c.file]); // nothing left behind: no results, run state or lock
      return;
    }
    const rows = readResults(results).map((x): Row => {
      const row: Row = [Number(x['Result.Line']), x['Result.Status']!];
      if (x['Result.Status'] !== 'created') row.push(x['Result.ErrorCode']!);
      return row;
    });
    expect(rows.sort((a, b) => a[0] - b[0])).toEqual(c.rows);
    expect(existsSync(results)).toBe(true);
  });
});
