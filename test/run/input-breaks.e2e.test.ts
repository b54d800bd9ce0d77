/**
 * Input that breaks mid-file, through the real SDK and the emulator: a record that cannot be read is
 * one `invalid` row and the run goes on; undecodable bytes stop reading only after every record
 * before them was sent and recorded; lines stay right in CRLF files; results files round-trip.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { rerunImport, runImport } from '../../src/run/run.js';
import { readResults, tempDir } from '../helpers.js';

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});
async function emulate(): Promise<Emulator> {
  emulator = await startEmulator({ rate: 5000, burst: 5000 });
  return emulator;
}

const route = { instanceId: DEMO_INSTANCE_ID, contactFlowId: DEMO_CONTACT_FLOW_ID, rate: 5000, burst: 5000 };

function write(content: string | Buffer, name = 'input.csv'): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  return path;
}

const byLine = (rows: Record<string, string>[]) =>
  [...rows].sort((a, b) => Number(a['Result.Line']) - Number(b['Result.Line']));

describe('a record that cannot be read (#8 item 5)', () => {
  it('is one invalid row naming its line and rule (never its content); every other row is created once', async () => {
    const e = await emulate();
    const input = write(
      'Name,Description,Attributes.rowId\n' +
        'A,first,1\n' +
        `B,${'y'.repeat(2_000_000)},2\n` + // an unquoted 2 MB cell
        'C,needs a 27" monitor,3\n' + // a stray quote
        `D,${'é'.repeat(600 * 1024)},4\n` + // 1.2 MB of UTF-8
        `E,"${'multi\nline '.repeat(100_000)}",5\n` + // a quoted record over 1 MiB across 100,000 lines
        'F,last,6\n',
    );
    const summary = await runImport({ input, endpoint: e.url, ...route });
    expect(summary.rows).toMatchObject({ total: 6, created: 2, invalid: 4 });
    expect(summary.inputError).toBeUndefined();
    expect(e.service.tasks.map((t) => t.Attributes?.rowId).sort()).toEqual(['1', '6']);

    const results = byLine(readResults(summary.results));
    expect(results.map((r) => [r['Result.Line'], r['Result.Status'], r['Result.ErrorCode']])).toEqual([
      ['2', 'created', ''],
      ['3', 'invalid', 'RecordTooLarge'],
      ['4', 'invalid', 'StrayQuote'],
      ['5', 'invalid', 'RecordTooLarge'],
      ['6', 'invalid', 'RecordTooLarge'],
      ['100007', 'created', ''],
    ]);
    for (const r of results.slice(1, 5)) {
      expect(r['Result.ErrorMessage']).not.toMatch(/monitor|yyy|ééé|multi/);
      expect(r['Result.ErrorMessage']).not.toMatch(/never closed/); // a size limit is not blamed on a quote
    }
    expect(results[1]!['Result.ErrorMessage']).toMatch(/^the record is 2000004 bytes, over the limit of 1048576/);
    // An oversized record's cells are not kept; a stray quote's are (the row is readable and never sent).
    expect(results[1]!.Description).toBe('');
    expect(results[2]!.Description).toBe('needs a 27" monitor');
  });

  it(
    'a quote still open at the end of the file: the rows before it are created, the record is one invalid row ' +
      'naming where it opened',
    async () => {
      const e = await emulate();
      const input = write('Name,Attributes.rowId\nA,1\nB,2\n"C,3\nD,4\nE,5\n');
      const summary = await runImport({ input, endpoint: e.url, ...route });
      expect(summary.rows).toMatchObject({ total: 3, created: 2, invalid: 1 });
      const results = byLine(readResults(summary.results));
      expect(results[2]).toMatchObject({
        'Result.Line': '4',
        'Result.Status': 'invalid',
        'Result.ErrorCode': 'UnclosedQuote',
      });
      expect(results[2]!['Result.ErrorMessage']).toMatch(/a quote opened on line 4 is never closed/);
    },
  );
});

describe('invalid UTF-8 mid-file (#8 item 6)', () => {
  it(
    'row 2,000 of 3,000: the 1,999 rows before it are ' + 'sent and recorded, then the run stops naming line 2001',
    async () => {
      const e = await emulate();
      const rows = Array.from({ length: 3000 }, (_, i) =>
        i === 1999 ? Buffer.from(`Caf\xe9 ${i},${i}\n`, 'latin1') : Buffer.from(`Tâche ${i} ${'x'.repeat(150)},${i}\n`),
      );
      const input = write(Buffer.concat([Buffer.from('Name,Attributes.rowId\n'), ...rows]));
      const summary = await runImport({ input, endpoint: e.url, ...route });
      expect(summary.inputError).toMatch(
        /is not valid utf-8 at line 2001: the records before it were read; that line and the rest were not/,
      );
      expect(summary.rows).toMatchObject({ total: 1999, created: 1999 });
      expect(e.service.tasks).toHaveLength(1999);
      const lines = readResults(summary.results).map((r) => Number(r['Result.Line']));
      expect(lines.sort((a, b) => a - b)).toEqual(Array.from({ length: 1999 }, (_, i) => i + 2));
    },
  );
});

describe('line breaks inside cells (#8 item 7)', () => {
  it(
    'Result.Line is right in a CRLF file with multi-line ' +
      'cells; a cell with a lone CR is quoted in the results file',
    async () => {
      const e = await emulate();
      const input = write('Name,Description\r\nA,"one\r\ntwo\r\nthree"\r\nB,"old\rMac"\r\nC,un\rquoted\r\n\r\nD,x\r\n');
      const summary = await runImport({ input, endpoint: e.url, ...route });
      expect(summary.rows).toMatchObject({ total: 4, created: 4 });
      const results = byLine(readResults(summary.results));
      expect(results.map((r) => [r['Result.Line'], r.Name, r.Description])).toEqual([
        ['2', 'A', 'one\r\ntwo\r\nthree'],
        ['5', 'B', 'old\rMac'],
        ['6', 'C', 'un\rquoted'],
        ['8', 'D', 'x'],
      ]);
      const text = readFileSync(summary.results, 'utf8');
      expect(text).toContain('"old\rMac"');
      expect(text).toContain('"un\rquoted"');
      // A reader that ends records at a lone CR too (old Mac files) still sees one row per record.
      expect(parse(text, { record_delimiter: ['\r\n', '\n', '\r'] })).toHaveLength(5);
      expect(e.service.tasks.map((t) => t.Name).sort()).toEqual(['A', 'B', 'C', 'D']);
    },
  );
});

describe('formula-looking cells', () => {
  it('are written as they are and round-trip through rerun exactly: the same cells, the same tokens', async () => {
    const e = await emulate();
    const cells = ['=SUM(A1)', '+1', '-2', '@x', '=HYPERLINK("http://x")', "'quoted"];
    const input = write(
      `Name,Description,Notes\n` +
        `${cells.map((c, i) => `"${c.replace(/"/g, '""')}","${cells[(i + 1) % cells.length]!.replace(/"/g, '""')}",${i}`).join('\n')}\n`,
    );
    e.configure({ faults: { failBefore: 1 } }); // every row fails, so that rerun sends them all again
    const first = await runImport({ input, endpoint: e.url, ...route, maxAttempts: 1 });
    expect(first.rows).toMatchObject({ total: 6, failed: 6 });
    const firstRows = byLine(readResults(first.results));
    expect(firstRows.map((r) => r.Name)).toEqual(cells);

    e.configure({ faults: { failBefore: 0 } });
    const rerun = await rerunImport({ input: first.results, endpoint: e.url, rate: 5000, burst: 5000 });
    expect(rerun.rows).toMatchObject({ total: 6, created: 6 });
    const again = byLine(readResults(rerun.results));
    expect(again.map((r) => [r.Name, r.Description, r.Notes, r['Result.ClientToken']])).toEqual(
      firstRows.map((r) => [r.Name, r.Description, r.Notes, r['Result.ClientToken']]),
    );
    expect(e.service.tasks.map((t) => t.Name).sort()).toEqual([...cells].sort());
  });
});
