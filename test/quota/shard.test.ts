/** `--shard i/n` and `merge`, through the compiled CLI against the emulator. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { readResults, taskRows, tempDir, writeCsv } from '../helpers.js';
import { cli } from '../cli/bin.js';

const route = ['--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', DEMO_CONTACT_FLOW_ID];


let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ rate: 500, burst: 50 });
});
afterAll(() => emulator.close());

it('three shards cover a file exactly once; merge joins them in line order and refuses overlaps', async () => {
  const dir = tempDir();
  const rows = taskRows(40);
  rows[7]![0] = ''; // one invalid row (no Name), in whichever shard it falls
  const input = writeCsv(rows, 'tickets.csv', dir);
  const runs = await Promise.all([1, 2, 3].map((i) => cli(['run', input, ...route, '--endpoint', emulator.url, '--rate', '500', '--shard', `${i}/3`, '--log-format', 'json'])));
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
  const mixed = await cli(['merge', shardFiles[0]!, join(dir, 'other.results.csv'), '--results', join(dir, 'mixed.csv')]);
  expect(mixed.code).toBe(2);
  expect(mixed.stderr).toContain('different inputs');
}, 60_000);
