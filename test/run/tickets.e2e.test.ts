/**
 * A CRM ticket export (headers with spaces, multi-line quoted text, braces and backslashes in the
 * data, empty cells) imports through the sample job file with no hand edits. The fixture is synthetic
 * rows in the shape of a real export (test/fixtures/tickets/README.md); the full export is imported
 * by `bench/tickets.sh <export.csv>`.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { runImport } from '../../src/run/run.js';
import { cli } from '../cli/bin.js';
import { readResults, tempDir } from '../helpers.js';

const DATA = resolve(import.meta.dirname, '../fixtures/tickets/support-tickets.csv');
const JOB = resolve(import.meta.dirname, '../../samples/support-tickets.job.json');

describe('CRM ticket export', () => {
  it('imports every ticket with the sample job file, each exactly once, with text intact', async () => {
    const input = join(tempDir(), 'tickets.csv');
    copyFileSync(DATA, input);
    const source = parse(readFileSync(DATA), { columns: true, bom: true }) as Record<string, string>[];
    const n = source.length;
    expect(n).toBe(120);
    const emulator = await startEmulator({ rate: 100_000, burst: 1000 });
    try {
      const summary = await runImport({
        input,
        job: JOB,
        endpoint: emulator.url,
        rate: 100_000,
        burst: 1000,
        instanceId: DEMO_INSTANCE_ID,
        contactFlowId: DEMO_CONTACT_FLOW_ID,
      });
      expect(summary.rows).toMatchObject({ total: n, created: n, failed: 0, invalid: 0 });
      expect(emulator.stats()).toMatchObject({ tasks: n, maxTasksPerToken: 1 });

      const byId = new Map(source.map((r) => [r['Ticket ID']!, r]));
      const tasks = emulator.service.tasks;
      expect(new Set(tasks.map((t) => t.Attributes?.ticketId)).size).toBe(n);
      for (const t of tasks) {
        const row = byId.get(t.Attributes!.ticketId!)!;
        expect(t.Name).toBe(`${row['Ticket Subject']} (ticket ${row['Ticket ID']})`);
        // Line feeds, blank lines, quotes, backslashes, {{…}} and non-ASCII text arrive as they were.
        expect(t.Description).toBe(row['Ticket Description']);
        expect(t.Attributes).toEqual({
          ticketId: row['Ticket ID'],
          priority: row['Ticket Priority'],
          channel: row['Ticket Channel'],
          product: row['Product Purchased'],
          ticketType: row['Ticket Type'],
          ticketStatus: row['Ticket Status'],
        });
        expect(t.References).toEqual({
          crmTicket: { Type: 'URL', Value: `https://crm.example.com/tickets/${row['Ticket ID']}` },
          customerEmail: { Type: 'EMAIL', Value: row['Customer Email'] },
        });
      }
      const descriptions = source.map((r) => r['Ticket Description']!);
      for (const quirk of ['{{', '\n\n\n', '"', '\\"', '\u00a0', '🙂', '\ufffd', 'C:\\Users']) {
        expect(
          descriptions.some((d) => d.includes(quirk)),
          `the fixture has ${JSON.stringify(quirk)}`,
        ).toBe(true);
      }

      // Results keep every input column, in order, before the Result.* columns, empty cells included;
      // Result.Line is where the record starts (records end CRLF, their cells hold bare line feeds).
      const results = readResults(summary.results);
      expect(results).toHaveLength(n);
      expect(Object.keys(results[0]!).slice(0, 17)).toEqual(Object.keys(source[0]!));
      let line = 2;
      const lineOf = new Map<string, number>();
      for (const r of source) {
        lineOf.set(r['Ticket ID']!, line);
        line += 1 + Object.values(r).join('').split('\n').length - 1;
      }
      for (const r of results) {
        const row = byId.get(r['Ticket ID']!)!;
        for (const [column, value] of Object.entries(row))
          expect(r[column], `${column} of ticket ${r['Ticket ID']}`).toBe(value);
        expect(Number(r['Result.Line'])).toBe(lineOf.get(r['Ticket ID']!));
      }
    } finally {
      await emulator.close();
    }
  });

  it('the filter job file saved on Windows (a UTF-8 BOM and CRLF, or UTF-16) is the same job', async () => {
    const dir = tempDir();
    const input = join(dir, 'tickets.csv');
    copyFileSync(DATA, input);
    const plain = readFileSync(resolve(import.meta.dirname, '../../samples/open-tickets.job.json'), 'utf8');
    const crlf = plain.replace(/\n/g, '\r\n');
    const saved = {
      plain: Buffer.from(plain),
      notepad: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(crlf)]),
      powershell: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(crlf, 'utf16le')]),
    };
    const emulator = await startEmulator({ rate: 100_000, burst: 1000 });
    try {
      const results = join(dir, 'tickets.results.csv');
      const runs = [];
      for (const [name, bytes] of Object.entries(saved)) {
        const job = join(dir, `${name}.job.json`);
        writeFileSync(job, bytes);
        const r = await cli([
          'run',
          input,
          '--job',
          job,
          '--results',
          results,
          '--endpoint',
          emulator.url,
          '--instance-id',
          DEMO_INSTANCE_ID,
          '--contact-flow-id',
          DEMO_CONTACT_FLOW_ID,
          '--rate',
          '1000',
        ]);
        expect(r.code, `${name}: ${r.stderr}`).toBe(0);
        runs.push(r.stdout);
      }
      // The first run sends; the two others find the very same job already done.
      expect(runs[0]).toMatch(/filtered/);
      expect(runs.slice(1).every((out) => out.startsWith('Already processed'))).toBe(true);
      const rows = readResults(results);
      const created = rows.filter((r) => r['Result.Status'] === 'created').length;
      expect(created).toBeGreaterThan(0);
      expect(rows.filter((r) => r['Result.Status'] === 'filtered').length).toBe(rows.length - created);
      expect(emulator.stats()).toMatchObject({ tasks: created, maxTasksPerToken: 1 });
    } finally {
      await emulator.close();
    }
  });

  it('an export without its header row is refused without printing its first record', async () => {
    const text = readFileSync(DATA, 'utf8').replace(/^\uFEFF?/, '');
    const input = join(tempDir(), 'no-header.csv');
    writeFileSync(input, text.slice(text.indexOf('\n') + 1));
    const first = (parse(readFileSync(input), { to: 1 }) as string[][])[0]!;
    for (const job of [JOB, resolve(import.meta.dirname, '../../samples/open-tickets.job.json')]) {
      const r = await cli(['validate', input, '--job', job, '--instance-id', DEMO_INSTANCE_ID]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/is the header row missing\?/);
      for (const cell of first.filter((c) => c.length > 2)) expect(r.stderr).not.toContain(cell);
    }
  });
});
