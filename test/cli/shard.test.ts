/** `--shard i/n` and `merge`, through the command line against the emulator. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fileEmulator } from '../emulator.js';
import { readResults, ROUTE_FLAGS as route, taskRows, tempDir, writeCsv } from '../helpers.js';
import { cli } from './bin.js';

const emulator = fileEmulator({ rate: 500, burst: 50 });

it('three shards cover a file exactly once; merge joins them in line order and refuses overlaps', async () => {
  const dir = tempDir();
  const rows = taskRows(40);
  rows[7]![0] = ''; // one invalid row (no Name), in whichever shard it falls
  const input = writeCsv(rows, 'tickets.csv', dir);
  const runs = await Promise.all(
    [1, 2, 3].map((i) =>
      cli([
        'run',
        input,
        ...route,
        '--endpoint',
        emulator.url,
        '--rate',
        '500',
        '--shard',
        `${i}/3`,
        '--log-format',
        'json',
      ]),
    ),
  );
  const shardFiles = [1, 2, 3].map((i) => join(dir, `tickets.shard-${i}-of-3.results.csv`));
  const lines = shardFiles.flatMap((f) => readResults(f).map((r) => Number(r['Result.Line'])));
  expect(lines).toHaveLength(40);
  expect(new Set(lines).size).toBe(40);
  expect(runs.map((r) => r.code).sort()).toEqual([0, 0, 1]);
  expect(emulator.stats().maxTasksPerToken).toBe(1);

  const out = join(dir, 'tickets.results.csv');
  const merged = await cli(['merge', ...shardFiles, '--results', out]);
  expect(merged.code).toBe(1); // the invalid row
  expect(merged.stdout).toContain('40 rows — 39 created, 0 failed, 1 invalid');
  const joined = readResults(out);
  expect(joined.map((r) => Number(r['Result.Line']))).toEqual([...lines].sort((a, b) => a - b));

  const overlap = await cli(['merge', shardFiles[0]!, shardFiles[0]!, '--results', join(dir, 'again.csv')]);
  expect(overlap.code).toBe(2);
  expect(overlap.stderr).toContain('overlapping');
  expect(existsSync(join(dir, 'again.csv'))).toBe(false);

  const other = writeCsv(taskRows(3), 'other.csv', dir);
  expect((await cli(['run', other, ...route, '--endpoint', emulator.url, '--rate', '500'])).code).toBe(0);
  const mixed = await cli([
    'merge',
    shardFiles[0]!,
    join(dir, 'other.results.csv'),
    '--results',
    join(dir, 'mixed.csv'),
  ]);
  expect(mixed.code).toBe(2);
  expect(mixed.stderr).toContain('different inputs');
}, 60_000);

it('merge refuses a shard whose run did not finish, a dry-run ' +
  'shard, a missing shard and a file without run state', async () => {
  const dir = tempDir();
  const input = writeCsv(taskRows(12), 'night.csv', dir);
  const shard = (i: number) => join(dir, `night.shard-${i}-of-2.results.csv`);
  const send = (i: number, extra: string[] = []) =>
    cli(['run', input, ...route, '--endpoint', emulator.url, '--rate', '500', '--shard', `${i}/2`, ...extra]);
  expect((await send(1)).code).toBe(0);
  // Shard 2 checked only (validate): nothing was sent for its rows.
  expect((await cli(['validate', input, ...route, '--shard', '2/2'])).code).toBe(0);
  const dry = await cli(['merge', shard(1), shard(2), '--results', join(dir, 'dry.csv')]);
  expect(dry.code).toBe(2);
  expect(dry.stderr).toMatch(/dry run/);
  // Shard 2 sent but stopped at its deadline: it lacks the rows it never reached.
  expect((await send(2, ['--rate', '2', '--burst', '1', '--deadline', '0.5'])).code).toBe(3);
  const unfinished = await cli(['merge', shard(1), shard(2), '--results', join(dir, 'part.csv')]);
  expect(unfinished.code).toBe(2);
  expect(unfinished.stderr).toMatch(/did not finish[\s\S]*--resume/);
  expect((await cli(['merge', shard(1), '--results', join(dir, 'half.csv')])).stderr).toMatch(/shard 2\/2 is missing/);
  const bare = join(dir, 'bare.csv');
  writeCsvCopy(shard(1), bare);
  expect((await cli(['merge', bare, '--results', join(dir, 'b.csv')])).stderr).toMatch(/no run state/);
  for (const f of ['dry.csv', 'part.csv', 'half.csv', 'b.csv']) expect(existsSync(join(dir, f))).toBe(false);
}, 60_000);

function writeCsvCopy(from: string, to: string): void {
  writeFileSync(to, readFileSync(from));
}
