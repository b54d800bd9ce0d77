/**
 * `stop`: the tasks of a results file stopped over real HTTP with the real SDK against the emulator —
 * each exactly once, nothing else, through faults, throttles, a kill -9 and a resume.
 */
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { cli, spawnCli } from '../cli/bin.js';
import { testEmulator } from '../emulator.js';
import { readResults, taskRows, tempDir, until, writeCsv } from '../helpers.js';

const OTHER_INSTANCE = '00000000-0000-4000-8000-0000000000ff';

async function createdRun(e: Emulator, count: number, dir = tempDir()): Promise<string> {
  const input = writeCsv(taskRows(count), 'input.csv', dir);
  const r = await cli([
    'run',
    input,
    '--endpoint',
    e.url,
    '--rate',
    '1000',
    '--burst',
    '200',
    '--instance-id',
    DEMO_INSTANCE_ID,
    '--contact-flow-id',
    DEMO_CONTACT_FLOW_ID,
  ]);
  expect(r.code, r.stderr).toBe(0);
  return input.replace(/\.csv$/, '.results.csv');
}

const fast = { rate: 1000, burst: 1000, stopRate: 1000, stopBurst: 1000 };
const stopFile = (results: string) => results.replace(/\.csv$/, '.stop.csv');
const byContact = (e: Emulator) => new Map(e.service.tasks.map((t) => [t.ContactId, t]));

describe('stop', () => {
  it('stops every created task of 500 exactly once through faults and throttles, and nothing else', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 500);
    // A task of another results file: it must stay untouched.
    const other = await createdRun(e, 3);
    e.configure({
      stopRate: 100,
      stopBurst: 10,
      faults: { failBefore: 0.05, failAfter: 0.05, resetAfter: 0.03, proxyError: 0.02, seed: 11 },
    });
    const r = await cli(['stop', results, '--rate', '400', '--burst', '40']);
    expect(r.code, r.stdout + r.stderr).toBe(0);

    const created = readResults(results);
    const rows = readResults(stopFile(results));
    expect(rows).toHaveLength(500);
    expect(new Set(rows.map((x) => x['Result.Line'])).size).toBe(500);
    expect(rows.every((x) => x['Stop.Status'] === 'stopped' || x['Stop.Status'] === 'already-ended')).toBe(true);
    const tasks = byContact(e);
    for (const row of created) {
      const task = tasks.get(row['Result.ContactId']!)!;
      expect(task).toMatchObject({ state: 'ended', stoppedByRequest: true });
    }
    const stats = e.stats();
    expect(stats.stopped).toBe(500);
    expect(stats.stopThrottled + stats.faults.failBefore + stats.faults.failAfter).toBeGreaterThan(0);
    for (const row of readResults(other)) expect(tasks.get(row['Result.ContactId']!)?.stopRequests).toBeUndefined();
    expect(statSync(stopFile(results)).mode & 0o777).toBe(0o600);
    // No customer data in the stop file.
    expect(readFileSync(stopFile(results), 'utf8')).not.toMatch(/Task \d|Line one|crm\.example/);

    // A second stop of the same file sends nothing.
    e.configure({ faults: { failBefore: 0, failAfter: 0, resetAfter: 0, proxyError: 0 } });
    const before = e.stats().stopRequests;
    const again = await cli(['stop', results, '--rate', '400']);
    expect(again.code, again.stderr).toBe(0);
    expect(e.stats().stopRequests).toBe(before);
  }, 120_000);

  it('after kill -9, --resume sends no stop again for a row already recorded', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 200);
    e.configure({ stopRate: 100, stopBurst: 5 });
    let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
    e.service.onStopRequest = (n) => {
      if (n === 80) child?.kill('SIGKILL');
    };
    const killed = await spawnCli(['stop', results, '--rate', '100', '--burst', '5'], {
      onSpawn: (c) => (child = c),
    });
    e.service.onStopRequest = undefined;
    expect(killed.code).toBeNull();
    const done = readFileSync(stopFile(results), 'utf8');
    const recorded = readResults(stopFile(results).replace(/$/, '')).length;
    expect(recorded).toBeGreaterThan(0);
    expect(recorded).toBeLessThan(200);
    const requestsThen = new Map(e.service.tasks.map((t) => [t.ContactId, t.stopRequests ?? 0]));
    const doneIds = new Set(
      done
        .split('\n')
        .slice(1)
        .filter((l) => /,(stopped|already-ended),/.test(l))
        .map((l) => l.split(',')[1]),
    );

    // Without --resume, an unfinished stop is refused.
    const refused = await cli(['stop', results]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--resume/);

    const resumed = await cli(['stop', results, '--resume', '--rate', '100', '--burst', '5']);
    expect(resumed.code, resumed.stderr).toBe(0);
    for (const t of e.service.tasks) {
      expect(t.state).toBe('ended');
      if (doneIds.has(t.ContactId)) expect(t.stopRequests).toBe(requestsThen.get(t.ContactId));
    }
    expect(e.stats().stopped).toBe(200);
    const rows = readResults(stopFile(results));
    const done2 = rows.filter((x) => x['Stop.Status'] === 'stopped' || x['Stop.Status'] === 'already-ended');
    expect(new Set(done2.map((x) => x['Result.Line'])).size).toBe(200);
  }, 120_000);

  it('--lines and --where stop exactly the rows they choose; --dry-run sends nothing', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 20);
    const created = readResults(results);
    const lineOf = (rowId: string) => created.find((x) => x['Attributes.rowId'] === rowId)!['Result.Line']!;

    const dry = await cli(['stop', results, '--lines', `${lineOf('1')}-${lineOf('5')}`, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/Would stop: 5 tasks/);
    expect(dry.stdout).not.toMatch(/Task \d/);
    expect(e.stats().stopRequests).toBe(0);
    expect(existsSync(stopFile(results))).toBe(false);

    const lines = await cli([
      'stop',
      results,
      '--lines',
      `${lineOf('1')}-${lineOf('5')},${lineOf('12')}`,
      '--rate',
      '500',
    ]);
    expect(lines.code, lines.stderr).toBe(0);
    const where = await cli([
      'stop',
      results,
      '--where',
      '{"column": "Attributes.rowId", "in": ["7", "9"]}',
      '--rate',
      '500',
    ]);
    expect(where.code, where.stderr).toBe(0);
    const tasks = byContact(e);
    const ended = created
      .filter((x) => tasks.get(x['Result.ContactId']!)!.state === 'ended')
      .map((x) => x['Attributes.rowId']);
    expect(ended.sort()).toEqual(['1', '12', '2', '3', '4', '5', '7', '9']);
    expect(e.stats().stopRequests).toBe(8);

    // The report of the results file counts them: text, JSON, HTML.
    const text = await cli(['report', results]);
    expect(text.stdout).toMatch(/Stops: 8 of 20 created tasks stopped · .*input\.results\.stop\.csv/);
    const json = JSON.parse((await cli(['report', results, '--json'])).stdout) as {
      reports: { stops: { done: number; stopped: number; completed: boolean } }[];
    };
    expect(json.reports[0]!.stops).toMatchObject({ done: 8, stopped: 8, completed: true });
    const html = join(dirname(results), 'report.html');
    await cli(['report', results, '--html', html]);
    expect(readFileSync(html, 'utf8')).toMatch(/>8<\/[a-z]+>.*tasks stopped/s);
  });

  it('refuses a results file from another instance or endpoint, and one without a run state', async () => {
    const e = await testEmulator({
      ...fast,
      instances: { [DEMO_INSTANCE_ID]: { contactFlows: [DEMO_CONTACT_FLOW_ID] }, [OTHER_INSTANCE]: {} },
    });
    const results = await createdRun(e, 5);
    const instance = await cli(['stop', results, '--instance-id', OTHER_INSTANCE]);
    expect(instance.code).toBe(2);
    expect(instance.stderr).toMatch(/instance: the run sent to 00000000-0000-4000-8000-00000000c0de/);
    expect(instance.stderr).toMatch(new RegExp(`connect-task-loader stop .* --instance-id ${DEMO_INSTANCE_ID}`));
    const elsewhere = await testEmulator(fast);
    const endpoint = await cli(['stop', results, '--endpoint', elsewhere.url]);
    expect(endpoint.code).toBe(2);
    expect(endpoint.stderr).toMatch(/endpoint: the run sent to/);
    expect(e.stats().stopRequests + elsewhere.stats().stopRequests).toBe(0);

    const plain = writeCsv([
      ['Result.Line', 'Result.Status', 'Result.ContactId'],
      ['2', 'created', 'x'],
    ]);
    const none = await cli(['stop', plain, '--endpoint', e.url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no run state/);
  });

  it.each(['ContactNotFoundException', 'InvalidRequestException'] as const)(
    'records tasks already ended (%s) as already-ended, not failed',
    async (answer) => {
      const e = await testEmulator({ ...fast, alreadyEnded: answer });
      const results = await createdRun(e, 6);
      e.service.endTasks(2);
      const r = await cli(['stop', results, '--rate', '500']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const rows = readResults(stopFile(results));
      expect(rows.filter((x) => x['Stop.Status'] === 'already-ended')).toHaveLength(2);
      expect(rows.filter((x) => x['Stop.Status'] === 'stopped')).toHaveLength(4);
      expect(rows.find((x) => x['Stop.Status'] === 'already-ended')?.['Stop.ErrorCode']).toBe(answer);
      await until(() => e.stats().activeTasks === 0, 'every task ended');
    },
  );

  it('a stop that failed exits 1 and says so; the next stop sends the failed rows again', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 4);
    e.configure({ faults: { failBefore: 1 } });
    const failed = await cli(['stop', results, '--rate', '500', '--max-attempts', '2']);
    expect(failed.code, failed.stdout + failed.stderr).toBe(1);
    expect(failed.stdout).toMatch(/failed 4/);
    expect(failed.stdout).toMatch(/InternalServiceException: 4/);
    expect(readResults(stopFile(results)).map((x) => x['Stop.Attempts'])).toEqual(['2', '2', '2', '2']);
    e.configure({ faults: { failBefore: 0 } });
    const again = await cli(['stop', results, '--rate', '500']);
    expect(again.code, again.stderr).toBe(0);
    expect(e.stats()).toMatchObject({ stopped: 4, activeTasks: 0 });
    expect((await cli(['report', results])).stdout).toMatch(/Stops: 4 of 4 created tasks stopped/);
  });

  it('reads StopContact quota with --rate auto; refuses a --where on a column the file lacks', async () => {
    const e = await testEmulator({ ...fast, stopRate: 7, stopBurst: 3 });
    const results = await createdRun(e, 3);
    const auto = await cli(['stop', results, '--rate', 'auto', '--log-format', 'json']);
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(/"rate":7,"burst":3.*--rate auto: the applied StopContact quota/);
    const bad = await cli(['stop', results, '--where', '{"column": "Nope", "equals": "x"}']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/where\[1\].*Nope/);
    const notJson = await cli(['stop', results, '--where', '{column: x}']);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/--where must be JSON/);
  });

  it('SIGTERM finishes the stops in flight and exits 3; a second stop meanwhile is locked out (4)', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 60);
    e.configure({ stopRate: 20, stopBurst: 1 });
    let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
    let locked: Awaited<ReturnType<typeof cli>> | undefined;
    const second = new Promise<void>((done) => {
      e.service.onStopRequest = (n) => {
        if (n !== 5) return;
        void cli(['stop', results, '--resume']).then((r) => {
          locked = r;
          child?.kill('SIGTERM');
          done();
        });
      };
    });
    const first = await spawnCli(['stop', results, '--rate', '20', '--burst', '1'], { onSpawn: (c) => (child = c) });
    await second;
    e.service.onStopRequest = undefined;
    expect(locked!.code, locked!.stderr).toBe(4);
    expect(first.code, first.stdout + first.stderr).toBe(3);
    expect(first.stdout).toMatch(/--resume/);
    const resumed = await cli(['stop', results, '--resume', '--rate', '500']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(e.stats()).toMatchObject({ stopped: 60, activeTasks: 0 });
    expect(new Set(readResults(stopFile(results)).map((x) => x['Result.Line'])).size).toBe(60);
  }, 60_000);

  it('sends one stop per task when rows repeat (a file appended to itself, a ContactId pasted on another row)', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 5);
    const rows = readResults(results);
    const header = Object.keys(rows[0]!);
    // Line 4 now holds line 3's ContactId (pasted over it): line 4's own task is not named any more.
    rows[2]!['Result.ContactId'] = rows[1]!['Result.ContactId']!;
    const body = rows.map((row) => header.map((c) => row[c]!));
    writeCsv([header, ...body, ...body], basename(results), dirname(results));
    const contacts = new Set(rows.map((row) => row['Result.ContactId']!));
    const r = await cli(['stop', results]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const tasks = byContact(e);
    expect(e.stats().stopRequests).toBe(4);
    for (const c of contacts) expect(tasks.get(c)).toMatchObject({ stopRequests: 1 });
    // A later stop sends nothing either.
    const again = await cli(['stop', results]);
    expect(again.code, again.stderr).toBe(0);
    expect(e.stats().stopRequests).toBe(4);
  });

  it('refuses a results file whose CSV a hand edit broke (exit 2, the line named, no cell quoted), sending nothing', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 3);
    appendFileSync(results, 'Secret name,"Secret "desc" here,1,7,created,x\n');
    const r = await cli(['stop', results]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/broken CSV at line \d+/);
    expect(r.stderr).not.toMatch(/Secret|"d"|internal error/);
    expect(e.stats().stopRequests).toBe(0);
  });

  it('refuses a stop file whose CSV a hand edit broke (exit 2, the line named), sending nothing', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 3);
    expect((await cli(['stop', results, '--lines', '2'])).code).toBe(0);
    appendFileSync(stopFile(results), '3,"abc"d,stopped,1,,\n');
    const before = e.stats().stopRequests;
    const r = await cli(['stop', results]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/broken CSV at line \d+/);
    expect(r.stderr).not.toMatch(/"d"|internal error/);
    expect(e.stats().stopRequests).toBe(before);
  });

  it('refuses a created row whose Result.Line a hand edit made no line number (exit 2), sending nothing', async () => {
    const e = await testEmulator(fast);
    const results = await createdRun(e, 3);
    const rows = readResults(results);
    const header = Object.keys(rows[0]!);
    rows[1]!['Result.Line'] = '1,000';
    writeCsv([header, ...rows.map((row) => header.map((c) => row[c]!))], basename(results), dirname(results));
    const r = await cli(['stop', results]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/record 3 .*Result\.Line/);
    expect(e.stats().stopRequests).toBe(0);
  });
});
