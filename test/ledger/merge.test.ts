/**
 * `mergeResults` holds a few bytes per line, not the rows: records are located in a first pass and
 * copied in line order in a second. What it writes must stay what reading every file whole with
 * csv-parse and writing the rows with csv-stringify made of them — for files as the results writer
 * writes them (copied byte for byte) and for files that are not (a spreadsheet's CRLF and quotes, a
 * BOM, a torn last line, empty lines: rewritten as csv-parse reads them).
 */
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeResults } from '../../src/ledger/merge.js';
import { scanSpans } from '../../src/ledger/spans.js';
import { type RunState, readState, STATE_VERSION, sha256File, writeState } from '../../src/ledger/state.js';
import { RESULT_COLUMNS } from '../../src/ledger/writer.js';
import { tempDir } from '../helpers.js';

const HEADER = ['Name', 'Description', ...RESULT_COLUMNS];

/** The state of a completed run (or shard, or rerun) beside `results`. */
async function completed(
  results: string,
  extra: { shard?: string; rerunOf?: string; where?: RunState['identity']['where'] } = {},
): Promise<void> {
  const now = new Date().toISOString();
  const state: RunState = {
    version: STATE_VERSION,
    input: '/data/night.csv',
    // A rerun's input is the results file it reran: its checksum is what the rerun records.
    identity: {
      inputSha256: extra.rerunOf ? await sha256File(extra.rerunOf) : 'f'.repeat(64),
      endpoint: 'http://127.0.0.1:4566',
      region: 'eu-west-2',
      instanceId: 'inst',
      contactFlowId: 'flow',
      tokenNamespace: 'night.csv@ffff',
      encoding: 'utf-8',
      delimiter: ',',
      ...(extra.shard ? { shard: extra.shard } : {}),
      ...(extra.where ? { where: extra.where } : {}),
    },
    options: {},
    dryRun: false,
    outcome: 'completed',
    startedAt: now,
    completedAt: now,
    ...(extra.rerunOf ? { rerunOf: extra.rerunOf } : {}),
  };
  await writeState(results, state);
}

/** A results file of these rows, with the state of a completed run (or rerun) beside it. */
async function completedFile(path: string, rows: string[], extra?: { rerunOf?: string }): Promise<string> {
  writeFileSync(path, `${HEADER.join(',')}\n${rows.join('')}`);
  await completed(path, extra);
  return path;
}

/** What the old whole-file merge made of these files (each line in one file only): the reference. */
function wholeFileMerge(texts: (string | Buffer)[]): string {
  const [header, ...rows] = texts.flatMap((t, i) =>
    (parse(t, { relax_column_count: true, bom: true }) as string[][]).slice(i === 0 ? 0 : 1),
  );
  const line = header!.indexOf('Result.Line');
  rows.sort((a, b) => Number(a[line]) - Number(b[line]));
  return stringify([header!, ...rows], { record_delimiter: 'unix', quoted_match: /[\r\n]/ });
}

describe('mergeResults', () => {
  it('merges two shards of 150,000 rows each in line order, rows copied as written', async () => {
    const dir = tempDir();
    const rows = 300_000;
    const shard = async (i: number) => {
      const path = join(dir, `night.shard-${i}-of-2.results.csv`);
      const out = createWriteStream(path, { mode: 0o600 });
      out.write(`${HEADER.join(',')}\n`);
      let chunk = '';
      // Rows finish out of order: each shard's file holds its lines in blocks of ten, backwards.
      for (let block = 0; block < rows; block += 20) {
        for (let k = 9; k >= 0; k--) {
          const line = 2 + block + 2 * k + (i - 1);
          chunk +=
            line % 1000 === 0
              ? `Task ${line},"Customer wrote:\n""it broke"", call ` +
                `back",${line},failed,,ctl1-${line},8,InternalServiceException,"Injected fault, retry"\n`
              : `Task ${line},plain,${line},created,${line.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000,ctl1-${line},1,,\n`;
        }
        if (chunk.length > 1 << 20) {
          if (!out.write(chunk)) await once(out, 'drain');
          chunk = '';
        }
      }
      out.end(chunk);
      await once(out, 'finish');
      await completed(path, { shard: `${i}/2` });
      return path;
    };
    const parts = [await shard(2), await shard(1)];
    const merged = join(dir, 'night.results.csv');
    const summary = await mergeResults(parts, merged);
    expect(summary).toEqual({
      files: 2,
      rows,
      created: rows - rows / 1000,
      failed: rows / 1000,
      invalid: 0,
      filtered: 0,
      superseded: 0,
      results: merged,
    });
    expect(statSync(merged).mode & 0o777).toBe(0o600);

    const text = readFileSync(merged, 'utf8');
    expect(text.startsWith(`${HEADER.join(',')}\nTask 2,plain,2,created,`)).toBe(true);
    expect(text).toContain(
      `\nTask 1000,"Customer wrote:\n""it broke"", call ` +
        `back",1000,failed,,ctl1-1000,8,InternalServiceException,"Injected fault, retry"\n` +
        `Task 1001,plain,1001,created,000003e9-`,
    );
    expect(
      text.endsWith(
        `\nTask ${rows + 1},plain,${rows + 1},created,${(rows + 1).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000,ctl1-${rows + 1},1,,\n`,
      ),
    ).toBe(true);
    // Every line once, in order: the lines are the Result.Line cells, found after the token cell's `ctl1-<line>`.
    const lines = [...text.matchAll(/,(\d+),(?:created|failed),/g)].map((m) => Number(m[1]));
    expect(lines).toHaveLength(rows);
    expect(lines.every((l, k) => l === k + 2)).toBe(true);
    expect((await readState(merged))?.rows).toEqual({
      total: rows,
      created: rows - rows / 1000,
      failed: rows / 1000,
      invalid: 0,
      filtered: 0,
      planned: 0,
      skipped: 0,
    });
  }, 60_000);

  it(
    'a rerun supersedes the earlier rows of its lines, ' + 'later reruns last, whatever order they are given in',
    async () => {
      const dir = tempDir();
      const write = (name: string, rows: string[], extra?: { rerunOf?: string }) =>
        completedFile(join(dir, name), rows, extra);
      const run = await write('r.csv', [
        'a,,2,created,c2,t2,1,,\n',
        'b,,3,failed,,t3,8,Fault,x\n',
        'c,,4,failed,,t4,8,Fault,y\n',
      ]);
      const first = await write('r.rerun-1.csv', ['b,,3,failed,,t3,2,Fault,x\n', 'c,,4,created,c4,t4,1,,\n'], {
        rerunOf: run,
      });
      const second = await write('r.rerun-2.csv', ['b,,3,created,c3,t3,1,,\n'], { rerunOf: first });
      const out = join(dir, 'all.csv');
      expect(await mergeResults([run, first, second], out)).toMatchObject({
        rows: 3,
        created: 3,
        failed: 0,
        superseded: 3,
      });
      expect(readFileSync(out, 'utf8')).toBe(
        `${HEADER.join(',')}\na,,2,created,c2,t2,1,,\nb,,3,created,c3,t3,1,,\nc,,4,created,c4,t4,1,,\n`,
      );
      // Given in any order, a rerun of a rerun is the later word: its lineage, not the list, decides.
      for (const [k, files] of [
        [second, first, run],
        [run, second, first],
        [second, run, first],
      ].entries()) {
        const again = join(dir, `all-${k}.csv`);
        expect(await mergeResults(files, again)).toMatchObject({ rows: 3, created: 3, failed: 0 });
        expect(readFileSync(again, 'utf8')).toBe(readFileSync(out, 'utf8'));
      }
    },
  );

  it('counts filtered rows apart: the merged run state records them', async () => {
    const dir = tempDir();
    const filtered = 'where[1]: ""Status"" equals ""Open""';
    const run = await completedFile(join(dir, 'r.csv'), [
      'a,,2,created,c2,t2,1,,\n',
      `b,,3,filtered,,,0,Filtered,"${filtered}"\n`,
      `c,,4,filtered,,,0,Filtered,"${filtered}"\n`,
    ]);
    const out = join(dir, 'all.csv');
    expect(await mergeResults([run], out)).toMatchObject({ rows: 3, created: 1, failed: 0, invalid: 0, filtered: 2 });
    expect((await readState(out))?.rows).toMatchObject({ total: 3, created: 1, filtered: 2 });
  });

  it('refuses shards of one input sent with other filters', async () => {
    const dir = tempDir();
    const shard = async (i: number, value: string) => {
      const path = join(dir, `r.shard-${i}-of-2.csv`);
      writeFileSync(path, `${HEADER.join(',')}\na,,${i + 1},created,c,t,1,,\n`);
      await completed(path, { shard: `${i}/2`, where: [{ column: 'Status', equals: value }] });
      return path;
    };
    const first = await shard(1, 'Open');
    await expect(mergeResults([first, await shard(2, 'Closed')], join(dir, 'all.csv'))).rejects.toThrow(
      /was sent with other settings than the first \(.*its where/,
    );
    expect(await mergeResults([first, await shard(2, 'Open')], join(dir, 'same.csv'))).toMatchObject({ rows: 2 });
  });

  it("Monday's rerun is not merged into Tuesday's run, though both used one token namespace", async () => {
    const dir = tempDir();
    const write = (name: string, rows: string[], extra?: { rerunOf?: string }) =>
      completedFile(join(dir, name), rows, extra);
    const monday = await write('monday.csv', ['a,,2,failed,,t2,8,Fault,x\n']);
    const mondayRerun = await write('monday.rerun-1.csv', ['a,,2,created,c2,t2,1,,\n'], { rerunOf: monday });
    const tuesday = await write('tuesday.csv', ['a,,2,failed,,t2b,8,Fault,x\n']);
    await expect(mergeResults([tuesday, mondayRerun], join(dir, 'all.csv'))).rejects.toThrow(
      /is a rerun of .*monday\.csv, which is not among the files merged/,
    );
    expect(existsSync(join(dir, 'all.csv'))).toBe(false);
  });

  it(
    'a file saved by a spreadsheet (CRLF, every cell ' + 'quoted, a BOM) or torn is written as csv-parse reads it',
    async () => {
      const dir = tempDir();
      const plain = join(dir, 'p.shard-1-of-2.csv');
      writeFileSync(plain, `${HEADER.join(',')}\nTask 2,"two\nlines",2,created,c,t,1,,\n`);
      await completed(plain, { shard: '1/2' });
      const excel = `\uFEFF${[HEADER, ['Task 3', 'a\r\nb', '3', 'failed', '', 't', '8', 'X', 'msg, "quoted"'], ['Task 5', '', '5', 'created', 'c', 't', '1', '', '']].map((r) => r.map((c) => `"${c.replaceAll('"', '""')}"`).join(',')).join('\r\n')}\r\n`;
      for (const [name, text] of [
        ['excel', excel],
        ['torn', excel.slice(0, -2)],
      ] as const) {
        const other = join(dir, `${name}.shard-2-of-2.csv`);
        writeFileSync(other, text);
        await completed(other, { shard: '2/2' });
        const out = join(dir, `${name}.merged.csv`);
        await mergeResults([plain, other], out);
        expect(readFileSync(out, 'utf8'), name).toBe(wholeFileMerge([readFileSync(plain), text]));
      }
    },
  );

  it('a refused merge writes nothing; an existing output is never replaced', async () => {
    const dir = tempDir();
    const path = join(dir, 'a.csv');
    writeFileSync(path, `${HEADER.join(',')}\na,,2,created,c,t,1,,\n`);
    await completed(path);
    await expect(mergeResults([path, path], join(dir, 'twice.csv'))).rejects.toThrow(
      /both hold input line 2: overlapping results/,
    );
    expect(existsSync(join(dir, 'twice.csv'))).toBe(false);
    writeFileSync(join(dir, 'kept.csv'), 'mine');
    await expect(mergeResults([path], join(dir, 'kept.csv'))).rejects.toThrow(
      /kept.csv already exists: pass another --results/,
    );
    expect(readFileSync(join(dir, 'kept.csv'), 'utf8')).toBe('mine');
  });

  it('a file csv-parse cannot read is a refusal naming the file and line, never the cell (customer data)', async () => {
    const dir = tempDir();
    const path = join(dir, 'broken.csv');
    writeFileSync(path, `${HEADER.join(',')}\na,,2,created,c,t,1,,\nSECRET "Jane" Doe,x,3,created,c,t,1,,\n`);
    await completed(path);
    const err = await mergeResults([path], join(dir, 'out.csv')).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(
        /broken\.csv is not a readable results file: broken CSV at line 3 \(INVALID_OPENING_QUOTE\)/,
      ),
    });
    expect(err!.message).not.toMatch(/SECRET|Jane/);
    expect(existsSync(join(dir, 'out.csv'))).toBe(false);
  });

  it('writes exactly what the whole-file merge wrote, for any cells, quoting, line ends and damage', async () => {
    const dir = tempDir();
    const cell = fc.string({ unit: fc.constantFrom('a', ' ', ',', '"', '\r', '\n', 'é', '🙂'), maxLength: 5 });
    const file = fc.record({
      rows: fc.array(fc.tuple(cell, cell, fc.constantFrom('created', 'failed', 'x')), { maxLength: 6 }),
      quoteAll: fc.boolean(),
      eol: fc.constantFrom('\n', '\r\n'),
      bom: fc.boolean(),
      torn: fc.boolean(),
    });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(file, async ({ rows, quoteAll, eol, bom, torn }) => {
        const q = (c: string) => (quoteAll || /[",\r\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c);
        const records = [
          HEADER,
          ...rows.map(([name, desc, status], i) => [name, desc, String(i + 2), status, '', '', '', '', desc]),
        ];
        let text = `${bom ? '\uFEFF' : ''}${records.map((r) => r.map(q).join(',')).join(eol)}${eol}`;
        if (torn) text = text.slice(0, -eol.length);
        const path = join(dir, `${++n}.csv`);
        writeFileSync(path, text);
        await completed(path);
        let expected: string;
        try {
          expected = wholeFileMerge([text]);
        } catch (err) {
          return void (await expect(mergeResults([path], `${path}.out`)).rejects.toThrow((err as Error).message));
        }
        await mergeResults([path], `${path}.out`);
        expect(readFileSync(`${path}.out`, 'utf8')).toBe(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('scans the same records whatever the read size', async () => {
    const path = join(tempDir(), 's.csv');
    writeFileSync(
      path,
      `\uFEFF${HEADER.join(',')}\nTask é,"x,""y""\ny",2,created,c,t,1,,\n,,,\n\nT,"a",3,failed,,,,,\n`,
    );
    const trace = async (chunk: number) => {
      const handle = await open(path, 'r');
      const seen: unknown[] = [];
      const plain = await scanSpans(
        handle,
        {
          header: (cells) => {
            seen.push(cells);
            return { line: 2, status: 3 };
          },
          row: (...row) => void seen.push(row),
        },
        chunk,
      );
      await handle.close();
      return { plain, seen };
    };
    const whole = await trace(1 << 20);
    expect(whole.plain).toBe(false); // `"a"` needs no quotes: csv-parse reads this file
    expect(whole.seen).toHaveLength(4); // the header, two rows, the empty line: then `"a"`
    for (const chunk of [1, 2, 3, 7]) expect(await trace(chunk)).toEqual(whole);
  });
});
