/**
 * The compiled bin, as users and cron run it: exit codes, what goes to stdout and stderr, privacy.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { readResults, taskRows, tempDir, writeCsv } from '../helpers.js';
import { cli as runBin, type CliOptions, type Ran } from './bin.js';

/** The pid of the running bin whose arguments include `arg` (children are tracked here). */
const children = new Map<string, number>();
async function pidOf(arg: string): Promise<number> {
  for (;;) {
    const pid = children.get(arg);
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function cli(args: string[], options: CliOptions = {}): Promise<Ran> {
  return runBin(args, { ...options, onSpawn: (child) => args.forEach((a) => children.set(a, child.pid!)) });
}

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ rate: 200, burst: 20 });
});
afterAll(() => emulator.close());

const route = ['--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', DEMO_CONTACT_FLOW_ID];

describe('connect-task-loader', () => {
  it('--help lists the commands, examples and exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const text of ['run', 'rerun', 'validate', 'emulator', 'demo', 'Examples:', 'Exit codes:']) expect(r.stdout).toContain(text);
    const run = await cli(['run', '--help']);
    expect(run.stdout).toContain('--token-namespace');
    expect(run.stdout).toContain('--dry-run');
  });

  it('run: exit 0, summary on stdout, JSON logs on stderr without row content or SDK warnings', async () => {
    const input = writeCsv(taskRows(20));
    const r = await cli(['run', input, '--endpoint', emulator.url, '--rate', '200', '--burst', '20', ...route]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Done: 20 rows — 20 created, 0 failed, 0 invalid/);
    expect(r.stdout).toContain(`Results: ${input.replace(/\.csv$/, '.results.csv')}`);
    const logs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
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
    expect(again.stdout).toMatch(/^Already processed: .* was completed into .*\.results\.csv at .* \(3 created, 0 failed, 0 invalid\)\. Nothing sent\./);
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
    expect(badFlag.stderr).toMatch(/--rate must be a number above 0/);
    const badHeader = writeCsv([['Name', 'Attributes.ticket id'], ['n', '1']]);
    const header = await cli(['run', badHeader, ...route]);
    expect(header.code).toBe(2);
    expect(header.stderr).toMatch(/column "Attributes.ticket id": attribute key "ticket id" may contain only letters/);
    expect(existsSync(`${badHeader.replace(/\.csv$/, '.results.csv')}.run.json`)).toBe(false);
    const missing = await cli(['run', '/no/such.csv', ...route]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read \/no\/such.csv: ENOENT/);
    expect(emulator.stats().requests).toBe(before);
  });

  it('exit 3 on SIGTERM after draining: every task created has its results row, and it says how to resume', async () => {
    const slow = await startEmulator({ rate: 10, burst: 1, latencyMs: 200 });
    try {
      const input = writeCsv(taskRows(200));
      const running = cli(['run', input, '--endpoint', slow.url, '--rate', '10', '--burst', '1', ...route]);
      while (slow.stats().created < 5) await new Promise((r) => setTimeout(r, 50));
      const pid = await pidOf(input);
      process.kill(pid, 'SIGTERM');
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
  });

  it('demo: imports the sample through an in-process emulator (two rows invalid on purpose → exit 1)', async () => {
    const cwd = tempDir();
    const r = await cli(['demo'], { cwd });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/32 rows — 30 created, 0 failed, 2 invalid/);
    const results = readResults(join(cwd, 'demo-output', 'tasks.results.csv'));
    expect(results).toHaveLength(32);
    expect(existsSync(join(cwd, 'demo-output'))).toBe(true);
  });

  it('emulator: serves on the port it prints until SIGTERM', async () => {
    let url = '';
    const r = await cli(['emulator', '--port', '0', '--rate', '10'], {
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
