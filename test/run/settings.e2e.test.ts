/**
 * The seams between commands, each once a defect: an endpoint from the environment recorded and
 * carried, validate's Next run with its ids and no results lost to it, the tab delimiter, the live
 * check's refusals, an interrupted run's "of N", a resume and a rerun that keep the earlier run's
 * settings.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { readState } from '../../src/ledger/state.js';
import { buildReport } from '../../src/report/model.js';
import { rerunImport, runImport, validateImport } from '../../src/run/run.js';
import { formatSummary } from '../../src/run/summary.js';
import { bareAwsEnv, cli, spawnCli } from '../cli/bin.js';
import { readResults, taskRows, tempDir, writeCsv } from '../helpers.js';

let e: Emulator;
beforeAll(async () => {
  e = await startEmulator({ rate: 1000, burst: 1000 });
});
afterAll(() => e?.close());

const ids = { CTL_INSTANCE_ID: DEMO_INSTANCE_ID, CTL_CONTACT_FLOW_ID: DEMO_CONTACT_FLOW_ID };

describe('an endpoint from AWS_ENDPOINT_URL_CONNECT', () => {
  it("is recorded with the run, carried by the report's Next, and kept by a rerun run without it", async () => {
    const input = writeCsv([...taskRows(6), ['', 'no name', '7', '', '']]);
    const env = { AWS_ENDPOINT_URL_CONNECT: e.url, ...ids };
    const first = await runImport({ input, env, rate: 500 });
    expect(first.rows).toMatchObject({ total: 7, created: 6, invalid: 1 });
    const state = (await readState(first.results))!;
    expect(state.options.endpoint).toBe(e.url);
    expect(state.options.instanceId).toBe(DEMO_INSTANCE_ID);
    const report = await buildReport(first.results);
    expect(report.next?.command).toContain(`--endpoint ${e.url}`);
    // Another shell: none of the variables, and a Region of its own.
    const rerun = await rerunImport({
      input: first.results,
      includeInvalid: true,
      env: { AWS_REGION: 'eu-west-2' },
      endpoint: e.url,
      region: 'us-east-1',
    });
    expect(rerun.rows).toMatchObject({ total: 7, created: 6, invalid: 1 });
    const plain = await rerunImport({ input: first.results, results: join(tempDir(), 'again.csv'), env: {} });
    expect(plain.rows.created).toBe(6);
  });

  it("a different one in the rerun's environment is refused, saying where it came from", async () => {
    const input = writeCsv(taskRows(2));
    const first = await runImport({ input, env: { AWS_ENDPOINT_URL_CONNECT: e.url, ...ids } });
    await expect(
      rerunImport({ input: first.results, env: { AWS_ENDPOINT_URL_CONNECT: 'http://127.0.0.1:9' } }),
    ).rejects.toThrow(
      /--endpoint: recorded http:\/\/127\.0\.0\.1:\d+; you asked for http:\/\/127\.0\.0\.1:9 \(from AWS_ENDPOINT_URL_CONNECT\)/,
    );
  });
});

describe("validate's Next", () => {
  it(
    'carries the ids it was given, and a run refused for ' + 'want of them leaves the validate results as they were',
    async () => {
      const input = writeCsv(taskRows(5));
      const checked = await validateImport({
        input,
        endpoint: e.url,
        instanceId: DEMO_INSTANCE_ID,
        contactFlowId: DEMO_CONTACT_FLOW_ID,
        env: {},
      });
      const next = formatSummary(checked);
      expect(next).toMatch(
        new RegExp(
          `Next: connect-task-loader run \\S+ --results \\S+ --instance-id ${DEMO_INSTANCE_ID} ` +
            `--contact-flow-id ${DEMO_CONTACT_FLOW_ID} --endpoint`,
        ),
      );
      const before = readFileSync(checked.results, 'utf8');
      await expect(runImport({ input, endpoint: e.url, env: {} })).rejects.toThrow(/no InstanceId/);
      expect(readFileSync(checked.results, 'utf8')).toBe(before);
      expect((await readState(checked.results))!.dryRun).toBe(true);
      const sent = await runImport({
        input,
        endpoint: e.url,
        instanceId: DEMO_INSTANCE_ID,
        contactFlowId: DEMO_CONTACT_FLOW_ID,
        rate: 500,
        env: {},
      });
      expect(sent.rows).toMatchObject({ total: 5, created: 5 });
    },
  );
});

describe('--delimiter', () => {
  it.each([['tab'], ['\\t']])('%s reads a tab-separated file', async (delimiter) => {
    const dir = tempDir();
    const input = join(dir, 'in.tsv');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(input, 'Name\tAttributes.rowId\nA\t1\nB\t2\n');
    const r = await cli([
      'validate',
      input,
      '--delimiter',
      delimiter,
      '--instance-id',
      DEMO_INSTANCE_ID,
      '--contact-flow-id',
      DEMO_CONTACT_FLOW_ID,
      '--no-progress',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('--delimiter tab');
  });
});

describe('validate --check-live', () => {
  it('says what is missing, as run does: no Region, then no credentials; nothing written', async () => {
    const dir = tempDir();
    const input = writeCsv(taskRows(2), 'in.csv', dir);
    const args = [
      'validate',
      input,
      '--instance-id',
      DEMO_INSTANCE_ID,
      '--contact-flow-id',
      DEMO_CONTACT_FLOW_ID,
      '--check-live',
      '--no-progress',
    ];
    // The bin: the SDK looks for a Region and credentials in its process's own environment.
    const noRegion = await spawnCli(args, { env: bareAwsEnv() });
    expect(noRegion.code).toBe(2);
    expect(noRegion.stderr).toContain('no AWS Region: pass --region');
    const noCredentials = await spawnCli([...args, '--region', 'eu-west-2'], { env: bareAwsEnv() });
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.stderr).toContain('no usable AWS credentials');
    expect(noCredentials.stderr).not.toMatch(/^CredentialsProviderError$/m);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir)).toEqual(['in.csv']);
  });
});

describe('an interrupted run', () => {
  it("says how many rows of how many; its resume keeps the earlier run's settings", async () => {
    const input = writeCsv(taskRows(60));
    const env = { AWS_ENDPOINT_URL_CONNECT: e.url, ...ids };
    const first = await runImport({ input, env, rate: 20, burst: 1, deadlineSeconds: 0.5 });
    expect(first.interrupted).toBe(true);
    expect(first.inputRows).toBe(60);
    expect(formatSummary(first)).toMatch(new RegExp(`^Interrupted: ${first.rows.total} of 60 rows`));
    // Resumed with nothing but --resume: endpoint, ids and rate come from the run it continues.
    const rest = await runImport({ input, resume: true, env: {} });
    expect(rest.rows).toMatchObject({ total: 60, created: 60 });
    expect(rest.targetRate).toBe(20);
    expect(new Set(readResults(rest.results).map((r) => r['Result.ClientToken'])).size).toBe(60);
  });
});

describe('--summary-json', () => {
  it.each([
    ['the results file', 'in.results.csv'],
    ['its run state', 'in.results.csv.run.json'],
    ['its timeline', 'in.results.csv.timeline.jsonl'],
  ])('naming %s is refused before anything is sent', async (what, name) => {
    const dir = tempDir();
    const input = writeCsv(taskRows(3), 'in.csv', dir);
    const before = e.stats().requests;
    const r = await cli([
      'run',
      input,
      '--endpoint',
      e.url,
      '--instance-id',
      DEMO_INSTANCE_ID,
      '--contact-flow-id',
      DEMO_CONTACT_FLOW_ID,
      '--summary-json',
      join(dir, name),
      '--no-progress',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      what === 'the results file' ? /is this run's results file/ : /is named as a file a run keeps beside its results/,
    );
    expect(e.stats().requests).toBe(before);
  });

  it('a re-fired run that finds its input already done keeps the summary of the run that did the work', async () => {
    const dir = tempDir();
    const input = writeCsv(taskRows(3), 'in.csv', dir);
    const summaryJson = join(dir, 'night.json');
    const args = ['run', input, '--endpoint', e.url, '--instance-id', DEMO_INSTANCE_ID];
    const night = [...args, '--contact-flow-id', DEMO_CONTACT_FLOW_ID, '--summary-json', summaryJson, '--no-progress'];
    expect((await cli(night)).code).toBe(0);
    const written = readFileSync(summaryJson, 'utf8');
    expect(JSON.parse(written)).toMatchObject({ rows: { created: 3 }, requests: 3 });

    const again = await cli(night);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Already processed');
    // Said in the run's log: off a terminal every line of it is JSON, with the run's id.
    const lines = again.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.every((l) => typeof l.runId === 'string' && typeof l.level === 'string')).toBe(true);
    expect(lines.find((l) => l.msg.includes('is kept'))).toMatchObject({
      level: 'info',
      msg: `the summary in ${summaryJson} is kept: it is the one of the run that did the work (this one sent nothing)`,
    });
    expect(readFileSync(summaryJson, 'utf8')).toBe(written);

    // Another place gets the already-done summary: there is nothing else to keep there.
    const other = join(dir, 'other.json');
    expect((await cli([...night.slice(0, -2), other, '--no-progress'])).code).toBe(0);
    expect(JSON.parse(readFileSync(other, 'utf8'))).toMatchObject({ alreadyDone: expect.any(String), requests: 0 });
  });

  it("a re-fired run replaces an interrupted run's summary, finished since by a resume that wrote none", async () => {
    const dir = tempDir();
    const input = writeCsv(taskRows(12), 'in.csv', dir);
    const summaryJson = join(dir, 'night.json');
    const base = ['run', input, '--endpoint', e.url, '--instance-id', DEMO_INSTANCE_ID];
    const route = [...base, '--contact-flow-id', DEMO_CONTACT_FLOW_ID, '--no-progress'];
    // The night stops after its deadline, a few rows in; its summary says so.
    const night = await cli([
      ...route,
      '--rate',
      '4',
      '--burst',
      '1',
      '--deadline',
      '1',
      '--summary-json',
      summaryJson,
    ]);
    expect(night.code, night.stderr).toBe(3);
    expect(JSON.parse(readFileSync(summaryJson, 'utf8'))).toMatchObject({ interrupted: true });
    // Finished by hand with the command the summary prints, which names no summary file.
    expect((await cli([...route, '--rate', '500', '--burst', '50', '--resume'])).code).toBe(0);

    // The night fired again: the summary no longer says the night was interrupted after a few rows.
    const again = await cli([...route, '--resume', '--summary-json', summaryJson]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('is kept');
    expect(JSON.parse(readFileSync(summaryJson, 'utf8'))).toMatchObject({
      interrupted: false,
      alreadyDone: expect.any(String),
      rows: { total: 12, created: 12 },
    });
  });
});

describe('found by an attack on the settings', () => {
  it("a shard's results rerun as printed; the merge of the shards records no shard", async () => {
    const dir = tempDir();
    const input = writeCsv([...taskRows(6), ['', 'no name', '7', '', '']], 'in.csv', dir);
    const env = { AWS_ENDPOINT_URL_CONNECT: e.url, ...ids };
    const shards = [];
    for (const index of [1, 2]) shards.push(await runImport({ input, env, shard: { index, count: 2 }, rate: 500 }));
    const withInvalid = shards.find((s) => s.rows.invalid > 0)!;
    const next = formatSummary(withInvalid);
    expect(next).toContain('rerun');
    const rerun = await rerunImport({ input: withInvalid.results, includeInvalid: true, env: {} });
    expect(rerun.rows.invalid).toBe(1);
    expect((await readState(rerun.results))!.identity.shard).toBe(
      (await readState(withInvalid.results))!.identity.shard,
    );
    const { mergeResults } = await import('../../src/ledger/merge.js');
    const merged = join(dir, 'merged.csv');
    await mergeResults(
      shards.map((s) => s.results),
      merged,
    );
    const state = (await readState(merged))!;
    expect([state.identity.shard, state.options.shard]).toEqual([undefined, undefined]);
  });

  it('validate that lacks an instance prints what a run needs, not a command that would be refused', async () => {
    const input = writeCsv(taskRows(2));
    const checked = await validateImport({ input, env: {} });
    const text = formatSummary(checked);
    expect(text).toMatch(/^Next: a run needs --instance-id/m);
    expect(text).not.toMatch(/^Next: connect-task-loader/m);
    expect((await buildReport(checked.results)).next).toEqual({
      why: expect.stringMatching(/^a run needs --instance-id/),
    });
  });

  it('a setting from the environment that differs from the run is refused with the variable to unset', async () => {
    const input = writeCsv(taskRows(60));
    const first = await runImport({
      input,
      env: { AWS_ENDPOINT_URL_CONNECT: e.url, ...ids },
      rate: 20,
      burst: 1,
      deadlineSeconds: 0.3,
    });
    expect(first.interrupted).toBe(true);
    await expect(runImport({ input, resume: true, env: { CTL_TIMEZONE: 'Europe/London' } })).rejects.toThrow(
      /Unset CTL_TIMEZONE in this shell/,
    );
  });

  it('CTL_DRY_RUN=1 keeps a rerun (which has no --dry-run) from sending', async () => {
    const input = writeCsv([...taskRows(2), ['', 'no name', '3', '', '']]);
    const first = await runImport({ input, env: { AWS_ENDPOINT_URL_CONNECT: e.url, ...ids } });
    const before = e.stats().requests;
    await expect(
      rerunImport({ input: first.results, includeInvalid: true, env: { CTL_DRY_RUN: '1' } }),
    ).rejects.toThrow(/CTL_DRY_RUN is set, but rerun does not take --dry-run/);
    expect(e.stats().requests).toBe(before);
  });

  it("a profile's endpoint_url and region are where the run sends, and are recorded", async () => {
    const dir = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'config'), `[profile ops]\nregion = eu-west-2\nendpoint_url = ${e.url}\n`);
    writeFileSync(join(dir, 'credentials'), '[ops]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\n');
    const input = writeCsv(taskRows(2), 'in.csv', dir);
    // The bin, as the SDK reads its credentials file from the process's own environment.
    const r = await spawnCli(['run', input, '--no-progress'], {
      env: bareAwsEnv({
        AWS_PROFILE: 'ops',
        AWS_CONFIG_FILE: join(dir, 'config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
        ...ids,
      }),
    });
    expect(r.code, r.stderr).toBe(0);
    const state = (await readState(join(dir, 'in.results.csv')))!;
    expect([state.identity.endpoint, state.identity.region]).toEqual([e.url.replace(/\/$/, ''), 'eu-west-2']);
  });
});

describe('report --html', () => {
  it(
    'naming a file a run owns (its lock, not there ' + 'between runs) is refused; a page is written owner-only',
    async () => {
      const input = writeCsv(taskRows(2));
      const run = await runImport({
        input,
        endpoint: e.url,
        instanceId: DEMO_INSTANCE_ID,
        contactFlowId: DEMO_CONTACT_FLOW_ID,
        env: {},
      });
      const refused = await cli(['report', run.results, '--html', `${run.results}.lock`]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('is named as a file a run keeps beside its results');
      // Another JSON file (a job file, another run's state) is never taken for a summary.
      const job = join(tempDir(), 'night.job.json');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(job, '{"instanceId":"x"}');
      const summary = await cli([
        'run',
        input,
        '--endpoint',
        e.url,
        '--instance-id',
        DEMO_INSTANCE_ID,
        '--contact-flow-id',
        DEMO_CONTACT_FLOW_ID,
        '--results',
        join(tempDir(), 'r.csv'),
        '--summary-json',
        job,
      ]);
      expect(summary.code).toBe(2);
      expect(summary.stderr).toContain('is an existing file that is not a JSON summary');
      const page = join(tempDir(), 'page.html');
      const ok = await cli(['report', run.results, '--html', page]);
      expect(ok.code, ok.stderr).toBe(0);
      const { statSync } = await import('node:fs');
      expect(statSync(page).mode & 0o777).toBe(0o600);
    },
  );
});
