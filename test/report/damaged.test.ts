/**
 * What report and a resume meet beside a results file: a damaged timeline, a FIFO where the
 * timeline should be, a run state that was deleted. None may crash, hang or say "nothing to fix".
 */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { statePath } from '../../src/ledger/state.js';
import { Timeline, timelinePath } from '../../src/observe/timeline.js';
import { buildReport } from '../../src/report/model.js';
import { formatReport } from '../../src/report/text.js';
import { runImport } from '../../src/run/run.js';
import { fileEmulator } from '../emulator.js';
import { taskRows, writeCsv } from '../helpers.js';

const e = fileEmulator({ rate: 1000, burst: 1000 });

const route = { instanceId: DEMO_INSTANCE_ID, contactFlowId: DEMO_CONTACT_FLOW_ID, env: {} };

async function results(rows = 5): Promise<string> {
  const input = writeCsv(taskRows(rows));
  return (await runImport({ input, endpoint: e.url, rate: 500, ...route })).results;
}

describe('a damaged timeline', () => {
  it("lines that are not the run's (null, a number, a string, a time no date holds) are skipped", async () => {
    const file = await results();
    writeFileSync(
      timelinePath(file),
      [
        'null',
        '5',
        '"x"',
        '[]',
        '{"t":1e308,"elapsed":1,"rate":1,"target":1,"throttled":0,"p50":1,"p99":1,"done":1,"created":1,"requests":1}',
        '{"t":1,"start":"run","ceiling":"x"}',
        '{"t":2}',
        '',
      ].join('\n'),
    );
    const report = await buildReport(file);
    expect(report.rows.created).toBe(5);
    expect(report.exitCode).toBe(0);
    expect(formatReport(report)).toContain('5 of 5 created');
  });
});

describe('a FIFO where the timeline should be', () => {
  it('report does not read it, and a resume does not write it: neither blocks', async () => {
    const file = await results();
    rmSync(timelinePath(file));
    execFileSync('mkfifo', [timelinePath(file)]);
    expect((await buildReport(file)).rows.created).toBe(5);
    const warnings: string[] = [];
    const timeline = Timeline.open(file, false, {
      info() {},
      debug() {},
      warn: (_o: object, msg?: string) => warnings.push(msg ?? ''),
    });
    expect(timeline).toBeUndefined();
    expect(warnings).toEqual(['cannot write the run timeline; the report will lack charts']);
  }, 10_000);
});

describe('a results file whose run state was deleted', () => {
  it('is never "nothing to fix": nothing says its run finished', async () => {
    const file = await results(3);
    rmSync(statePath(file));
    const report = await buildReport(file);
    expect(report.exitCode).toBe(3);
    expect(report.completed).toBe(false);
    expect(formatReport(report)).toMatch(/no run state/);
    expect(formatReport(report)).not.toContain('nothing to fix');
  });
});

describe('pauses at the active-task limit in the timeline', () => {
  it('a pause never closed (the run was killed) ends with its segment; bad pause lines are skipped', async () => {
    const file = await results();
    const point = (t: number, elapsed: number) =>
      JSON.stringify({
        t,
        elapsed,
        rate: 1,
        target: 1,
        throttled: 0,
        p50: 1,
        p99: 1,
        done: 1,
        created: 1,
        requests: 1,
      });
    const base = Date.UTC(2026, 11, 4, 2, 0, 0);
    writeFileSync(
      timelinePath(file),
      [
        JSON.stringify({ t: base, start: 'run', ceiling: 2, burst: 5, carried: 0 }),
        JSON.stringify({ t: base + 10_000, pause: 'start' }),
        JSON.stringify({ t: base + 40_000, pause: 'end' }),
        JSON.stringify({ t: base + 50_000, pause: 'start' }),
        point(base + 60_000, 60), // killed here: no end, no pause end
        JSON.stringify({ t: base + 600_000, start: 'resume', ceiling: 2, burst: 5, carried: 1 }),
        JSON.stringify({ t: base + 601_000, pause: 'sometime' }),
        JSON.stringify({ t: 'x', pause: 'start' }),
        JSON.stringify({ t: base + 602_000, pause: 'start' }),
        point(base + 605_000, 5),
        JSON.stringify({ t: base + 610_000, end: 'completed', elapsed: 10, created: 1, requests: 1, throttled: 0 }),
        '',
      ].join('\n'),
    );
    const report = await buildReport(file);
    expect(report.pauses).toEqual({
      count: 3,
      seconds: 30 + 10 + 8,
      firstAt: '2026-12-04T02:00:10.000Z',
      spans: [
        { from: base + 10_000, to: base + 40_000 },
        { from: base + 50_000, to: base + 60_000 },
        { from: base + 602_000, to: base + 610_000 },
      ],
    });
    expect(formatReport(report)).toContain(
      "Paused: 3 times at the instance's active-task limit (no request left), 48s in all, the first at " +
        '2026-12-04T02:00:10.000Z',
    );
  });
});
