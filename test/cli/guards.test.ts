/**
 * What the operator's own outputs may never do: overwrite the input or a results file (--summary-json,
 * report --html), crash on a folder, call a file with rows removed "nothing to fix", or merge parts of
 * runs sent to different places.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileEmulator } from '../emulator.js';
import { ROUTE_FLAGS as route, taskRows, tempDir, writeCsv } from '../helpers.js';
import { cli, spawnCli } from './bin.js';

const a = fileEmulator({ rate: 500, burst: 50 });
const b = fileEmulator({ rate: 500, burst: 50 });

describe('outputs never overwrite what they should not', () => {
  it(
    '--summary-json and report --html refuse an existing ' + 'file that is not theirs; a report on a folder is exit 2',
    async () => {
      const dir = tempDir();
      const input = writeCsv(taskRows(3), 'in.csv', dir);
      const results = join(dir, 'in.results.csv');
      const original = readFileSync(input, 'utf8');
      const onInput = await cli([
        'run',
        input,
        ...route,
        '--endpoint',
        a.url,
        '--rate',
        '500',
        '--summary-json',
        input,
      ]);
      expect(onInput.code).toBe(2);
      expect(onInput.stderr).toMatch(/not a JSON summary: it is never overwritten/);
      expect(readFileSync(input, 'utf8')).toBe(original);

      const summary = join(dir, 'summary.json');
      writeFileSync(summary, '{\n  "input": "yesterday.csv",\n  "rows": {}\n}\n'); // an earlier summary of this tool
      expect(
        (await cli(['run', input, ...route, '--endpoint', a.url, '--rate', '500', '--summary-json', summary])).code,
      ).toBe(0);
      expect(JSON.parse(readFileSync(summary, 'utf8')).rows.created).toBe(3); // an earlier summary is replaced
      writeFileSync(summary, '{"old": true}\n'); // any other JSON (a job file, a run state) is not
      expect(
        (await cli(['run', input, ...route, '--endpoint', a.url, '--rate', '500', '--summary-json', summary])).code,
      ).toBe(2);

      const kept = readFileSync(results, 'utf8');
      const html = await cli(['report', results, '--html', results]);
      expect(html.code).toBe(2);
      expect(readFileSync(results, 'utf8')).toBe(kept);
      const page = join(dir, 'page.html');
      expect((await cli(['report', results, '--html', page])).code).toBe(0);
      expect((await cli(['report', results, '--html', page])).code).toBe(0); // its own page is replaced

      mkdirSync(join(dir, 'folder.csv'));
      const folder = await cli(['report', join(dir, 'folder.csv')]);
      expect(folder.code).toBe(2);
      expect(folder.stderr).not.toMatch(/\n\s+at /);
    },
  );

  it('report flags a results file with rows removed since its run (exit 1), not "nothing to fix"', async () => {
    const dir = tempDir();
    const input = writeCsv(taskRows(4), 'in.csv', dir);
    expect((await cli(['run', input, ...route, '--endpoint', a.url, '--rate', '500'])).code).toBe(0);
    const results = join(dir, 'in.results.csv');
    const records = readFileSync(results, 'utf8').split(/(?<=\n)(?=Task )/);
    writeFileSync(results, records.slice(0, 3).join(''));
    const r = await cli(['report', results]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/holds 2 rows, but its run recorded 4: rows were removed/);
    expect(r.stdout).not.toMatch(/nothing to fix/);
  });

  it('merge refuses shards sent to different endpoints', async () => {
    const dir = tempDir();
    const input = writeCsv(taskRows(6), 'in.csv', dir);
    expect((await cli(['run', input, ...route, '--endpoint', a.url, '--rate', '500', '--shard', '1/2'])).code).toBe(0);
    expect((await cli(['run', input, ...route, '--endpoint', b.url, '--rate', '500', '--shard', '2/2'])).code).toBe(0);
    const r = await cli([
      'merge',
      join(dir, 'in.shard-1-of-2.results.csv'),
      join(dir, 'in.shard-2-of-2.results.csv'),
      '--results',
      join(dir, 'm.csv'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/other settings than the first/);
  });
});

describe('standard input has a checksum like any file', () => {
  it(
    "another night's stdin into the same results file is " + 'refused, not "already processed"; the same stdin is',
    async () => {
      const dir = tempDir();
      const first = writeCsv(taskRows(3), 'a.csv', dir);
      const second = writeCsv(taskRows(6), 'b.csv', dir);
      const results = join(dir, 'today.csv');
      // The bin, its standard input a pipe.
      const viaStdin = (file: string, extra: string[] = []) =>
        spawnCli(['run', '-', '--results', results, ...route, '--endpoint', a.url, '--rate', '500', ...extra], {
          stdin: readFileSync(file),
        });
      const before = a.stats().tasks;
      expect((await viaStdin(first)).code).toBe(0);
      expect(a.stats().tasks - before).toBe(3);
      const same = await viaStdin(first, ['--resume']);
      expect(same.code).toBe(0);
      expect(same.stdout).toMatch(/Already processed/);
      const other = await viaStdin(second, ['--resume']);
      expect(other.code).toBe(2);
      expect(other.stderr).toMatch(/the input: recorded content with checksum/);
      expect(a.stats().tasks - before).toBe(3);
    },
  );
});
