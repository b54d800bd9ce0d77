/**
 * The job file's `where` end to end (real SDK, real HTTP, the emulator): a CRM export imported one
 * task per open ticket with no pre-filter, every record still one results row (`filtered` for the
 * rest, never sent), through --resume, rerun, validate, report, and awkward files. The open tickets
 * are counted here with csv-parse, apart from the tool's own filter.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { rerunImport, runImport } from '../../src/run/run.js';
import { cli } from '../cli/bin.js';
import { testEmulator } from '../emulator.js';
import { readResults, ROUTE as route, ROUTE_FLAGS as routeFlags, tempDir } from '../helpers.js';
import { recordRequests } from '../pace.js';

const DATA = resolve(import.meta.dirname, '../fixtures/tickets/support-tickets.csv');
const JOB = resolve(import.meta.dirname, '../../samples/open-tickets.job.json');
const CONDITION = 'where[1]: "Ticket Status" in ["Open", "Pending Customer Response"]';
const fast = { rate: 100_000, burst: 1000 };
const fastFlags = ['--rate', '100000', '--burst', '1000', '--log-level', 'warn'];

/** The fixture's tickets, and those open or pending, counted without the tool. */
const source = parse(readFileSync(DATA), { columns: true, bom: true }) as Record<string, string>[];
const openIds = new Set(
  source
    .filter((r) => r['Ticket Status'] === 'Open' || r['Ticket Status'] === 'Pending Customer Response')
    .map((r) => r['Ticket ID']!),
);
const n = source.length;
const open = openIds.size;

function tickets(): string {
  const input = join(tempDir(), 'tickets.csv');
  copyFileSync(DATA, input);
  return input;
}

/** A job file beside `dir`: the open-tickets sample with another `where`. */
function jobWith(dir: string, where: unknown, name = 'other.job.json'): string {
  const job = JSON.parse(readFileSync(JOB, 'utf8')) as Record<string, unknown>;
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ ...job, $schema: undefined, where }));
  return path;
}

/** Every record of the fixture exactly once in `results`: created if open, filtered (never sent) if not. */
function expectOneRowPerTicket(results: Record<string, string>[]): void {
  expect(results).toHaveLength(n);
  expect(new Set(results.map((r) => r['Ticket ID'])).size).toBe(n);
  expect(new Set(results.map((r) => r['Result.Line'])).size).toBe(n);
  for (const r of results) {
    if (openIds.has(r['Ticket ID']!)) {
      expect(r['Result.Status'], `ticket ${r['Ticket ID']}`).toBe('created');
      continue;
    }
    expect(r, `ticket ${r['Ticket ID']}`).toMatchObject({
      'Result.Status': 'filtered',
      'Result.ContactId': '',
      'Result.ClientToken': '',
      'Result.Attempts': '0',
      'Result.ErrorCode': 'Filtered',
      'Result.ErrorMessage': CONDITION,
    });
  }
}

describe('where: one task per open ticket of a CRM export', () => {
  it('sends the open tickets only; every record is one results row; the others are filtered, never sent', async () => {
    expect(open).toBeGreaterThan(0);
    expect(open).toBeLessThan(n);
    const e = await testEmulator(fast);
    const input = tickets();
    const summary = await runImport({ input, job: JOB, endpoint: e.url, ...fast, ...route });
    expect(summary.rows).toMatchObject({ total: n, created: open, failed: 0, invalid: 0, filtered: n - open });
    expect(summary.filteredBy).toEqual([{ condition: CONDITION, rows: n - open }]);
    expect(e.stats()).toMatchObject({ requests: open, tasks: open, maxTasksPerToken: 1 });
    expect(new Set(e.service.tasks.map((t) => t.Attributes?.ticketId))).toEqual(openIds);
    expectOneRowPerTicket(readResults(summary.results));

    const html = join(tempDir(), 'report.html');
    const text = await cli(['report', summary.results, '--html', html]);
    expect(text.code).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain(`<b>${n - open}</b><span>filtered by where (never sent)</span>`);
    expect(page).toContain('Filtered rows (not sent), by condition');
    expect(page).toContain('all created or filtered');
    expect(text.stdout).toContain(`${open} of ${n} created · ${n - open} filtered · nothing to fix`);
    expect(text.stdout).toMatch(new RegExp(`Filtered \\(not sent\\), by condition:\\n +${n - open}  where\\[1\\]`));
    expect(text.stdout).toContain('Next: nothing to do, every row is created or filtered out.');
  });

  it('a filter no record meets: exit 0, nothing sent, the summary says so', async () => {
    const e = await testEmulator(fast);
    const input = tickets();
    const job = jobWith(tempDir(), [{ column: 'Ticket Status', equals: 'Archived' }]);
    const ran = await cli(['run', input, '--job', job, '--endpoint', e.url, ...fastFlags, ...routeFlags]);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain(`Done: ${n} rows — 0 created, 0 failed, 0 invalid, ${n} filtered`);
    expect(ran.stdout).toContain(`${n} filtered by where[1]: "Ticket Status" equals "Archived"`);
    expect(ran.stdout).toContain('Every row was filtered out by the job file\'s "where": nothing to send.');
    expect(ran.stdout).toContain('Next: nothing to do, every row is created or filtered out.');
    expect(ran.stderr).not.toMatch(/"level":"error"|Error/);
    expect(e.stats().requests).toBe(0);
    const results = readResults(join(input, '../tickets.results.csv'));
    expect(results.map((r) => r['Result.Status'])).toEqual(Array(n).fill('filtered'));
    expect((await cli(['report', join(input, '../tickets.results.csv')])).code).toBe(0);
  });

  it('validate and --dry-run count the records each condition left out, with their first lines', async () => {
    const input = tickets();
    const checked = await cli(['validate', input, '--job', JOB, '--log-level', 'warn', ...routeFlags]);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain('Filter (a record is sent only if it meets every condition of "where"):');
    expect(checked.stdout).toMatch(new RegExp(`  where\\[1\\]: .* — ${n - open} records left out \\(lines \\d+, `));
    expect(checked.stdout).toContain(`Rows: ${open} would be sent, 0 invalid, ${n - open} filtered out`);
    expect(checked.stdout).toContain(
      `Dry run: ${n} rows — 0 created, 0 failed, 0 invalid, ${n - open} filtered, ${open} planned`,
    );
    const planned = readResults(join(input, '../tickets.results.csv'));
    expect(planned.filter((r) => r['Result.Status'] === 'planned').map((r) => r['Ticket ID'])).toEqual(
      source.filter((r) => openIds.has(r['Ticket ID']!)).map((r) => r['Ticket ID']),
    );

    const dry = await cli([
      'run',
      input,
      '--job',
      JOB,
      '--dry-run',
      '--results',
      join(input, '../dry.csv'),
      '--log-level',
      'warn',
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`Rows: ${open} would be sent, 0 invalid, ${n - open} filtered out`);

    // A condition that leaves nothing out is listed too: the plan shows the whole filter.
    const none = jobWith(tempDir(), [
      { column: 'Ticket Status', in: ['Open', 'Pending Customer Response'] },
      { column: 'Ticket ID', empty: false },
    ]);
    const both = await cli([
      'validate',
      input,
      '--job',
      none,
      '--results',
      join(input, '../both.csv'),
      '--log-level',
      'warn',
    ]);
    expect(both.stdout).toContain('where[2]: "Ticket ID" is not empty — 0 records left out\n');
  });

  it('--resume after an interruption: each record once, no task twice, filtered records never sent', async () => {
    const e = await testEmulator(fast);
    const input = tickets();
    const dir = join(input, '..');
    const stop = new AbortController();
    recordRequests(e, (k) => k === 10 && stop.abort(new Error('SIGTERM')));
    const first = await runImport({
      input,
      job: JOB,
      endpoint: e.url,
      ...fast,
      ...route,
      concurrency: 1,
      signal: stop.signal,
    });
    expect(first.interrupted).toBe(true);
    expect(first.rows.created).toBeLessThan(open);
    const sent = e.stats().requests;

    // The same conditions with their keys in another order are the same filter.
    const reordered = jobWith(
      dir,
      [{ in: ['Open', 'Pending Customer Response'], column: 'Ticket Status' }],
      'same.job.json',
    );
    const resumed = await runImport({ input, job: reordered, endpoint: e.url, ...fast, ...route, resume: true });
    expect(resumed.interrupted).toBe(false);
    expect(resumed.rows).toMatchObject({ total: n, created: open, filtered: n - open, failed: 0, invalid: 0 });
    // Filtered rows carried over from the first part are counted under their condition too.
    expect(resumed.filteredBy).toEqual([{ condition: CONDITION, rows: n - open }]);
    expect(e.stats()).toMatchObject({ tasks: open, maxTasksPerToken: 1 });
    expect(e.stats().requests - sent).toBeLessThanOrEqual(open - first.rows.created);
    expectOneRowPerTicket(readResults(resumed.results));
  });

  it('--resume with another where is refused, naming both filters; nothing is sent', async () => {
    const e = await testEmulator(fast);
    const input = tickets();
    const dir = join(input, '..');
    const stop = new AbortController();
    recordRequests(e, (k) => k === 5 && stop.abort(new Error('SIGTERM')));
    await runImport({ input, job: JOB, endpoint: e.url, ...fast, ...route, concurrency: 1, signal: stop.signal });
    const sent = e.stats().requests;
    const results = readFileSync(join(dir, 'tickets.results.csv'));

    for (const [where, now] of [
      [[{ column: 'Ticket Status', in: ['Open'] }], 'where[1]: "Ticket Status" in ["Open"]'],
      [
        [{ column: 'Ticket Status', in: ['Open', 'Pending Customer Response'], ignoreCase: true }],
        'where[1]: "Ticket Status" in ["Open", "Pending Customer Response"] (ignoreCase)',
      ],
      [[], 'none'],
    ] as const) {
      const job = jobWith(dir, where);
      const refused = await cli([
        'run',
        input,
        '--job',
        job,
        '--resume',
        '--endpoint',
        e.url,
        ...fastFlags,
        ...routeFlags,
      ]);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain(
        `- the job file's "where" (which records are sent): recorded ${CONDITION}; you asked for ${now}`,
      );
      expect(refused.stderr).toContain('resume it with the settings it was started with (restore the job file');
      // The rest of the job file is the same: only the filter is named.
      expect(refused.stderr).not.toContain('- the job file:');
    }
    expect(e.stats().requests).toBe(sent);
    expect(readFileSync(join(dir, 'tickets.results.csv'))).toEqual(results);
  });

  it('rerun sends the failed rows again and none of the filtered ones', async () => {
    const e = await testEmulator({ ...fast, faults: { failBefore: 1 } });
    const input = tickets();
    const failedRun = await runImport({ input, job: JOB, endpoint: e.url, ...fast, ...route, maxAttempts: 1 });
    expect(failedRun.rows).toMatchObject({ total: n, created: 0, failed: open, filtered: n - open });
    expect(e.stats().requests).toBe(open);

    e.configure({ faults: { failBefore: 0 } });
    const rerun = await rerunImport({ input: failedRun.results, endpoint: e.url, ...fast });
    expect(rerun.rows).toMatchObject({ total: n, created: open, failed: 0, filtered: n - open, skipped: n - open });
    expect(rerun.filteredBy).toEqual([{ condition: CONDITION, rows: n - open }]);
    expect(e.stats()).toMatchObject({ requests: 2 * open, tasks: open, maxTasksPerToken: 1 });
    expectOneRowPerTicket(readResults(rerun.results));

    // --include-invalid does not take filtered rows either: they were never meant to be sent.
    const again = await rerunImport({ input: rerun.results, endpoint: e.url, ...fast, includeInvalid: true });
    expect(again.rows).toMatchObject({ created: open, filtered: n - open });
    expect(e.stats().requests).toBe(2 * open);
  });
});

describe('where on awkward files', () => {
  const job = (dir: string, where: unknown) => {
    const path = join(dir, 'x.job.json');
    writeFileSync(path, JSON.stringify({ where, task: { Name: '{{Subject}}' } }));
    return path;
  };
  const run = (input: string, jobFile: string, e: { url: string }, ...more: string[]) =>
    cli(['run', input, '--job', jobFile, '--endpoint', e.url, ...fastFlags, ...routeFlags, ...more]);

  it('a BOM, spaces around a header, quoted line breaks in left-out cells, a Latin-1 file', async () => {
    const e = await testEmulator(fast);
    const dir = tempDir();
    const bom = join(dir, 'bom.csv');
    writeFileSync(
      bom,
      '\ufeff Status ,Subject,Notes\r\n' +
        'Open,First,\r\n' +
        'Closed,Second,"SECRET-NOTE line one\n\nline three, ""quoted"""\r\n' +
        'Open,Third,plain\r\n',
    );
    const ran = await run(bom, job(dir, [{ column: 'Status', equals: 'Open' }]), e, '--log-level', 'debug');
    expect(ran.code, ran.stderr).toBe(0);
    // Rows are written as they finish: a filtered one at once, a created one when its answer comes.
    const results = readResults(join(dir, 'bom.results.csv')).sort(
      (a, b) => Number(a['Result.Line']) - Number(b['Result.Line']),
    );
    expect(results.map((r) => [r.Subject, r['Result.Line'], r['Result.Status']])).toEqual([
      ['First', '2', 'created'],
      ['Second', '3', 'filtered'],
      ['Third', '6', 'created'],
    ]);
    // A left-out row's cells are carried into the results file as they were, and never logged.
    expect(results[1]!.Notes).toBe('SECRET-NOTE line one\n\nline three, "quoted"');
    expect(ran.stderr + ran.stdout).not.toContain('SECRET-NOTE');
    expect(e.service.tasks.map((t) => t.Name)).toEqual(expect.arrayContaining(['First', 'Third']));
    expect(e.stats().tasks).toBe(2);

    const latin1 = join(dir, 'latin1.csv');
    writeFileSync(latin1, Buffer.from('Status,Subject\nFermé,Un\nOuvert,Deux\nfermé ,Trois\n', 'latin1'));
    const loose = job(dir, [{ not: { column: 'Status', equals: 'Fermé', ignoreCase: true } }]);
    const decoded = await run(latin1, loose, e, '--encoding', 'latin1');
    expect(decoded.code, decoded.stderr).toBe(0);
    expect(decoded.stdout).toContain('3 rows — 1 created, 0 failed, 0 invalid, 2 filtered');
    expect(e.service.tasks.map((t) => t.Name)).toContain('Deux');
  });

  it('an empty where filters nothing, and is the same run as none', async () => {
    const e = await testEmulator(fast);
    const dir = tempDir();
    const input = join(dir, 'plain.csv');
    writeFileSync(input, 'Status,Subject\nOpen,One\nClosed,Two\n');
    const without = join(dir, 'none.job.json');
    writeFileSync(without, JSON.stringify({ task: { Name: '{{Subject}}' } }));
    expect((await run(input, without, e)).code).toBe(0);
    const again = await run(input, job(dir, []), e);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Already processed');
    expect(e.stats().tasks).toBe(2);
  });

  it.each([
    [
      'a column the header lacks, with the nearest',
      'Status,Subject\nOpen,One\n',
      [{ column: 'status ', equals: 'Open' }],
      'where[1]: no column named "status " in the input header (did you mean "Status"?) (columns: Status, Subject)',
    ],
    [
      'a column the header holds twice',
      'Status,Subject,Status\nOpen,One,Closed\n',
      [{ column: 'Status', equals: 'Open' }],
      'where[1]: the input header has 2 columns named "Status" (columns 1 and 3)',
    ],
    [
      'an invalid regular expression',
      'Status,Subject\nOpen,One\n',
      [{ column: 'Status', matches: '^(Open|Pending' }],
      'where[1].matches: /^(Open|Pending/ is not a valid regular expression',
    ],
    [
      'a pattern that can backtrack without end',
      'Status,Subject\nOpen,One\n',
      [{ column: 'Subject', matches: '^(\\w+\\s?)+$' }],
      'where[1].matches: /^(\\w+\\s?)+$/ repeats a part that itself repeats',
    ],
    [
      'a condition of the wrong shape (the schema)',
      'Status,Subject\nOpen,One\n',
      [{ column: 'Status', not: { equals: 'Closed' } }],
      '"where[1].not" needs "column" beside "equals": "not" wraps a whole condition',
    ],
  ])('%s: exit 2 before anything is sent, no file left behind', async (_name, csv, where, message) => {
    const e = await testEmulator(fast);
    const dir = tempDir();
    const input = join(dir, 'in.csv');
    writeFileSync(input, csv);
    const jobFile = job(dir, where);
    for (const command of [['run', '--endpoint', e.url, ...routeFlags], ['validate']]) {
      const ran = await cli([command[0]!, input, '--job', jobFile, ...command.slice(1), '--log-level', 'warn']);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain(message);
    }
    expect(e.stats().requests).toBe(0);
    expect(existsSync(join(dir, 'in.results.csv'))).toBe(false);
    expect(existsSync(join(dir, 'in.results.csv.run.json'))).toBe(false);
  });
});
