/**
 * Ordinary mistakes, as a user makes them on the command line: each is a clear message and the
 * exit code SPEC.md gives it — never exit 70 with a stack, never a file left behind that blocks the
 * corrected run, never a backfill marked `failed` row by row because the endpoint is wrong.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { runImport } from '../../src/run/run.js';
import { fileEmulator } from '../emulator.js';
import { quietPort, readResults, ROUTE_FLAGS as route, taskRows, tempDir, until, writeCsv } from '../helpers.js';
import { bareAwsEnv, cli, type Ran, spawnCli } from './bin.js';

const emulator = fileEmulator({ rate: 500, burst: 50 });

/** A usage error as SPEC.md wants it: exit 2, one clear line, no stack, nothing of an internal error. */
function expectUsageError(r: Ran, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
}

describe('refused before anything runs (exit 2, nothing sent, no file left)', () => {
  it('an unknown --log-level lists the levels', async () => {
    const input = writeCsv(taskRows(2));
    const before = emulator.stats().requests;
    const r = await cli(['run', input, '--endpoint', emulator.url, ...route, '--log-level', 'verbose']);
    expectUsageError(r, /'verbose' is invalid\. Allowed choices are fatal, error, warn, info, debug, trace, silent/);
    expect(readdirSync(join(input, '..'))).toEqual(['input.csv']);
    expect(emulator.stats().requests).toBe(before);
  });

  it('--summary-json into a missing folder is found before the run', async () => {
    const input = writeCsv(taskRows(2));
    const dir = join(input, '..');
    const before = emulator.stats().requests;
    const r = await cli([
      'run',
      input,
      '--endpoint',
      emulator.url,
      ...route,
      '--summary-json',
      join(dir, 'no-such-folder', 'summary.json'),
    ]);
    expectUsageError(r, /--summary-json .*summary\.json: the folder .*no-such-folder does not exist/);
    expect(readdirSync(dir)).toEqual(['input.csv']);
    expect(emulator.stats().requests).toBe(before);
  });

  it('--endpoint that is not a URL (the other path mistakes: test/run/preflight.test.ts)', async () => {
    const input = writeCsv(taskRows(2));
    const r = await cli(['run', input, ...route, '--endpoint', 'not-a-url']);
    expectUsageError(
      r,
      /--endpoint "not-a-url" is not an http\(s\) URL: write it as https:\/\/host or http:\/\/127\.0\.0\.1:4566/,
    );
    expect(readdirSync(join(input, '..'))).toEqual(['input.csv']);
  });

  it('a missing Region or credentials (AWS endpoint) leaves no file; the corrected command then runs', async () => {
    const input = writeCsv(taskRows(3));
    const dir = join(input, '..');
    // The bin: the SDK looks for a Region and credentials in its process's own environment.
    const noRegion = await spawnCli(['run', input, ...route], { env: bareAwsEnv() });
    expectUsageError(noRegion, /no AWS Region: pass --region, or set AWS_REGION/);
    const noCredentials = await spawnCli(['run', input, ...route, '--region', 'eu-west-2'], { env: bareAwsEnv() });
    expectUsageError(
      noCredentials,
      /no usable AWS credentials \(Could not load credentials from any providers\): set them up as for the AWS CLI/,
    );
    expect(readdirSync(dir)).toEqual(['input.csv']);

    // The same input, now pointed at the emulator (placeholder credentials): nothing blocks it.
    const fixed = await runImport({
      input,
      instanceId: DEMO_INSTANCE_ID,
      contactFlowId: DEMO_CONTACT_FLOW_ID,
      endpoint: emulator.url,
      rate: 500,
    });
    expect(fixed.rows).toMatchObject({ total: 3, created: 3 });
    expect(readResults(join(dir, 'input.results.csv')).map((r) => r['Result.Status'])).toEqual([
      'created',
      'created',
      'created',
    ]);
  });
});

describe('a presigned URL given where a file is expected', () => {
  it('is refused without its signature or session token in the message', async () => {
    const url =
      'https://exports.s3.eu-west-2.amazonaws.com/tickets.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256' +
      '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261205%2Feu-west-2%2Fs3%2Faws4_request' +
      '&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN&X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6';
    const before = emulator.stats().requests;
    const runs = await cli(['run', url, '--endpoint', emulator.url, ...route]);
    expectUsageError(runs, /tickets\.csv\?\[query not shown\] is a web address: .*s3:\/\/bucket\/key/);
    const others = [
      await cli(['validate', url, '--endpoint', emulator.url, ...route]),
      await cli(['report', url]),
      await cli(['merge', url, '--results', join(tempDir(), 'merged.csv')]),
      await cli(['rerun', url]),
    ];
    for (const r of [runs, ...others]) {
      expect(r.code).toBe(2);
      expect(`${r.stdout}${r.stderr}`).not.toMatch(/EXAMPLESESSIONTOKEN|5d672d79|AKIAIOSFODNN7EXAMPLE/);
      expect(r.stderr).toContain('https://exports.s3.eu-west-2.amazonaws.com/tickets.csv?[query not shown]');
    }
    expect(emulator.stats().requests).toBe(before);
  });
});

describe('an endpoint URL with a user name and password', () => {
  it('is refused, from a flag or the environment, without printing them or recording them', async () => {
    const input = writeCsv(taskRows(2));
    const results = join(tempDir(), 'r.csv');
    const secretUrl = 'http://minio:s3cr3t-pw@127.0.0.1:9000';
    const before = emulator.stats().requests;
    const runs = [
      await cli(['run', input, '--results', results, '--endpoint', emulator.url, ...route, '--s3-endpoint', secretUrl]),
      await cli(['run', input, '--results', results, '--endpoint', secretUrl, ...route]),
      await cli(['run', input, '--results', results, '--endpoint', emulator.url, ...route], {
        env: { ...process.env, CTL_S3_ENDPOINT: secretUrl },
      }),
    ];
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('carries a user name or password (not shown): an endpoint takes none');
      expect(`${r.stdout}${r.stderr}`).not.toContain('s3cr3t');
    }
    expect(runs[2]!.stderr).toContain('CTL_S3_ENDPOINT');
    expect(existsSync(results)).toBe(false);
    expect(emulator.stats().requests).toBe(before);
  });
});

describe('a dead endpoint stops the run instead of failing every row', () => {
  it(
    'connection refused: exit 3, "cannot reach", no row ' + 'recorded; --resume once it is up creates each row once',
    async () => {
      const port = await quietPort();
      const endpoint = `http://127.0.0.1:${port}`;
      const input = writeCsv(taskRows(40));
      const results = input.replace(/\.csv$/, '.results.csv');
      const args = ['run', input, '--endpoint', endpoint, ...route, '--rate', '500', '--burst', '50'];

      const dead = await cli(args);
      expect(dead.code, dead.stderr).toBe(3);
      expect(dead.stdout).toContain(`Stopped: cannot reach ${endpoint}: connect ECONNREFUSED 127.0.0.1:${port}`);
      expect(dead.stdout).toMatch(/run the same command with --resume/);
      expect(dead.stderr).not.toMatch(/"status":"failed"/);
      expect(readResults(results)).toEqual([]);

      const back = await startEmulator({ port, rate: 500, burst: 50 });
      try {
        const resumed = await runImport({
          input,
          endpoint,
          instanceId: DEMO_INSTANCE_ID,
          contactFlowId: DEMO_CONTACT_FLOW_ID,
          rate: 500,
          burst: 50,
          resume: true,
        });
        expect(resumed.rows).toMatchObject({ total: 40, created: 40, skipped: 0 });
        const rows = readResults(results);
        expect(rows).toHaveLength(40);
        expect(rows.every((r) => r['Result.Status'] === 'created')).toBe(true);
        expect(back.stats()).toMatchObject({ tasks: 40, maxTasksPerToken: 1 });
      } finally {
        await back.close();
      }
    },
  );
});

describe('the end of a run', () => {
  it('a summary that cannot be written after all is a one-line warning; the run keeps its exit code', async () => {
    const slow = await startEmulator({ rate: 100, burst: 10, latencyMs: 400 });
    try {
      const input = writeCsv(taskRows(1));
      const folder = join(tempDir(), 'summaries');
      mkdirSync(folder);
      const running = cli([
        'run',
        input,
        '--endpoint',
        slow.url,
        ...route,
        '--summary-json',
        join(folder, 'summary.json'),
      ]);
      // Once the request is at the emulator (held 400 ms there), the folder goes away.
      await until(() => slow.stats().requests > 0, 'the request to reach the emulator', { everyMs: 10 });
      rmSync(folder, { recursive: true });
      const r = await running;
      expect(r.code, r.stderr).toBe(0);
      // A warning of the run's log: off a terminal, a JSON line like the others.
      const warning = r.stderr.split('\n').find((l) => l.includes('the summary was not written'));
      expect(JSON.parse(warning!)).toMatchObject({
        level: 'warn',
        msg: expect.stringMatching(
          /^the summary was not written to .*summary\.json \(ENOENT\); the run's results are in /,
        ),
      });
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(existsSync(folder)).toBe(false);
    } finally {
      await slow.close();
    }
  });
});

describe('emulator', () => {
  it('on a busy port: says so and how to choose another (exit 2, no stack)', async () => {
    const port = Number(new URL(emulator.url).port);
    expectUsageError(
      await cli(['emulator', '--port', String(port)]),
      new RegExp(`port ${port} is in use: pass --port 0 for a free one or another port`),
    );
  });

  it("on an address that is not this machine's: a usage error", async () => {
    expectUsageError(
      await cli(['emulator', '--port', '0', '--host', 'no-such-host.invalid']),
      /cannot listen on --host no-such-host\.invalid/,
    );
  });
});

describe('service messages that echo customer data', () => {
  it('never reach a log line at any level (trace included) or the terminal; the results file keeps them', async () => {
    // A service stricter than the client's rules: Names over 12 characters pass validation here and
    // are refused on the wire, with the value echoed as Connect does.
    const strict = await startEmulator({ rate: 500, burst: 50, maxLengths: { Name: 12 } });
    try {
      const input = writeCsv([
        ['Name', 'Attributes.rowId'],
        ['Jane Doe, 42 Elm Street', '1'],
        ['Short one', '2'],
      ]);
      const r = await cli([
        'run',
        input,
        '--endpoint',
        strict.url,
        ...route,
        '--log-level',
        'trace',
        '--log-format',
        'json',
      ]);
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines.length).toBeGreaterThan(2);
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      expect(r.stderr).toMatch(
        /"level":"warn",.*"line":2,.*"reason":"1 validation error detected: Value \[redacted\] at 'name' failed to satisfy constraint: Member must have length less than or equal to 12"/,
      );
      expect(r.stderr + r.stdout).not.toMatch(/Jane|Elm Street|Short one/);

      const rows = readResults(input.replace(/\.csv$/, '.results.csv'));
      const failed = rows.find((row) => row['Result.Status'] === 'failed')!;
      expect(failed['Result.ErrorCode']).toBe('InvalidParameterException');
      expect(failed['Result.ErrorMessage']).toBe(
        "1 validation error detected: Value 'Jane Doe, 42 Elm Street' at 'name' failed to satisfy constraint: " +
          'Member must have length less than or equal to 12',
      );
      // The report shows the service's reason by code, redacted too, in every form.
      const results = input.replace(/\.csv$/, '.results.csv');
      const html = `${results}.html`;
      for (const args of [
        ['report', results],
        ['report', results, '--json'],
        ['report', results, '--html', html],
      ]) {
        const shown = await cli(args);
        expect(shown.code, shown.stderr).toBe(1);
        expect(shown.stdout + shown.stderr).not.toMatch(/Jane|Elm Street/);
      }
      expect(readFileSync(html, 'utf8')).not.toMatch(/Jane|Elm Street/);
      expect(readFileSync(html, 'utf8')).toContain('Value [redacted] at');
    } finally {
      await strict.close();
    }
  });
});
