/**
 * Safe reruns: crashes, resumes, reruns, locks — over real HTTP with the real SDK, the CLI killed
 * for real.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/emulator/random.js';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { readLedger } from '../../src/ledger/reader.js';
import { rerunImport, runImport } from '../../src/run/run.js';
import { readResults, ROUTE as route, ROUTE_FLAGS as routeFlags, taskRows, tempDir, writeCsv } from '../helpers.js';
import { recordRequests } from '../pace.js';

const BIN = resolve(import.meta.dirname, '../../dist/cli.js');

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function countByRow(e: Emulator): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of e.service.tasks) counts.set(t.Attributes!.rowId!, (counts.get(t.Attributes!.rowId!) ?? 0) + 1);
  return counts;
}

/** Runs the bin; with `killAt`, SIGKILLs it as the emulator receives the `killAt`-th request it sends. */
function runBin(args: string[], e: Emulator, killAt?: number): Promise<number | null> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    if (killAt !== undefined) {
      const before = e.stats().requests;
      recordRequests(e, (n) => n - before === killAt && child.kill('SIGKILL'));
    }
    child.on('exit', (code) => {
      e.service.onRequest = undefined;
      done(code);
    });
  });
}

describe('resume after a crash', () => {
  it('SIGKILL at random points, resumed each time: one row per record, all created, each task once', async () => {
    const e = (emulator = await startEmulator({
      rate: 500,
      burst: 10,
      latencyMs: 5,
      latencyJitterMs: 20,
      faults: { failAfter: 0.03, resetAfter: 0.02, failBefore: 0.02, seed: 7 },
    }));
    const input = writeCsv(taskRows(1200));
    const args = [
      'run',
      input,
      '--endpoint',
      e.url,
      '--rate',
      '500',
      '--burst',
      '10',
      '--log-level',
      'warn',
      ...routeFlags,
    ];
    // Each run is killed at its n-th request (n in 50–400): three runs use at most 1,200 requests,
    // so each finds rows enough left to reach its point, and a fourth finishes.
    const random = mulberry32(2026);
    const killPoints = [0, 1, 2].map(() => 50 + Math.floor(random() * 350));

    expect(await runBin(args, e, killPoints[0])).toBe(null); // killed: no exit code
    for (const point of killPoints.slice(1)) expect(await runBin([...args, '--resume'], e, point)).toBe(null);
    expect(await runBin([...args, '--resume'], e)).toBe(0);

    const results = readResults(input.replace(/\.csv$/, '.results.csv'));
    expect(results).toHaveLength(1200);
    expect(new Set(results.map((r) => r['Result.Line'])).size).toBe(1200);
    expect(results.every((r) => r['Result.Status'] === 'created')).toBe(true);
    const counts = countByRow(e);
    expect(counts.size).toBe(1200);
    expect(Math.max(...counts.values())).toBe(1);
    expect(e.stats().maxTasksPerToken).toBe(1);
    // Each results row names the task the emulator holds for that row.
    const byToken = new Map(e.service.tasks.map((t) => [t.ClientToken, t.ContactId]));
    expect(results.every((r) => byToken.get(r['Result.ClientToken']) === r['Result.ContactId'])).toBe(true);
    // And a run once more finds the input done.
    expect(await runBin(args, e)).toBe(0);
    expect(existsSync(`${input.replace(/\.csv$/, '.results.csv')}.lock`)).toBe(false);
  });

  it('repairs a torn last row, keeps every whole one, and resumes only what is missing', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const dir = tempDir();
    const input = writeCsv(taskRows(30), 'input.csv', dir);
    const first = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route });
    const path = first.results;
    // Simulate a crash: drop the last 5 rows, then a row torn inside its quoted description.
    const lines = readFileSync(path, 'utf8').split(/(?<=\n)(?=Task )/);
    writeFileSync(path, lines.slice(0, -5).join(''));
    appendFileSync(path, 'Task 99,"Line one of 99\nline');
    const ledger = await readLedger(path);
    expect(ledger.rows).toBe(25);
    expect(ledger.repairedBytes).toBeGreaterThan(0);
    writeFileSync(path, `${readFileSync(path, 'utf8')}Task 98,"half`); // torn again, for the run to repair
    const state = JSON.parse(readFileSync(`${path}.run.json`, 'utf8')) as { completedAt?: string; outcome: string };
    delete state.completedAt;
    state.outcome = 'running'; // as a killed run leaves it
    writeFileSync(`${path}.run.json`, JSON.stringify(state));

    const resumed = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route, resume: true });
    expect(resumed.rows).toMatchObject({ total: 30, created: 30, skipped: 25 });
    expect(resumed.requests).toBe(5 + resumed.throttled); // the 5 missing rows, each sent once (resent if throttled)
    const results = readResults(path);
    expect(results).toHaveLength(30);
    expect(e.stats().tasks).toBe(30); // the 5 resent rows were replayed, not created again
  });

  it('refuses to resume onto a changed input, and a namespace other than the interrupted run’s', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const dir = tempDir();
    const input = writeCsv(taskRows(3), 'input.csv', dir);
    const first = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route });
    writeFileSync(
      `${first.results}.run.json`,
      readFileSync(`${first.results}.run.json`, 'utf8')
        .replace(/"completedAt".*\n/, '')
        .replace('"outcome": "completed"', '"outcome": "interrupted"'),
    );
    await expect(
      runImport({ input, endpoint: e.url, ...route, resume: true, tokenNamespace: 'other' }),
    ).rejects.toThrow(
      /--token-namespace: recorded "input.csv@\w+"; you asked for "other"[\s\S]*resume it with the settings it was started with/,
    );
    writeCsv(taskRows(4), 'input.csv', dir);
    await expect(runImport({ input, endpoint: e.url, ...route, resume: true })).rejects.toThrow(
      /the input: recorded[\s\S]*The input changed since/,
    );
  });
});

describe('rerun', () => {
  it('sends again only the failed rows; 404 rows succeed once the flow exists; reruns of reruns work', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const rows = taskRows(40);
    rows.forEach((r, i) => {
      r.push(i === 0 ? 'ContactFlowId' : i % 4 === 0 ? 'flow-not-yet' : DEMO_CONTACT_FLOW_ID);
    });
    const input = writeCsv(rows);
    const first = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, instanceId: DEMO_INSTANCE_ID });
    expect(first.rows).toMatchObject({ created: 30, failed: 10 });
    const before = readResults(first.results);

    e.service.addInstance(DEMO_INSTANCE_ID, { contactFlows: ['flow-not-yet'] });
    const requestsBefore = e.stats().requests;
    const second = await rerunImport({ input: first.results }); // instance, endpoint, rate: from the earlier run
    expect(second.results).toBe(first.results.replace(/\.csv$/, '.rerun-1.csv'));
    expect(second.rows).toMatchObject({ total: 40, created: 40, failed: 0 });
    expect(e.stats().requests - requestsBefore).toBe(10 + second.throttled);
    expect(e.stats().tasks).toBe(40);

    const after = readResults(second.results);
    expect(after).toHaveLength(40);
    const old = new Map(before.map((r) => [r['Result.Line'], r]));
    for (const r of after) {
      const was = old.get(r['Result.Line'])!;
      expect(r['Attributes.rowId']).toBe(was['Attributes.rowId']); // Result.Line still points into the input
      expect(r['Result.ClientToken']).toBe(was['Result.ClientToken']); // unchanged rows keep their token
      if (was['Result.Status'] === 'created') expect(r['Result.ContactId']).toBe(was['Result.ContactId']);
    }

    const third = await rerunImport({ input: second.results });
    expect(third.results).toBe(first.results.replace(/\.csv$/, '.rerun-2.csv'));
    expect(third.rows).toMatchObject({ created: 40 });
    expect(third.requests).toBe(0);
  });

  it('with --include-invalid, sends rows corrected in the results file', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const rows = taskRows(3);
    rows[2]![0] = '';
    const input = writeCsv(rows);
    const first = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route });
    expect(first.rows).toMatchObject({ created: 2, invalid: 1 });
    const fixed = readFileSync(first.results, 'utf8').replace(/^,"Line one of 2/m, 'Task 2 (fixed),"Line one of 2');
    writeFileSync(first.results, fixed);
    const untouched = await rerunImport({ input: first.results, results: join(tempDir(), 'a.csv') });
    expect(untouched.rows).toMatchObject({ created: 2, invalid: 1 });
    const second = await rerunImport({ input: first.results, includeInvalid: true });
    expect(second.rows).toMatchObject({ created: 3, invalid: 0 });
    expect(e.service.tasks.map((t) => t.Name).sort()).toEqual(['Task 1', 'Task 2 (fixed)', 'Task 3']);
  });
});

describe('one run per results file', () => {
  it('refuses while another live run holds the lock (exit 4 names it), takes over a dead one’s', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const dir = tempDir();
    const input = writeCsv(taskRows(2), 'input.csv', dir);
    const lock = join(dir, 'input.results.csv.lock');
    const holder = join(lock, 'holder.1-ab.json');
    mkdirSync(lock);
    writeFileSync(holder, JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-11-24T00:00:00Z' }));
    await expect(runImport({ input, endpoint: e.url, ...route })).rejects.toMatchObject({
      exitCode: 4,
      message: expect.stringMatching(new RegExp(`another run holds .* \\(pid ${process.pid} on`)),
    });
    expect(await runBin(['run', input, '--endpoint', e.url, ...routeFlags], e)).toBe(4);

    // no such process
    writeFileSync(holder, JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), since: '2026-11-24T00:00:00Z' }));
    const summary = await runImport({ input, endpoint: e.url, ...route });
    expect(summary.rows.created).toBe(2);
    expect(existsSync(lock)).toBe(false);
  });

  it('warns when rows repeat a token: identical rows are one task', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const rows = taskRows(3);
    rows.push([...rows[1]!]);
    const input = writeCsv(rows);
    const warnings: object[] = [];
    const summary = await runImport({
      input,
      endpoint: e.url,
      rate: 500,
      burst: 50,
      ...route,
      logger: { info() {}, debug() {}, warn: (o) => warnings.push(o) },
    });
    expect(summary.duplicateTokens).toBe(1);
    expect(warnings).toContainEqual({ runId: summary.runId, line: 8, sameAsLine: 2 });
    expect(e.stats().tasks).toBe(3);
  });

  it('takes ClientToken values of any shape from a column, and warns on their repeats too', async () => {
    emulator = await startEmulator({ rate: 500, burst: 50 });
    const e = emulator;
    const rows = taskRows(3);
    rows.forEach((r, i) => {
      r.push(i === 0 ? 'ClientToken' : i === 3 ? 'a' : 'a'.repeat(i));
    });
    const input = writeCsv(rows);
    const summary = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route });
    expect(summary.duplicateTokens).toBe(1);
    expect(
      readResults(summary.results)
        .map((r) => r['Result.ClientToken'])
        .sort(),
    ).toEqual(['a', 'a', 'aa']);
    expect(e.stats().tasks).toBe(2);
  });
});
