/**
 * The run contract between runs (issue 8, items 1–4 and 8–10): what a user does between two runs
 * — rehearse then go live, change a flag, fix the input, edit the results file, rerun an interrupted
 * night — never ends in a silent success, a row never sent, or a second task for a row. Real SDK,
 * real HTTP, the emulator; the compiled CLI where the message and the exit code are the contract.
 */
import { chmodSync, chownSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../src/emulator/server.js';
import type { StoredTask } from '../../src/emulator/service.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { rerunImport, runImport } from '../../src/run/run.js';
import { cli } from '../cli/bin.js';
import { readResults, ROUTE as route, ROUTE_FLAGS as routeFlags, taskRows, tempDir, writeCsv } from '../helpers.js';
import { recordRequests } from '../pace.js';

const fast = ['--rate', '500', '--burst', '50', '--log-level', 'warn'];

const emulators: Emulator[] = [];
afterEach(async () => {
  while (emulators.length) await emulators.pop()!.close();
});
async function emulate(options: EmulatorOptions = {}): Promise<Emulator> {
  const e = await startEmulator({ rate: 500, burst: 50, ...options });
  emulators.push(e);
  return e;
}

/** The command a refusal prints (the line after `marker`), split as a POSIX shell would split it. */
function advised(stderr: string, marker: RegExp): string[] {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => marker.test(l));
  expect(at, stderr).toBeGreaterThanOrEqual(0);
  const line = lines[at + 1]!.trim();
  const words = [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!,
  );
  expect(words.slice(0, 2)).toEqual(['connect-task-loader', expect.stringMatching(/^(run|rerun)$/)]);
  return words.slice(1);
}

/** The message of the UsageError (exit 2) a run was refused with. */
async function refusal(run: Promise<unknown>): Promise<string> {
  const err = (await run.then(
    () => undefined,
    (e: unknown) => e,
  )) as { exitCode?: number; message?: string } | undefined;
  expect(err?.exitCode, 'the run was expected to be refused').toBe(2);
  return err!.message!;
}

/** Tasks the emulator holds, as its control route serves them, counted per rowId attribute. */
async function tasksPerRow(e: Emulator): Promise<{ tasks: StoredTask[]; perRow: Map<string, number> }> {
  const tasks = (await (await fetch(`${e.url}/__emulator/tasks`)).json()) as StoredTask[];
  const perRow = new Map<string, number>();
  for (const t of tasks) perRow.set(t.Attributes!.rowId!, (perRow.get(t.Attributes!.rowId!) ?? 0) + 1);
  return { tasks, perRow };
}

/**
 * A signal that aborts (as SIGTERM does) as the emulator receives the run's `at`-th request: with one
 * request in flight at a time, that request is the last sent, and the rows after it never are.
 */
function stopAtRequest(e: Emulator, at: number): AbortSignal {
  const stop = new AbortController();
  const before = e.stats().requests;
  recordRequests(e, (n) => n - before === at && stop.abort(new Error('SIGTERM')));
  return stop.signal;
}

/** A run stopped (as by SIGTERM) as its `after`-th request goes out: its state says interrupted. */
async function interruptedRun(e: Emulator, input: string, after = 2) {
  const summary = await runImport({
    input,
    endpoint: e.url,
    ...route,
    rate: 500,
    burst: 50,
    concurrency: 1,
    signal: stopAtRequest(e, after),
  });
  expect(summary.interrupted).toBe(true);
  return summary;
}

describe('1 · the results file of another target, flow or job is never "already processed"', () => {
  it('refuses with what differs and the way on; nothing is sent; the advice works', async () => {
    const rehearsal = await emulate();
    const live = await emulate();
    const dir = tempDir();
    const input = writeCsv(taskRows(4), 'input.csv', dir);
    await runImport({ input, endpoint: rehearsal.url, ...route, rate: 500, burst: 50 });

    const aws = await cli(['run', input, '--region', 'eu-west-2', ...fast, ...routeFlags]);
    expect(aws.code).toBe(2);
    expect(aws.stderr).toContain(`--endpoint: recorded ${rehearsal.url}; you asked for AWS eu-west-2`);
    expect(aws.stderr).toMatch(/--region: recorded [\w-]+; you asked for eu-west-2/);
    expect(aws.stderr).toMatch(/To send this input to the new target, pass another --results/);
    expect(aws.stdout).not.toMatch(/Already processed/);

    const other = await refusal(runImport({ input, endpoint: live.url, ...route }));
    expect(other).toContain(`--endpoint: recorded ${rehearsal.url}; you asked for ${live.url}`);
    expect(live.stats().requests).toBe(0);
    const next = advised(other, /new target, pass another --results/);
    expect(next).toContain(`${dir}/input.results-2.csv`);
    expect((await cli([...next, ...fast])).code).toBe(0);
    expect(live.stats().tasks).toBe(4);

    const flow = await refusal(
      runImport({ input, endpoint: rehearsal.url, instanceId: DEMO_INSTANCE_ID, contactFlowId: 'another-flow' }),
    );
    expect(flow).toContain(`--contact-flow-id: recorded ${DEMO_CONTACT_FLOW_ID}; you asked for another-flow`);
    expect(rehearsal.stats().requests).toBe(4);
  });

  it('an edited job file is another run; a job file that only changes the pace is not', async () => {
    const e = await emulate();
    const dir = tempDir();
    const input = writeCsv(taskRows(3), 'input.csv', dir);
    const job = join(dir, 'job.json');
    writeFileSync(job, JSON.stringify({ rate: 500, task: { Name: '{{Name}}' } }));
    await runImport({ input, job, endpoint: e.url, ...route });
    writeFileSync(job, JSON.stringify({ rate: 400, burst: 40, task: { Name: '{{Name}}' } }));
    expect((await runImport({ input, job, endpoint: e.url, ...route })).alreadyDone).toBeTruthy();
    writeFileSync(job, JSON.stringify({ rate: 400, task: { Name: 'Call back: {{Name}}' } }));
    await expect(runImport({ input, job, endpoint: e.url, ...route })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(
        /- the job file: recorded .*job\.json with content checksum \w+; you asked for .*job\.json with content checksum \w+/,
      ),
    });
    expect(e.stats().requests).toBe(3);
  });
});

describe('2 · validate, then run --resume (the cron pattern) sends', () => {
  it('the dry run is replaced under --resume too, and never counts as already processed', async () => {
    const e = await emulate();
    const input = writeCsv(taskRows(5));
    const options = { input, endpoint: e.url, ...route, rate: 500, burst: 50 };
    expect((await runImport({ ...options, dryRun: true })).rows.planned).toBe(5); // what `validate` runs
    // a dry run replaces a dry run
    expect((await runImport({ ...options, dryRun: true, resume: true })).rows.planned).toBe(5);
    const live = await cli(['run', input, '--endpoint', e.url, ...fast, ...routeFlags, '--resume']);
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(/Done: 5 rows — 5 created/);
    expect(e.stats().tasks).toBe(5);
    expect((await runImport({ ...options, resume: true })).alreadyDone).toBeTruthy();
    expect(e.stats().requests).toBe(5);
    expect(await refusal(runImport({ ...options, dryRun: true }))).toMatch(
      /is the record of a real run: a dry run never writes into it/,
    );
  });
});

describe('3 · rerun reads only a whole, finished results file', () => {
  it('of an interrupted run: refuses and prints how to finish it; following that, the rerun works', async () => {
    const e = await emulate();
    const dir = tempDir();
    const input = writeCsv(taskRows(12), 'input.csv', dir);
    const results = join(dir, 'input.results.csv');
    const stopped = await runImport({
      input,
      endpoint: e.url,
      ...route,
      rate: 500,
      burst: 50,
      concurrency: 1,
      signal: stopAtRequest(e, 4),
    });
    expect(stopped.interrupted).toBe(true);
    expect(readResults(results)).toHaveLength(4);

    const rerun = await cli(['rerun', results]);
    expect(rerun.code).toBe(2);
    expect(rerun.stderr).toMatch(/is the record of a run that did not finish \(it was interrupted; \d+ rows recorded/);
    const finish = advised(rerun.stderr, /Finish that run first, then rerun/);
    expect(finish).toContain('--resume');
    // Pace flags are free to change on --resume: they decide how fast, not what or where.
    expect((await cli([...finish, ...fast, '--concurrency', '8', '--deadline', '60'])).code).toBe(0);
    expect((await rerunImport({ input: results })).rows).toMatchObject({ total: 12, created: 12 });
    expect(readResults(`${dir}/input.results.rerun-1.csv`)).toHaveLength(12);
    expect((await tasksPerRow(e)).perRow.size).toBe(12);
  });

  it('a deleted row or an unknown status is refused by line; stray spaces and case are forgiven', async () => {
    const e = await emulate();
    const rows = taskRows(6);
    rows.forEach((r, i) => {
      r.push(i === 0 ? 'ContactFlowId' : i <= 2 ? 'flow-not-yet' : DEMO_CONTACT_FLOW_ID);
    });
    const input = writeCsv(rows);
    const first = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, instanceId: DEMO_INSTANCE_ID });
    expect(first.rows).toMatchObject({ created: 4, failed: 2 });
    const original = readFileSync(first.results, 'utf8');
    const recordsOf = (text: string) => text.split(/\n(?=Task |Name,)/);

    writeFileSync(
      first.results,
      recordsOf(original)
        .filter((r) => !r.startsWith('Task 2,'))
        .join('\n'),
    );
    await expect(rerunImport({ input: first.results })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(
        /holds 5 rows, but the run that wrote it recorded 6: rows were removed[\s\S]*--token-namespace/,
      ),
    });

    writeFileSync(first.results, original.replace(/,2,failed,/, ',2,donez,'));
    await expect(rerunImport({ input: first.results })).rejects.toThrow(
      /line 2: its Result\.Status is not one of created, failed, invalid, filtered, planned/,
    );

    writeFileSync(first.results, original.replace(/,2,failed,/, ',2, Failed ,').replace(/,6,created,/, ',6,Created ,'));
    e.service.addInstance(DEMO_INSTANCE_ID, { contactFlows: ['flow-not-yet'] });
    const again = await rerunImport({ input: first.results });
    expect(again.rows).toMatchObject({ total: 6, created: 6, failed: 0 });
    expect(again.requests).toBe(2);
    expect(readResults(again.results).map((r) => r['Result.Status'])).toEqual(Array(6).fill('created'));
  });
});

describe('4 · --resume never trusts, nor appends to, a results file it did not start', () => {
  it('no run state, readable by others, or owned by another user: refused, file untouched', async () => {
    const e = await emulate();
    const dir = tempDir();
    const input = writeCsv(taskRows(4), 'input.csv', dir);
    const results = join(dir, 'input.results.csv');
    const forged =
      'Name,Description,Attributes.rowId,References.ticket.URL,Notes,Result.Line,Result.Status,Result.ContactId,Result.ClientToken,Result.Attempts,Result.ErrorCode,Result.ErrorMessage\nTask 1,d,1,,n,2,created,c-1,t-1,1,,\n';
    writeFileSync(results, forged, { mode: 0o644 });
    const r = await cli(['run', input, '--endpoint', e.url, ...fast, ...routeFlags, '--resume']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no run state \(input\.results\.csv\.run\.json\) beside it/);
    expect(readFileSync(results, 'utf8')).toBe(forged);

    rmSync(results);
    await interruptedRun(e, input);
    chmodSync(results, 0o644);
    await expect(runImport({ input, endpoint: e.url, ...route, resume: true })).rejects.toThrow(
      /can be read by other users \(mode 644\).*chmod 600/,
    );
    if (process.getuid?.() === 0) {
      chmodSync(results, 0o600);
      chownSync(results, 65534, 65534);
      await expect(runImport({ input, endpoint: e.url, ...route, resume: true })).rejects.toThrow(
        /belongs to another user \(uid 65534\)/,
      );
      chownSync(results, 0, 0);
    }
    chmodSync(results, 0o600);
    const size = statSync(results).size;
    expect(size).toBeGreaterThan(0);
    const resumed = await runImport({ input, endpoint: e.url, ...route, rate: 500, burst: 50, resume: true });
    expect(resumed.rows).toMatchObject({ total: 4, created: 4 });
  });
});

describe('8 · rerun reads the results file as UTF-8, comma-separated, whatever the input was', () => {
  for (const [name, encoding, delimiter] of [
    ['windows-1252', 'windows-1252', ','],
    ["';' delimiter", undefined, ';'],
  ] as const) {
    it(`${name}: the rerun sends the same text under the same token — no second, garbled task`, async () => {
      const e = await emulate({ faults: { failAfter: 1 } }); // each task is created, then the answer is lost
      const rows = taskRows(3).map((r, i) =>
        i === 0 ? r : [`Café ${i}`, 'Crème brûlée; à emporter', r[2]!, r[3]!, r[4]!],
      );
      const dir = tempDir();
      const input = join(dir, 'input.csv');
      const text = stringify(rows, { delimiter });
      writeFileSync(input, encoding ? Buffer.from(text, 'latin1') : text);
      const first = await runImport({
        input,
        endpoint: e.url,
        ...route,
        rate: 500,
        burst: 50,
        maxAttempts: 1,
        encoding,
        delimiter,
      });
      expect(first.rows).toMatchObject({ failed: 3 });
      e.configure({ faults: { failAfter: 0 } });

      expect((await rerunImport({ input: first.results, rate: 500, burst: 50 })).rows).toMatchObject({ created: 3 });
      const { tasks, perRow } = await tasksPerRow(e);
      expect([...perRow.values()]).toEqual([1, 1, 1]);
      expect(tasks.map((t) => t.Name).sort()).toEqual(['Café 1', 'Café 2', 'Café 3']);
      const tokens = new Map(readResults(first.results).map((row) => [row['Result.Line'], row['Result.ClientToken']]));
      for (const row of readResults(first.results.replace(/\.csv$/, '.rerun-1.csv')))
        expect(row['Result.ClientToken']).toBe(tokens.get(row['Result.Line']));
      expect(await refusal(rerunImport({ input: first.results, encoding: 'latin1' }))).toMatch(
        /--encoding and --delimiter apply only to the input/,
      );
    });
  }
});

describe('9 · --resume with a changed flag or job file is refused, naming what changed', () => {
  it('flow, job file and namespace; the pace may change freely', async () => {
    const e = await emulate();
    const dir = tempDir();
    const input = writeCsv(taskRows(20), 'input.csv', dir);
    const job = join(dir, 'job.json');
    writeFileSync(job, JSON.stringify({ task: { Description: '{{Description}}' } }));
    const run = { input, job, endpoint: e.url, ...route, rate: 500, burst: 50 };
    expect((await runImport({ ...run, concurrency: 1, signal: stopAtRequest(e, 2) })).interrupted).toBe(true);
    const before = e.stats().requests;

    await expect(runImport({ ...run, contactFlowId: 'another-flow', resume: true })).rejects.toThrow(
      new RegExp(
        `--contact-flow-id: recorded ${DEMO_CONTACT_FLOW_ID}; you asked for another-flow[\\s\\S]*That run did ` +
          `not finish[\\s\\S]*resume it with the settings it was started with`,
      ),
    );
    writeFileSync(job, JSON.stringify({ task: { Description: 'Note: {{Description}}' } }));
    await expect(runImport({ ...run, resume: true })).rejects.toThrow(
      /- the job file: recorded[\s\S]*restore the job file to the content it had/,
    );
    writeFileSync(job, JSON.stringify({ task: { Description: '{{Description}}' } }));
    await expect(runImport({ ...run, resume: true, tokenKey: ['Attributes.rowId'] })).rejects.toThrow(
      /--token-key: recorded the whole request; you asked for Attributes\.rowId/,
    );
    expect(e.stats().requests).toBe(before);

    const resumed = await runImport({ ...run, rate: 300, burst: 7, concurrency: 3, deadlineSeconds: 60, resume: true });
    expect(resumed.rows).toMatchObject({ total: 20, created: 20 });
    expect(e.stats().maxTasksPerToken).toBe(1);
    expect(e.stats().tasks).toBe(20);
  });
});

describe('10 · after the input changed, the advice keeps the earlier tokens', () => {
  it('rows appended to a completed run: following the printed command creates only the new rows', async () => {
    const e = await emulate();
    const dir = tempDir();
    const input = writeCsv(taskRows(5), 'input.csv', dir);
    const options = { input, endpoint: e.url, ...route, rate: 500, burst: 50 };
    await runImport(options);
    writeCsv(taskRows(8), 'input.csv', dir);
    const refused = await refusal(runImport(options));
    expect(refused).toMatch(/The input changed since/);
    expect(refused).toMatch(/does not create them twice/);
    expect((await cli([...advised(refused, /keeps that run's token namespace/), ...fast])).code).toBe(0);
    const { perRow } = await tasksPerRow(e);
    expect(perRow.size).toBe(8);
    expect(Math.max(...perRow.values())).toBe(1);
  });

  it('an input fixed after it broke mid-file: --resume refuses and the advice finishes it, each row once', async () => {
    const e = await emulate();
    const dir = tempDir();
    const input = join(dir, 'input.csv');
    const good = stringify(taskRows(8));
    // A byte that is not UTF-8 in record 6: reading stops there, every row before it kept.
    const cut = good.indexOf('Task 6');
    writeFileSync(
      input,
      Buffer.concat([Buffer.from(good.slice(0, cut)), Buffer.from([0xff]), Buffer.from(good.slice(cut))]),
    );
    const options = { input, endpoint: e.url, ...route, rate: 500, burst: 50 };
    expect((await runImport(options)).inputError).toBeTruthy();
    expect(e.stats().tasks).toBe(5); // every row before the bad byte, none after
    writeFileSync(input, good);
    const refused = await refusal(runImport({ ...options, resume: true }));
    expect(refused).toMatch(/That run did not finish \(its input broke off mid-file/);
    expect((await cli([...advised(refused, /keeps that run's token namespace/), ...fast])).code).toBe(0);
    const { perRow } = await tasksPerRow(e);
    expect(perRow.size).toBe(8);
    expect(Math.max(...perRow.values())).toBe(1);
  });
});
