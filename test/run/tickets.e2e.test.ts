/**
 * The real CRM export (8,469 records, multi-line quoted text, headers with spaces, braces in the
 * data) imports through a job file with no hand edits.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { runImport } from '../../src/run/run.js';
import { readResults, tempDir } from '../helpers.js';

const DATA = resolve(import.meta.dirname, '../../../shared/data/support-tickets-export.csv');
const JOB = resolve(import.meta.dirname, '../../samples/support-tickets.job.json');

describe.skipIf(!existsSync(DATA))('CRM ticket export', () => {
  it('imports all 8,469 tickets with the sample job file, each exactly once, with text intact', async () => {
    const input = join(tempDir(), 'tickets.csv');
    copyFileSync(DATA, input);
    const emulator = await startEmulator({ rate: 100_000, burst: 1000 });
    try {
      const summary = await runImport({ input, job: JOB, endpoint: emulator.url, rate: 100_000, burst: 1000, instanceId: DEMO_INSTANCE_ID, contactFlowId: DEMO_CONTACT_FLOW_ID });
      expect(summary.rows).toMatchObject({ total: 8469, created: 8469, failed: 0, invalid: 0 });
      expect(emulator.stats()).toMatchObject({ tasks: 8469, maxTasksPerToken: 1 });

      const source = parse(readFileSync(DATA), { columns: true, bom: true }) as Record<string, string>[];
      const byId = new Map(source.map((r) => [r['Ticket ID']!, r]));
      const tasks = emulator.service.tasks;
      expect(new Set(tasks.map((t) => t.Attributes?.ticketId)).size).toBe(8469);
      const braces = tasks.filter((t) => byId.get(t.Attributes!.ticketId!)!['Ticket Description']!.includes('{{'));
      expect(braces.length).toBeGreaterThan(0);
      for (const t of tasks.slice(0, 200)) {
        const row = byId.get(t.Attributes!.ticketId!)!;
        expect(t.Name).toBe(`${row['Ticket Subject']} (ticket ${row['Ticket ID']})`);
      }
      // Results keep every input column, in order, before the Result.* columns.
      const results = readResults(summary.results);
      expect(results).toHaveLength(8469);
      expect(Object.keys(results[0]!).slice(0, 3)).toEqual(['Ticket ID', 'Customer Name', 'Customer Email']);
      const r1 = results.find((r) => r['Ticket ID'] === '1')!;
      expect(r1['Ticket Description']).toBe(byId.get('1')!['Ticket Description']);
      expect(Number(r1['Result.Line'])).toBe(2);
    } finally {
      await emulator.close();
    }
  });
});
