/**
 * The command line as users and cron run it: exit codes, what goes to stdout and stderr, privacy.
 * The compiled bin where only a process shows it (SDK warnings, SIGTERM, the folder it runs in).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { fileEmulator } from '../emulator.js';
import { readResults, ROUTE_FLAGS as route, taskRows, tempDir, until, writeCsv } from '../helpers.js';
import { cli, spawnCli } from './bin.js';

const emulator = fileEmulator({ rate: 200, burst: 20 });

describe('connect-task-loader', () => {
  it('--help lists the commands, examples and exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const text of ['run', 'rerun', 'validate', 'emulator', 'demo', 'Examples:', 'Exit codes:'])
      expect(r.stdout).toContain(text);
    const run = await cli(['run', '--help']);
    expect(run.stdout).toContain('--token-namespace');
    expect(run.stdout).toContain('--dry-run');
  });

  it('run: exit 0, summary on stdout, JSON logs on stderr without row content or SDK warnings', async () => {
    const input = writeCsv(taskRows(20));
    // The bin: the SDK warns once per process, on the process's own stderr.
    const r = await spawnCli(['run', input, '--endpoint', emulator.url, '--rate', '200', '--burst', '20', ...route]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Done: 20 rows — 20 created, 0 failed, 0 invalid/);
    expect(r.stdout).toContain(`Results: ${input.replace(/\.csv$/, '.results.csv')}`);
    const logs = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['run started', 'run finished']));
    expect(r.stderr).not.toMatch(/Task \d|line "two"|NodeVersionSupportWarning/);
  });

  it('run: exit 1 when rows are invalid; the log names the line, not the content', async () => {
    const rows = taskRows(3);
    rows[2]![0] = '';
    const input = writeCsv(rows);
    const r = await cli(['run', input, '--endpoint', emulator.url, '--rate', '200', ...route]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"line":4,"status":"invalid","code":"InvalidRow"/);
    expect(r.stderr).not.toMatch(/Task \d/);
  });

  it('a second run of a completed input does nothing and says so (exit 0); rerun writes .rerun-1.csv', async () => {
    const input = writeCsv(taskRows(3));
    const args = ['run', input, '--endpoint', emulator.url, '--rate', '200', ...route];
    expect((await cli(args)).code).toBe(0);
    const before = emulator.stats().requests;
    const again = await cli(args);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /^Already processed: .* was completed into .*\.results\.csv at .* \(3 created, 0 failed, 0 invalid\)\. Nothing sent\./,
    );
    const rerun = await cli(['rerun', input.replace(/\.csv$/, '.results.csv')]);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(input.replace(/\.csv$/, '.results.rerun-1.csv'));
    expect(emulator.stats().requests).toBe(before);
  });

  it('exit 2 for usage errors, with nothing sent', async () => {
    const input = writeCsv(taskRows(2));
    const before = emulator.stats().requests;
    const noInstance = await cli(['run', input, '--endpoint', emulator.url, '--contact-flow-id', 'f']);
    expect(noInstance.code).toBe(2);
    expect(noInstance.stderr).toMatch(/no InstanceId: pass --instance-id/);
    const badFlag = await cli(['run', input, '--rate', 'fast']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--rate must be auto or a number above 0/);
    const badHeader = writeCsv([
      ['Name', 'Attributes.ticket id'],
      ['n', '1'],
    ]);
    const header = await cli(['run', badHeader, ...route]);
    expect(header.code).toBe(2);
    expect(header.stderr).toMatch(/column "Attributes.ticket id": attribute key "ticket id" may contain only letters/);
    expect(existsSync(`${badHeader.replace(/\.csv$/, '.results.csv')}.run.json`)).toBe(false);
    const missing = await cli(['run', '/no/such.csv', ...route]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read \/no\/such.csv: ENOENT/);
    expect(emulator.stats().requests).toBe(before);
  });

  it(
    'exit 3 on SIGTERM after draining: every task created ' + 'has its results row, and it says how to resume',
    async () => {
      const slow = await startEmulator({ rate: 10, burst: 1, latencyMs: 200 });
      try {
        const input = writeCsv(taskRows(200));
        let child: ChildProcess | undefined;
        const running = spawnCli(['run', input, '--endpoint', slow.url, '--rate', '10', '--burst', '1', ...route], {
          onSpawn: (c) => (child = c),
        });
        await until(() => slow.stats().created >= 5, 'the emulator to create 5 tasks', { everyMs: 50 });
        child!.kill('SIGTERM');
        const r = await running;
        expect(r.code).toBe(3);
        expect(r.stdout).toMatch(/Interrupted.*--resume/s);
        const results = readResults(input.replace(/\.csv$/, '.results.csv'));
        expect(results.length).toBeGreaterThanOrEqual(5);
        expect(results.length).toBeLessThan(200);
        expect(results.filter((x) => x['Result.Status'] === 'created')).toHaveLength(slow.stats().tasks);
      } finally {
        await slow.close();
      }
    },
  );

  it('demo: imports the sample through an in-process emulator (two rows invalid on purpose → exit 1)', async () => {
    const cwd = tempDir();
    const r = await spawnCli(['demo'], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/32 rows — 30 created, 0 failed, 2 invalid/);
    const results = readResults(join(cwd, 'demo-output', 'tasks.results.csv'));
    expect(results).toHaveLength(32);
    expect(existsSync(join(cwd, 'demo-output'))).toBe(true);
  });

  it(
    "in a program's own process: writes only to the streams " + 'it is given, reads only the environment it is given',
    async () => {
      const writes = [vi.spyOn(process.stdout, 'write'), vi.spyOn(process.stderr, 'write')];
      try {
        const input = writeCsv(taskRows(3));
        // The ids only in the environment given, not in this process's.
        const env = { ...process.env, CTL_INSTANCE_ID: DEMO_INSTANCE_ID, CTL_CONTACT_FLOW_ID: DEMO_CONTACT_FLOW_ID };
        const run = await cli(['run', input, '--endpoint', emulator.url, '--rate', '200', '--log-format', 'pretty'], {
          env,
        });
        expect(run.code, run.stderr).toBe(0);
        expect(run.stdout).toMatch(/Done: 3 rows — 3 created/);
        expect(run.stderr).toContain('run started');
        const report = await cli(['report', input.replace(/\.csv$/, '.results.csv')]);
        expect([report.code, report.stdout]).toEqual([0, expect.stringContaining('3 of 3 created')]);
        const help = await cli(['run', '--help']);
        expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('--token-namespace')]);
        const usage = await cli(['run', input, '--rate', 'fast']);
        expect([usage.code, usage.stderr]).toEqual([
          2,
          expect.stringContaining('--rate must be auto or a number above 0'),
        ]);
        const version = await cli(['--version']);
        expect([version.code, version.stdout]).toEqual([0, expect.stringMatching(/^\d+\.\d+\.\d+\n$/)]);
        for (const write of writes) expect(write).not.toHaveBeenCalled();
      } finally {
        for (const write of writes) write.mockRestore();
      }
    },
  );

  it('emulator: serves on the port it prints until SIGTERM', async () => {
    let url = '';
    const r = await spawnCli(['emulator', '--port', '0', '--rate', '10'], {
      onStdout: (text, child) => {
        const m = /emulator on (http:\/\/[^ ]+)/.exec(text);
        if (m && !url) {
          url = m[1]!;
          void fetch(`${url}/__emulator/stats`)
            .then((res) => res.json())
            .then((stats) => {
              expect(stats).toMatchObject({ rate: 10 });
              child.kill('SIGTERM');
            });
        }
      },
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.code).toBe(0);
  });
});
