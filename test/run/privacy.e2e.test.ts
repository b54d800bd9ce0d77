/**
 * No customer value in any output: keys inside a SegmentAttributes cell's JSON, a ClientToken or
 * PreviousContactId column's values — not in validate's report, its example request, the log, or the
 * text and HTML reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { renderHtml } from '../../src/report/html.js';
import { buildReport } from '../../src/report/model.js';
import { formatReport } from '../../src/report/text.js';
import { formatPlan } from '../../src/run/plan.js';
import { validateImport } from '../../src/run/run.js';
import { formatSummary } from '../../src/run/summary.js';
import { writeCsv } from '../helpers.js';

let e: Emulator;
beforeAll(async () => {
  e = await startEmulator({ rate: 1000, burst: 1000 });
});
afterAll(() => e?.close());

const SECRETS = ['Jane Doe', '123-45-6789', 'tok-7731-secret', 'c0ffee00-prev-contact'];

describe('customer values', () => {
  it('never appear in validate, its example, the log or the reports', async () => {
    const input = writeCsv([
      ['Name', 'ClientToken', 'PreviousContactId', 'SegmentAttributes.x'],
      [
        'Task 1',
        'tok-7731-secret',
        'c0ffee00-prev-contact',
        '{"ValueMap":{"Jane Doe SSN 123-45-6789":{"ValueString":"v"}}}',
      ],
      ['Task 2', 'tok-7731-secret-2', '', '{"Jane Doe SSN 123-45-6789":"x"}'],
      ['Task 3', 'tok-7731-secret-3', '', `{"ValueMap":{"${'Jane Doe '.repeat(20)}":{"ValueString":"v"}}}`],
    ]);
    const logged: string[] = [];
    const log = (o: object, msg?: string) => logged.push(`${msg ?? ''} ${JSON.stringify(o)}`);
    const summary = await validateImport({
      input,
      instanceId: DEMO_INSTANCE_ID,
      contactFlowId: DEMO_CONTACT_FLOW_ID,
      endpoint: e.url,
      env: {},
      logger: { info: log, warn: log, debug() {} },
    });
    expect(summary.rows.invalid).toBe(2);
    const report = await buildReport(summary.results);
    const outputs = [
      formatPlan(summary.plan!),
      formatSummary(summary),
      logged.join('\n'),
      formatReport(report),
      renderHtml([report]),
    ].join('\n');
    for (const secret of SECRETS) expect(outputs).not.toContain(secret);
    expect(outputs).toContain('holds 1 key other than ValueString');
  });
});

describe('a cell in an id column that is not an id', () => {
  it('is shown by its length only: the example request, the live check, the summary JSON and the log', async () => {
    const input = writeCsv([
      ['Name', 'InstanceId'],
      ['Task 1', 'jane.doe@example.com'],
    ]);
    const logged: string[] = [];
    const log = (o: object, msg?: string) => logged.push(`${msg ?? ''} ${JSON.stringify(o)}`);
    const summary = await validateImport({
      input,
      contactFlowId: DEMO_CONTACT_FLOW_ID,
      endpoint: e.url,
      checkLive: true,
      env: {},
      logger: { info: log, warn: log, debug() {} },
    });
    const outputs = [
      formatPlan(summary.plan!),
      formatSummary(summary),
      JSON.stringify(summary),
      logged.join('\n'),
    ].join('\n');
    expect(outputs).not.toContain('jane.doe');
    expect(outputs).toContain('<a value of 20 characters that is not an id>');
  });
});
