/**
 * A results file opened and saved in a spreadsheet before `rerun` (leading zeros dropped, a BOM,
 * CRLF): rows whose first send may have created the task are sent again under the ClientToken they
 * were sent with, so none becomes a second task.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { rerunImport, runImport } from '../../src/run/run.js';
import { writeCsv } from '../helpers.js';

let e: Emulator;
beforeAll(async () => {
  // Every answer after creating a task is lost (500): each row fails, and each task exists.
  e = await startEmulator({ rate: 1000, burst: 1000, faults: { failAfter: 1, seed: 3 } });
});
afterAll(() => e?.close());

describe('rerun after a spreadsheet re-save', () => {
  it('sends rows that may exist under their recorded tokens: one task per row', async () => {
    const rows = [
      ['Name', 'Attributes.account', 'Attributes.rowId'],
      ...Array.from({ length: 8 }, (_, i) => [`Account ${i}`, `00${4711 + i}`, `r${i}`]),
    ];
    const input = writeCsv(rows);
    const first = await runImport({
      input,
      endpoint: e.url,
      instanceId: DEMO_INSTANCE_ID,
      contactFlowId: DEMO_CONTACT_FLOW_ID,
      maxAttempts: 1,
      env: {},
    });
    expect(first.rows).toMatchObject({ total: 8, failed: 8 });
    expect(e.stats().tasks).toBe(8);
    // The spreadsheet: numbers lose their leading zeros, the file gains a BOM and CRLF.
    const records = parse(readFileSync(first.results)) as string[][];
    const account = records[0]!.indexOf('Attributes.account');
    const resaved = records.map((r, i) => (i === 0 ? r : r.map((c, j) => (j === account ? String(Number(c)) : c))));
    writeFileSync(
      first.results,
      `\uFEFF${resaved.map((r) => r.map((c) => (/[",\r\n]/.test(c) ? `"${c.replaceAll('"', '""')}"` : c)).join(',')).join('\r\n')}\r\n`,
    );
    e.service.configure({ faults: { failAfter: 0 } });
    const warnings: string[] = [];
    const again = await rerunImport({
      input: first.results,
      env: {},
      logger: { info() {}, debug() {}, warn: (_o: object, msg?: string) => warnings.push(msg ?? '') },
    });
    expect(again.rows).toMatchObject({ total: 8, created: 8 });
    expect(e.stats().tasks).toBe(8);
    expect(e.stats().maxTasksPerToken).toBe(1);
    expect(warnings.some((w) => w.startsWith('rows changed since they were sent'))).toBe(true);
  });
});
