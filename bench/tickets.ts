/**
 * A whole CRM ticket export through `samples/support-tickets.job.json`, against the emulator in this
 * process, checked as test/run/tickets.e2e.test.ts checks its 120 synthetic tickets: every ticket
 * created exactly once, its Name from the template, its Description byte for byte, every input column
 * carried into the results file, each results row's line where its record starts. Then the same export
 * through `samples/open-tickets.job.json` (its `where` keeps open and pending tickets): the tasks
 * created are exactly the tickets counted open here, with csv-parse and a plain comparison, apart from
 * the tool's filter; every other ticket is one `filtered` row, never sent.
 *   node dist-bench/bench/tickets.js <export.csv>     (bench/tickets.sh builds first)
 * Prints what it found and how long each import took; exits 1 on any difference, 2 on a usage error.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { startEmulator } from '../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../src/emulator/service.js';
import { runImport } from '../src/run/run.js';

const ROOT = resolve(import.meta.dirname, '../..');
const JOB = join(ROOT, 'samples/support-tickets.job.json');
const OPEN_JOB = join(ROOT, 'samples/open-tickets.job.json');
/** What the open-tickets job's `where` keeps, written out again here: the check must not use the tool's filter. */
const OPEN_STATUSES = ['Open', 'Pending Customer Response'];
const input = process.argv[2];
if (!input || process.argv.length > 3) {
  process.stderr.write('usage: node dist-bench/bench/tickets.js <export.csv>\n');
  process.exit(2);
}

const problems: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok && problems.length < 20) problems.push(what);
};

const source = parse(readFileSync(input), { columns: true, bom: true }) as Record<string, string>[];
const n = source.length;
const byId = new Map(source.map((r) => [r['Ticket ID']!, r]));
check(byId.size === n, `${n - byId.size} Ticket IDs repeat: the job file's token key needs them unique`);

const work = mkdtempSync(join(tmpdir(), 'ctl-tickets-'));
const emulator = await startEmulator({ rate: 100_000, burst: 1000 });
const started = performance.now();
try {
  const summary = await runImport({
    input,
    results: join(work, 'tickets.results.csv'),
    job: JOB,
    endpoint: emulator.url,
    rate: 100_000,
    burst: 1000,
    instanceId: DEMO_INSTANCE_ID,
    contactFlowId: DEMO_CONTACT_FLOW_ID,
  });
  const seconds = (performance.now() - started) / 1000;
  const { rows } = summary;
  check(
    rows.total === n && rows.created === n && rows.failed === 0 && rows.invalid === 0,
    `rows: ${JSON.stringify(rows)}, expected ${n} created`,
  );
  const stats = emulator.stats();
  check(
    stats.tasks === n && stats.maxTasksPerToken === 1,
    `emulator: ${stats.tasks} tasks, at most ${stats.maxTasksPerToken} per token`,
  );

  const tasks = emulator.service.tasks;
  check(new Set(tasks.map((t) => t.Attributes?.ticketId)).size === n, 'tasks do not name every ticket once');
  for (const t of tasks) {
    const row = byId.get(t.Attributes?.ticketId ?? '');
    if (!row) {
      check(false, `a task names no ticket of the input (${t.Attributes?.ticketId})`);
      continue;
    }
    check(
      t.Name === `${row['Ticket Subject']} (ticket ${row['Ticket ID']})`,
      `ticket ${row['Ticket ID']}: Name ${JSON.stringify(t.Name)}`,
    );
    check(
      t.Description === row['Ticket Description'],
      `ticket ${row['Ticket ID']}: Description differs from the input`,
    );
  }

  const results = parse(readFileSync(summary.results), { columns: true }) as Record<string, string>[];
  check(results.length === n, `${results.length} results rows for ${n} tickets`);
  const columns = Object.keys(source[0] ?? {});
  check(
    JSON.stringify(Object.keys(results[0] ?? {}).slice(0, columns.length)) === JSON.stringify(columns),
    'the results file does not start with the input columns, in order',
  );
  let line = 2;
  const lineOf = new Map<string, number>();
  for (const r of source) {
    lineOf.set(r['Ticket ID']!, line);
    line += Object.values(r).join('').split('\n').length; // a record's lines: 1 + its cells' line feeds
  }
  for (const r of results) {
    const row = byId.get(r['Ticket ID'] ?? '');
    check(
      row !== undefined && columns.every((c) => r[c] === row[c]),
      `ticket ${r['Ticket ID']}: a carried column differs from the input`,
    );
    check(
      Number(r['Result.Line']) === lineOf.get(r['Ticket ID'] ?? ''),
      `ticket ${r['Ticket ID']}: Result.Line ${r['Result.Line']}, the record starts on ` +
        `line ${lineOf.get(r['Ticket ID'] ?? '')}`,
    );
  }
  const braces = source.filter((r) => r['Ticket Description']!.includes('{{')).length;
  const multiline = source.filter((r) => r['Ticket Description']!.includes('\n')).length;
  process.stdout.write(
    `${input}: ${n} tickets (${multiline} multi-line descriptions, ${braces} with literal ` +
      `{{…}}), ${rows.created} created in ${seconds.toFixed(1)} s ` +
      `(${(rows.created / seconds).toFixed(0)} rows/s), ${summary.requests} requests\n`,
  );
} finally {
  await emulator.close();
}

const openIds = new Set(source.filter((r) => OPEN_STATUSES.includes(r['Ticket Status']!)).map((r) => r['Ticket ID']!));
const open = openIds.size;
const filtering = await startEmulator({ rate: 100_000, burst: 1000 });
const filterStarted = performance.now();
try {
  const summary = await runImport({
    input,
    results: join(work, 'open-tickets.results.csv'),
    job: OPEN_JOB,
    endpoint: filtering.url,
    rate: 100_000,
    burst: 1000,
    instanceId: DEMO_INSTANCE_ID,
    contactFlowId: DEMO_CONTACT_FLOW_ID,
  });
  const seconds = (performance.now() - filterStarted) / 1000;
  const { rows } = summary;
  check(
    rows.total === n && rows.created === open && rows.filtered === n - open && rows.failed + rows.invalid === 0,
    `open tickets: rows ${JSON.stringify(rows)}, expected ${open} created and ${n - open} filtered`,
  );
  const stats = filtering.stats();
  check(
    stats.requests === open && stats.tasks === open && stats.maxTasksPerToken === 1,
    `open tickets: emulator ${stats.requests} requests, ${stats.tasks} tasks, at most ${stats.maxTasksPerToken} per ` +
      `token; expected ${open}`,
  );
  const created = new Set(filtering.service.tasks.map((t) => t.Attributes?.ticketId ?? ''));
  check(
    created.size === open && [...openIds].every((id) => created.has(id)),
    'open tickets: the tasks are not exactly the open tickets',
  );
  const results = parse(readFileSync(summary.results), { columns: true }) as Record<string, string>[];
  check(results.length === n, `open tickets: ${results.length} results rows for ${n} tickets`);
  for (const r of results) {
    const want = openIds.has(r['Ticket ID'] ?? '') ? 'created' : 'filtered';
    check(
      r['Result.Status'] === want && (want === 'created' || r['Result.ErrorCode'] === 'Filtered'),
      `open tickets: ticket ${r['Ticket ID']} (${r['Ticket Status']}) is ${r['Result.Status']}, expected ${want}`,
    );
  }
  process.stdout.write(
    `${input}: ${open} of ${n} tickets open or pending (counted here), ${rows.created} created and ` +
      `${rows.filtered} filtered by samples/open-tickets.job.json in ${seconds.toFixed(1)} s, ` +
      `${summary.requests} requests\n`,
  );
} finally {
  await filtering.close();
  rmSync(work, { recursive: true, force: true });
}
if (problems.length) {
  process.stderr.write(`the import differs from the export:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(
  'every ticket created exactly once, text, columns and lines intact; with the filter, exactly the open ones\n',
);
