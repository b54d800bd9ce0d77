/**
 * The morning after, end to end through the command line and the real SDK against the emulator: a run
 * off a terminal (JSON logs, JSON progress lines), its timeline, `report` as text, JSON and HTML — and
 * no Name, Description, attribute or reference value anywhere, at log level trace; on a terminal too
 * (the compiled bin in a pseudo-terminal). The HTML report is rendered in headless Chromium.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { BIN, cli, type Ran } from '../cli/bin.js';
import { fileEmulator } from '../emulator.js';
import { fileTempDir, tempDir, writeCsv } from '../helpers.js';
import { readMetrics } from '../prom.js';

const CHROMIUM = '/usr/bin/chromium';

/** Markers that must never leave the results file: one per kind of customer data. */
const MARK = { name: 'NAMEMARK7f3a', description: 'DESCMARK91c2', attribute: 'ATTRMARK55d0', reference: 'REFMARK0b8e' };
const UNKNOWN_INSTANCE = '11111111-2222-4333-8444-555555555555';

/** 40 rows: every 10th names an unknown instance (404, failed), two are invalid (no Name; a Name too long). */
function markedInput(dir: string): string {
  const rows = [['InstanceId', 'Name', 'Description', 'Attributes.note', 'References.crm.URL']];
  for (let i = 1; i <= 40; i++) {
    const name = i === 7 ? '' : i === 8 ? `${MARK.name}${'x'.repeat(1100)}` : `${MARK.name} ${i}`;
    rows.push([
      i % 10 === 0 ? UNKNOWN_INSTANCE : DEMO_INSTANCE_ID,
      name,
      `${MARK.description} ${i}`,
      `${MARK.attribute} ${i}`,
      `https://crm.example.com/${MARK.reference}/${i}`,
    ]);
  }
  return writeCsv(rows, 'night <b>&"\'.csv', dir);
}

const noMarks = (label: string, text: string) => {
  for (const m of Object.values(MARK)) expect(text.includes(m), `${label} holds ${m}`).toBe(false);
};

// A quota far below the ceiling asked for: the run's first burst (10) meets a bucket of 2, so the
// run is throttled, cuts its pace and logs it; 38 requests at 20/s last over a progress interval.
const emulator = fileEmulator({ rate: 20, burst: 2 });
let dir: string;
let results: string;
let run: Ran;
let text: Ran;
let json: Ran;
let html: string;
beforeAll(async () => {
  dir = fileTempDir(); // shared by the tests below
  const input = markedInput(dir);
  results = join(dir, 'night.results.csv');
  run = await cli([
    'run',
    input,
    '--results',
    results,
    '--endpoint',
    emulator.url,
    '--contact-flow-id',
    DEMO_CONTACT_FLOW_ID,
    '--rate',
    '100',
    '--burst',
    '10',
    '--log-level',
    'trace',
    '--progress-interval',
    '1',
    '--metrics-file',
    join(dir, 'night.prom'),
  ]);
  html = join(dir, 'r.html');
  [text, json] = await Promise.all([cli(['report', results, '--html', html]), cli(['report', results, '--json'])]);
});

describe('a run off a terminal, and its report', () => {
  it('logs JSON progress lines at the interval, rate cuts, and each failed row at WARN with its code and rule', () => {
    expect(run.code).toBe(1);
    const logs = run.stderr
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            level: string;
            msg: string;
            progress?: Record<string, number>;
            code?: string;
            reason?: string;
            line?: number;
          },
      );
    const progress = logs.filter((l) => l.msg === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]!.progress).toMatchObject({
      done: expect.any(Number),
      created: expect.any(Number),
      ceiling: 100,
      throttled: expect.any(Number),
    });
    expect(logs.some((l) => /rate cut/.test(l.msg))).toBe(true);
    const rows = logs.filter((l) => l.msg === 'row not created');
    expect(rows.every((l) => l.level === 'warn')).toBe(true);
    expect(rows.filter((l) => l.code === 'ResourceNotFoundException')).toHaveLength(4);
    expect(rows.find((l) => l.line === 9)).toMatchObject({
      code: 'InvalidRow',
      reason: expect.stringMatching(/^column "Name": must be at most 1024 characters/),
    });
    expect(run.stdout).toMatch(/Next: connect-task-loader rerun .*night\.results\.csv/);
  });

  it('keeps a timeline beside the results file, owner-only', () => {
    const path = `${results}.timeline.jsonl`;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const lines = readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ start: 'run', ceiling: 100 });
    expect(lines.at(-1)).toMatchObject({ end: 'completed', created: 34 });
    expect(lines.some((l) => l.event === 'cut')).toBe(true);
  });

  it(
    'report: counts, failures by code, invalid rows by ' + 'rule with example lines, rate, next command; exit 1',
    async () => {
      expect(text.code).toBe(1);
      expect(text.stdout).toContain('34 of 40 created · 6 need attention');
      expect(text.stdout).toMatch(
        /4 {2}ResourceNotFoundException {2}\(lines 11, 21, 31, 41\)|4 {2}ResourceNotFoundException {2}\(lines [\d, ]+\)/,
      );
      expect(text.stdout).toContain('column "Name": is required  (line 8)');
      expect(text.stdout).toContain('column "Name": must be at most 1024 characters  (line 9)');
      expect(text.stdout).toMatch(
        /Rate: [\d.]+ tasks\/s created by these runs \(ceiling 100\/s\) · \d+ requests, \d+ throttled/,
      );
      expect(text.stdout).toContain(`Next: connect-task-loader rerun ${results}`);
      const parsed = JSON.parse(json.stdout) as {
        exitCode: number;
        reports: {
          rows: object;
          failures: { key: string; count: number; lines: number[] }[];
          run: { throttled: number };
        }[];
      };
      expect(parsed.exitCode).toBe(1);
      expect(parsed.reports[0]!.rows).toEqual({
        total: 40,
        created: 34,
        failed: 4,
        invalid: 2,
        filtered: 0,
        planned: 0,
      });
      expect(parsed.reports[0]!.failures[0]).toMatchObject({ key: 'ResourceNotFoundException', count: 4 });
      expect(parsed.reports[0]!.run.throttled).toBeGreaterThan(0);
      expect((await cli(['report', join(dir, 'nope.csv')])).code).toBe(2);
    },
  );

  it(
    'no Name, Description, attribute or reference value ' + 'in logs, progress, summary, side files or reports',
    async () => {
      noMarks('run stderr', run.stderr);
      noMarks('run stdout', run.stdout);
      noMarks('timeline', readFileSync(`${results}.timeline.jsonl`, 'utf8'));
      noMarks('run state', readFileSync(`${results}.run.json`, 'utf8'));
      const metrics = readFileSync(join(dir, 'night.prom'), 'utf8');
      noMarks('metrics', metrics);
      // The input's name, quotes and all, is a label value an independent parser reads back.
      expect(readMetrics(metrics).labels('run_info').input).toBe('night <b>&"\'.csv');
      noMarks('report', text.stdout + text.stderr);
      noMarks('report --json', json.stdout + json.stderr);
      noMarks('html', readFileSync(html, 'utf8'));
      expect(statSync(html).mode & 0o777).toBe(0o600);
      // And on a terminal: the progress line and pretty logs, through a pseudo-terminal (unthrottled:
      // the pace is not the point here).
      emulator.configure({ rate: 1000, burst: 1000 });
      const again = join(dir, 'tty.results.csv');
      const input = markedInput(tempDir());
      const tty = await promisify(execFile)(
        'script',
        [
          '-qec',
          `${process.execPath} ${BIN} run '${input.replace(/'/g, `'\\''`)}' --results ${again} ` +
            `--endpoint ${emulator.url} --contact-flow-id ${DEMO_CONTACT_FLOW_ID} --rate 1000 --log-level trace`,
          '/dev/null',
        ],
        { env: { ...process.env, COLUMNS: '100' } },
      ).catch((err: { stdout: string }) => err);
      expect(tty.stdout).toMatch(/40\/40 rows 100%/);
      noMarks('terminal', tty.stdout);
    },
  );

  it('escapes every value taken from the data in the HTML report', async () => {
    const file = join(dir, 'evil <script>"&\'.results.csv');
    const evil = `<script>alert("x")</script>&'`;
    writeFileSync(
      file,
      'Name,Result.Line,Result.Status,Result.ContactId,Result.ClientToken,Result.Attempts,Result.ErrorCode,' +
        'Result.ErrorMessage\n' +
        `a,2,failed,,t,1,"${evil.replace(/"/g, '""')}","${evil.replace(/"/g, '""')}"\n` +
        `b,3,invalid,,,0,InvalidRow,"column ""${evil.replace(/"/g, '""')}"": is required"\n`,
    );
    const html = join(dir, 'evil.html');
    const r = await cli(['report', file, '--html', html]);
    expect(r.code).toBe(1);
    const page = readFileSync(html, 'utf8');
    expect(page).not.toContain('<script>alert');
    expect(page).not.toMatch(/evil <script>/);
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    expect(page.match(/<script>/g)).toHaveLength(1); // our own copy button, nothing else
    expect(page).not.toMatch(/https?:\/\/(?!crm)/); // nothing fetched at view time
  });

  it.skipIf(!existsSync(CHROMIUM))('renders in headless Chromium with the rate chart and the error table', async () => {
    const { stdout } = await promisify(execFile)(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${tempDir()}`,
        '--dump-dom',
        `file://${html}`,
      ],
      { timeout: 60_000, maxBuffer: 16 << 20 },
    );
    expect(stdout).toMatch(/<svg[^>]*aria-label="Rate: accepted vs target, and throttles"/);
    expect(stdout).toMatch(/<path d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+[^"]*"[^>]*data-series="accepted requests\/s"/);
    expect(stdout).toMatch(/<table class="groups">.*ResourceNotFoundException.*<td class="n">4<\/td>/s);
    expect(stdout).toContain('34 of 40 created · 6 need attention');
  });
});

describe('report of a file with many invalid rows: groups by rule, bounded output', () => {
  const HEADER =
    'Name,Result.Line,Result.Status,Result.ContactId,Result.ClientToken,Result.Attempts,Result.ErrorCode,' +
    'Result.ErrorMessage\n';
  const CHAIN = 'column "PreviousContactId": at most 12 tasks may share one PreviousContactId in a file';
  const reportAll = async (file: string) => {
    const page = `${file}.html`;
    const [t, j] = await Promise.all([cli(['report', file, '--html', page]), cli(['report', file, '--json'])]);
    return { text: t, json: j, html: readFileSync(page, 'utf8') };
  };

  it(
    '20,000 chain-rule rows whose messages differ only ' + 'in line numbers: one group, in text, JSON and HTML',
    async () => {
      const file = join(dir, 'chains.results.csv');
      const rows = [HEADER];
      for (let i = 0; i < 20_000; i++) {
        const line = 2 + i;
        const message = `${CHAIN} (line ${line} would be number ${13 + (i % 500)}; the first is line ${1 + (i % 997)})`;
        rows.push(`${MARK.name} ${i},${line},invalid,,,0,InvalidRow,"${message.replace(/"/g, '""')}"\n`);
      }
      writeFileSync(file, rows.join(''));
      const { text: t, json: j, html: page } = await reportAll(file);
      expect([t.code, j.code]).toEqual([1, 1]);
      expect(t.stdout).toContain(`  Invalid, by rule:\n    20,000  ${CHAIN}  (lines 2, 3, 4, 5, 6, …)\n  Next:`);
      expect(t.stdout).not.toMatch(/the first is line|other rules/);
      const parsed = JSON.parse(j.stdout) as {
        reports: { invalid: { key: string; count: number }[]; invalidOther?: unknown }[];
      };
      expect(parsed.reports[0]!.invalid).toEqual([{ key: CHAIN, count: 20_000, lines: [2, 3, 4, 5, 6] }]);
      expect(parsed.reports[0]!.invalidOther).toBeUndefined();
      expect(page.match(/<tr><td>/g)).toHaveLength(1); // one group row under the header
      expect(page).toContain('<td class="n">20,000</td>');
      noMarks('chains report', t.stdout + t.stderr + j.stdout + j.stderr + page);
    },
  );

  it(
    '200,000 distinct rules: exits 1 (not 70) listing the 50 ' +
      'largest and one "other rules" line; output stays small',
    async () => {
      const file = join(dir, 'rules.results.csv');
      const rows = [HEADER];
      // Rule i broken by 1 row, but the first three rules by 3, 2 and 2 rows.
      const rules = [0, 0, 0, 1, 1, 2, 2];
      for (let i = 3; i < 200_000; i++) rules.push(i);
      for (const [i, r] of rules.entries()) {
        rows.push(`${MARK.name},${2 + i},invalid,,,0,InvalidRow,"column ""c<${r}>"": is required (found none)"\n`);
      }
      writeFileSync(file, rows.join(''));
      const { text: t, json: j, html: page } = await reportAll(file);
      expect([t.code, j.code]).toEqual([1, 1]);
      expect(t.stderr + j.stderr).toBe('');
      expect(t.stdout).toMatch(
        /\n {10}3 {2}column "c<0>": is required {2}\(lines 2, 3, 4\)\n {10}2 {2}column "c<1>": is required {2}\(lines 5, 6\)\n/,
      );
      expect(t.stdout).toMatch(
        /\n {4}199,950 {2}other rules \(only the 50 largest are listed\) {2}\(lines [\d, ]+, …\)\n/,
      );
      expect(t.stdout.split('\n').length).toBeLessThan(80);
      const parsed = JSON.parse(j.stdout) as { reports: { invalid: unknown[]; invalidOther: { count: number } }[] };
      expect(parsed.reports[0]!.invalid).toHaveLength(50);
      expect(parsed.reports[0]!.invalidOther.count).toBe(200_004 - 3 - 2 - 2 - 47);
      expect(j.stdout.length).toBeLessThan(50_000);
      expect(page.length).toBeLessThan(100_000);
      expect(page).toContain('column &quot;c&lt;0&gt;&quot;: is required');
      expect(page).not.toContain('"c<0>"');
      expect(page).toMatch(
        /<td class="muted">other rules \(only the 50 largest are listed\)<\/td><td class="n">199,950<\/td>/,
      );
      noMarks('rules report', t.stdout + j.stdout + page);
    },
  );
});
