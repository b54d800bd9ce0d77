/**
 * The files a run owns, at their edges (issue 8, items 13, 14 and 16): results reached through a
 * symbolic link, links planted where the run creates files, FIFOs where it reads, results files
 * edited by hand or saved by Excel — through the library and the built CLI, against the emulator.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { acquireLock } from '../../src/ledger/lock.js';
import { ResultsWriter } from '../../src/ledger/writer.js';
import { runImport } from '../../src/run/run.js';
import { cli } from '../cli/bin.js';
import { readResults, ROUTE as route, ROUTE_FLAGS as routeFlags, taskRows, tempDir, writeCsv } from '../helpers.js';

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** A completed run of `rows` rows, then made to look interrupted after `keep` of them. */
async function interruptedRun(e: Emulator, rows: number, keep: number) {
  const dir = tempDir();
  const input = writeCsv(taskRows(rows), 'input.csv', dir);
  const first = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route });
  const path = first.results;
  const records = readFileSync(path, 'utf8').split(/(?<=\n)(?=Task )/);
  writeFileSync(path, records.slice(0, keep + 1).join(''));
  const state = `${path}.run.json`;
  writeFileSync(
    state,
    readFileSync(state, 'utf8')
      .replace(/,\s*"completedAt"[^,}]*/, '')
      .replace(/"outcome": "completed"/, '"outcome": "interrupted"'),
  );
  return { dir, input, path, records };
}

const noStackNoContent = (stderr: string) => {
  expect(stderr).not.toMatch(/internal error|\n\s+at |needs a|monitor|Task \d/);
};

describe('results files edited between runs (item 14)', () => {
  it('--resume refuses a hand-broken row in the middle, naming the line; cuts nothing, sends nothing', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const { input, path } = await interruptedRun(e, 30, 25);
    const text = readFileSync(path, 'utf8');
    const requests = e.stats().requests;
    const strayQuote = text.replace('note 7', 'needs a 27" monitor');
    writeFileSync(path, strayQuote);
    const r = await cli(['run', input, '--endpoint', e.url, '--rate', '500', ...routeFlags, '--resume']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 14: CSV error INVALID_OPENING_QUOTE/); // row 7 starts at line 2 + 6 × 2
    expect(r.stderr).toMatch(/Only a torn last row is repaired on its own/);
    noStackNoContent(r.stderr);
    expect(readFileSync(path, 'utf8')).toBe(strayQuote); // nothing cut

    const extraField = text.replace(/note 7,(\d+),created,/, 'note 7,$1,created,extra,');
    writeFileSync(path, extraField);
    await expect(runImport({ input, endpoint: e.url, ...route, resume: true })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/line 14: it has 13 fields where the header has 12/),
    });
    expect(readFileSync(path, 'utf8')).toBe(extraField);
    expect(e.stats().requests).toBe(requests); // nothing sent
  });

  it('--resume takes a results file saved by Excel (BOM, CRLF) and finishes it, each task once', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const { input, path } = await interruptedRun(e, 30, 25);
    writeFileSync(path, `\uFEFF${readFileSync(path, 'utf8').replace(/\n/g, '\r\n')}`);
    const resumed = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route, resume: true });
    expect(resumed.rows).toMatchObject({ total: 30, created: 30, skipped: 25 });
    // Excel's rows end in CRLF, the appended ones in LF: read both.
    const rows = parse(readFileSync(path), { bom: true, columns: true, record_delimiter: ['\r\n', '\n'] }) as Record<
      string,
      string
    >[];
    expect(rows).toHaveLength(30);
    expect(new Set(rows.map((x) => x['Result.Line'])).size).toBe(30);
    expect(e.stats().tasks).toBe(30);
    expect(e.stats().maxTasksPerToken).toBe(1);
  });

  it(
    'rerun of a results file with a CSV syntax error: ' + 'a refusal naming the line, no stack, no cell value',
    async () => {
      emulator = await startEmulator({ rate: 500, burst: 50 });
      const e = emulator;
      const input = writeCsv(taskRows(10));
      const first = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route });
      writeFileSync(first.results, readFileSync(first.results, 'utf8').replace('note 4', 'needs a 27" monitor'));
      const requests = e.stats().requests;
      const r = await cli(['rerun', first.results]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/line \d+: CSV error INVALID_OPENING_QUOTE/);
      noStackNoContent(r.stderr);
      expect(existsSync(first.results.replace(/\.csv$/, '.rerun-1.csv'))).toBe(false);
      expect(e.stats().requests).toBe(requests);
    },
  );
});

describe('links and FIFOs where the run keeps its files (items 13, 16)', () => {
  it('--results through a symbolic link shares the lock and run state of its target', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const dir = tempDir();
    const input = writeCsv(taskRows(3), 'input.csv', dir);
    const real = join(dir, 'real.csv');
    const alias = join(dir, 'alias.csv');
    await runImport({ input, results: real, endpoint: e.url, rate: 500, burst: 50, ...route });
    symlinkSync(real, alias);
    const lock = await acquireLock(real);
    try {
      await expect(runImport({ input, results: alias, endpoint: e.url, ...route, resume: true })).rejects.toMatchObject(
        { exitCode: 4 },
      );
    } finally {
      await lock.release();
    }
    const again = await runImport({ input, results: alias, endpoint: e.url, ...route, resume: true });
    expect(again.alreadyDone).toBeDefined(); // the target's run state was found through the link
    expect(readdirSync(dir).sort()).toEqual([
      'alias.csv',
      'input.csv',
      'real.csv',
      'real.csv.run.json',
      'real.csv.timeline.jsonl',
    ]);
  });

  it('a link planted at <results>.run.json.tmp never makes the run write through it; files are 0600', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const dir = tempDir();
    const input = writeCsv(taskRows(3), 'input.csv', dir);
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'keep me\n');
    const results = join(dir, 'input.results.csv');
    symlinkSync(victim, `${results}.run.json.tmp`);
    const summary = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route });
    expect(summary.rows.created).toBe(3);
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
    expect(existsSync(`${results}.run.json.tmp`)).toBe(false);
    for (const file of [results, `${results}.run.json`]) {
      expect(statSync(file).isFile()).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
  });

  it('a link planted at the results path of a new run: refused, its target never created or written', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const dir = tempDir();
    const input = writeCsv(taskRows(2), 'input.csv', dir);
    const target = join(dir, 'elsewhere.csv');
    symlinkSync(target, join(dir, 'input.results.csv')); // dangling: a create through it would make `elsewhere.csv`
    const r = await cli(['run', input, '--endpoint', e.url, ...routeFlags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a symbolic link to nothing/);
    expect(existsSync(target)).toBe(false);
    // Pointing at an existing file: never replaced, never appended to.
    execFileSync('rm', [join(dir, 'input.results.csv')]);
    const victim = join(dir, 'victim.csv');
    writeFileSync(victim, 'keep me\n');
    symlinkSync(victim, join(dir, 'input.results.csv'));
    for (const resume of [false, true]) {
      await expect(runImport({ input, endpoint: e.url, ...route, resume })).rejects.toMatchObject({ exitCode: 2 });
    }
    expect(readFileSync(victim, 'utf8')).toBe('keep me\n');
    expect(e.stats().requests).toBe(0);
  });

  it('a FIFO at the results path or the state path: a refusal, never a hang', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const dir = tempDir();
    const input = writeCsv(taskRows(2), 'input.csv', dir);
    const results = join(dir, 'input.results.csv');
    execFileSync('mkfifo', [results]);
    await expect(runImport({ input, endpoint: e.url, ...route, resume: true })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/refusing the results file .* it is not a regular file/),
    });
    execFileSync('rm', [results]);

    await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route });
    execFileSync('rm', [`${results}.run.json`]);
    execFileSync('mkfifo', [`${results}.run.json`]);
    const atState = await cli(['run', input, '--endpoint', e.url, ...routeFlags, '--resume']);
    expect(atState.code).toBe(2);
    expect(atState.stderr).toMatch(/refusing the run state .* it is not a regular file/);
    noStackNoContent(atState.stderr);
  });

  it(
    'another writer extending the file stops the run: ' + 'nothing of it is overwritten, nothing more is written',
    async () => {
      const path = join(tempDir(), 'r.csv');
      const writer = ResultsWriter.create(path, ['Name']);
      await writer.commit(['a'], { line: 2, status: 'created', attempts: 1 });
      appendFileSync(path, 'x,3,created,,,1,,\n');
      writer.write(['b'], { line: 4, status: 'created', attempts: 1 });
      expect(() => writer.close()).toThrow(/was written to by something else while this run wrote it/);
      expect(readResults(path).map((r) => r.Name)).toEqual(['a', 'x']);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    },
  );
});
