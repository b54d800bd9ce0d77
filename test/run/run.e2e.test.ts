/**
 * End to end: the real @aws-sdk/client-connect over real HTTP against the emulator.
 */

import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectSender, createConnectClient } from '../../src/delivery/send.js';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../src/emulator/server.js';
import { DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import type { RunOptions } from '../../src/run/options.js';
import { runImport } from '../../src/run/run.js';
import type { SendOutcome, TaskRequest } from '../../src/types.js';
import { readResults, ROUTE as route, taskRows, tempDir, writeCsv } from '../helpers.js';
import { expectPaced, recordRequests, recordSends } from '../pace.js';

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function emulate(options: EmulatorOptions): Promise<Emulator> {
  emulator = await startEmulator(options);
  return emulator;
}

/** Every Attributes.rowId the emulator stored, counted. */
function tasksPerRow(e: Emulator): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of e.service.tasks) {
    const id = t.Attributes?.rowId ?? '?';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

function expectEachRowOnce(e: Emulator, rows: number): void {
  const counts = tasksPerRow(e);
  expect(counts.size).toBe(rows);
  expect(Math.max(...counts.values())).toBe(1);
  expect(e.stats().maxTasksPerToken).toBe(1);
}

describe('run against the emulator', () => {
  // A tight quota (burst 5) paced at 200 rps: every row once whatever the pace, and never faster than
  // the tokens allow. How close to the quota it runs is measured by the benchmark (npm run bench).
  it(
    'creates 400 tasks at 200 rps / burst 5, each exactly once, one results row per record, never faster than ' +
      'its tokens',
    async () => {
      const e = await emulate({ rate: 200, burst: 5 });
      const sent = recordSends(e.url);
      const input = writeCsv(taskRows(400));
      const summary = await runImport({ input, endpoint: e.url, rate: 200, burst: 5, sender: sent.sender, ...route });

      expect(summary.rows).toMatchObject({ total: 400, created: 400, failed: 0, invalid: 0 });
      expect(e.stats().tasks).toBe(400);
      expectEachRowOnce(e, 400);
      expect(sent.times).toHaveLength(summary.requests);
      expectPaced(sent.times, { rate: 200, burst: 5 });

      const results = readResults(summary.results);
      expect(results).toHaveLength(400);
      expect(new Set(results.map((r) => r['Result.Line'])).size).toBe(400);
      for (const r of results) {
        expect(r['Result.Status']).toBe('created');
        expect(r['Result.ContactId']).toMatch(/^[0-9a-f-]{36}$/);
        expect(r['Result.ClientToken']).toMatch(/^ctl1-/);
      }
      // Multi-line records: the second record starts on line 4 (header 1, record 1 spans 2-3).
      const line = Object.fromEntries(results.map((r) => [r['Attributes.rowId'], Number(r['Result.Line'])]));
      expect(line['1']).toBe(2);
      expect(line['2']).toBe(4);
      expect(results.find((r) => r['Attributes.rowId'] === '7')!.Description).toBe(
        'Line one of 7\nline "two", with a comma',
      );
      // Customer data copied from the input: readable by the owner only.
      expect(statSync(summary.results).mode & 0o777).toBe(0o600);
    },
  );

  it('survives 5 % failures after creation and 2 % connection resets: still one task per row, none twice', async () => {
    // Seeded: only a row's first creating request draws the faults (a resend is a replay), so the
    // counts are the same on every run and every machine.
    const e = await emulate({ rate: 500, burst: 5, faults: { failAfter: 0.05, resetAfter: 0.02, seed: 42 } });
    const input = writeCsv(taskRows(600));
    const summary = await runImport({ input, endpoint: e.url, rate: 500, burst: 5, ...route });

    const stats = e.stats();
    expect(stats.faults.failAfter).toBeGreaterThan(0);
    expect(stats.faults.resetAfter).toBeGreaterThan(0);
    expect(summary.rows).toMatchObject({ created: 600, failed: 0 });
    expect(summary.unknownOutcomes).toBe(stats.faults.resetAfter);
    expect(stats.tasks).toBe(600);
    expect(stats.replayed).toBeGreaterThanOrEqual(stats.faults.failAfter + stats.faults.resetAfter);
    expectEachRowOnce(e, 600);
    expect(readResults(summary.results)).toHaveLength(600);
  });

  it('an HTML 503 from a proxy is retried with the same token and named by its status, not the parser', async () => {
    const e = await emulate({ rate: 500, burst: 5, faults: { proxyError: 0.2, seed: 7 } });
    const input = writeCsv(taskRows(100));
    const summary = await runImport({ input, endpoint: e.url, rate: 500, burst: 5, ...route });

    const proxied = e.stats().faults.proxyError;
    expect(proxied).toBeGreaterThan(0);
    expect(summary.rows).toMatchObject({ created: 100, failed: 0 });
    expectEachRowOnce(e, 100);
    expect(summary.errors['HTTP 503 (not a service answer)']).toBe(proxied);
    expect(Object.keys(summary.errors).filter((code) => code !== 'ThrottlingException')).toEqual([
      'HTTP 503 (not a service answer)',
    ]);
  });

  it('records invalid rows with line, column and rule, and never sends them', async () => {
    const e = await emulate({ rate: 100, burst: 10 });
    const rows = taskRows(5);
    rows[2]![0] = ''; // line 4: Name empty
    rows[4]![0] = 'x'.repeat(1025); // line 8: Name too long
    rows[5]![3] = 'not-a-url'; // still valid: URL format is the service's business
    const input = writeCsv(rows);
    const summary = await runImport({ input, endpoint: e.url, rate: 100, burst: 10, ...route });

    expect(summary.rows).toMatchObject({ created: 3, invalid: 2 });
    expect(e.stats().tasks).toBe(3);
    const byLine = Object.fromEntries(readResults(summary.results).map((r) => [r['Result.Line'], r]));
    expect(byLine['4']).toMatchObject({
      'Result.Status': 'invalid',
      'Result.ErrorCode': 'InvalidRow',
      'Result.ErrorMessage': 'column "Name": is required',
    });
    expect(byLine['8']!['Result.ErrorMessage']).toBe('column "Name": must be at most 1024 characters (found 1025)');
  });

  it('fails rows the service refuses (404 unknown flow) with the code and message, without retrying', async () => {
    const e = await emulate({ rate: 100, burst: 10 });
    const input = writeCsv(taskRows(3));
    const summary = await runImport({
      input,
      endpoint: e.url,
      rate: 100,
      burst: 10,
      instanceId: DEMO_INSTANCE_ID,
      contactFlowId: 'no-such-flow',
    });
    expect(summary.rows).toMatchObject({ failed: 3, created: 0 });
    expect(e.stats().errors.ResourceNotFoundException).toBe(3); // never retried
    for (const r of readResults(summary.results)) {
      expect(r).toMatchObject({
        'Result.Status': 'failed',
        'Result.ErrorCode': 'ResourceNotFoundException',
        'Result.ErrorMessage': 'ContactFlow not found',
      });
    }
  });

  it(
    'feeds a results file straight back in: Result.* ' + 'columns are not mapped, and carried columns survive',
    async () => {
      const e = await emulate({ rate: 100, burst: 10 });
      const input = writeCsv(taskRows(10));
      const first = await runImport({ input, endpoint: e.url, rate: 100, burst: 10, ...route, tokenNamespace: 'ns' });
      const second = await runImport({
        input: first.results,
        results: join(tempDir(), 'again.csv'),
        endpoint: e.url,
        rate: 100,
        burst: 10,
        ...route,
        tokenNamespace: 'ns',
      });
      expect(second.rows).toMatchObject({ created: 10, invalid: 0 });
      // Same namespace and content → the same tokens → the service replays, nothing new is created.
      expect(e.stats().tasks).toBe(10);
      const again = readResults(second.results);
      expect(Object.keys(again[0]!).filter((k) => k.startsWith('Result.'))).toHaveLength(7);
      expect(again.map((r) => r.Notes).sort()).toEqual(
        readResults(first.results)
          .map((r) => r.Notes)
          .sort(),
      );
    },
  );

  it(
    'does nothing for an input already completed into its results file, and refuses to replace results of ' +
      'another input',
    async () => {
      const e = await emulate({ rate: 100, burst: 10 });
      const dir = tempDir();
      const input = writeCsv(taskRows(2), 'input.csv', dir);
      const options: RunOptions = { input, endpoint: e.url, rate: 100, burst: 10, ...route };
      await runImport(options);
      const again = await runImport(options);
      expect(again.alreadyDone).toBeTruthy();
      expect(again.rows).toMatchObject({ created: 2 });
      expect(e.stats().requests).toBe(2);
      writeCsv(taskRows(3), 'input.csv', dir); // tonight's file, same name
      await expect(runImport(options)).rejects.toThrow(
        /is the record of another run[\s\S]*the input: recorded[\s\S]*pass another --results/,
      );
    },
  );

  it('dry run: plans every row with its token and sends nothing; the real run replaces its file', async () => {
    const e = await emulate({ rate: 100, burst: 10 });
    const input = writeCsv(taskRows(4));
    const summary = await runImport({ input, endpoint: e.url, dryRun: true, ...route });
    expect(summary.rows).toMatchObject({ planned: 4 });
    expect(e.stats().requests).toBe(0);
    const planned = readResults(summary.results);
    expect(planned.every((r) => r['Result.Status'] === 'planned' && r['Result.ClientToken']!.startsWith('ctl1-'))).toBe(
      true,
    );
    // The real run then replaces the dry run's file (nothing was sent), with the tokens it planned.
    const real = await runImport({ input, endpoint: e.url, rate: 100, burst: 10, ...route });
    expect(real.rows).toMatchObject({ created: 4 });
    const sent = readResults(real.results);
    expect(sent.map((r) => r['Result.ClientToken']).sort()).toEqual(planned.map((r) => r['Result.ClientToken']).sort());
  });
});

describe('stopped before it began', () => {
  it('a stop that comes while the run gets ready sends nothing and leaves no file; the next run starts afresh', async () => {
    const e = await emulate({ rate: 100, burst: 10 });
    const input = writeCsv(taskRows(3));
    await expect(
      runImport({ input, endpoint: e.url, ...route, signal: AbortSignal.abort(new Error('SIGTERM')) }),
    ).rejects.toMatchObject({ name: 'StoppedError', exitCode: 3, message: expect.stringMatching(/nothing was sent/) });
    expect(readdirSync(dirname(input))).toEqual(['input.csv']);
    expect(e.stats().requests).toBe(0);
    const summary = await runImport({ input, endpoint: e.url, rate: 100, burst: 10, ...route });
    expect(summary.rows).toMatchObject({ created: 3 });
  });
});

describe('--token-key and --deadline at their edges', () => {
  it("a row whose --token-key cells are empty is invalid, never merged into another row's task", async () => {
    const e = await emulate({ rate: 500, burst: 50 });
    const input = writeCsv([
      ['Name', 'Attributes.rowId', 'Ticket'],
      ['A1', 'a1', '100'],
      ['A2', 'a2', '100'],
      ['A3', 'a3', ''],
      ['A4', 'a4', ' '],
    ]);
    const summary = await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route, tokenKey: ['Ticket'] });
    expect(summary.rows).toMatchObject({ created: 2, invalid: 2 }); // A1 and A2 share a key on purpose: one task
    const rows = readResults(summary.results);
    expect(rows.filter((r) => r['Result.Status'] === 'invalid').map((r) => r['Result.ErrorMessage'])).toEqual([
      'column "Ticket" (ClientToken): the --token-key column is empty, so the row has no identity of its own',
      'column "Ticket" (ClientToken): the --token-key column is empty, so the row has no identity of its own',
    ]);
    expect(e.stats().tasks).toBe(1);
  });

  it(
    '--deadline takes fractions of a second, and refuses ' + 'one Node cannot time (over 24 days) before any file',
    async () => {
      const e = await emulate({ rate: 500, burst: 50 });
      const input = writeCsv(taskRows(3));
      expect(
        (await runImport({ input, endpoint: e.url, rate: 500, burst: 50, ...route, deadlineSeconds: 30.0005 })).rows
          .created,
      ).toBe(3);
      const other = writeCsv(taskRows(3), 'other.csv');
      await expect(
        runImport({ input: other, endpoint: e.url, ...route, deadlineSeconds: 2_592_000 }),
      ).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/--deadline must be between/) });
      expect(readdirSync(dirname(other)).filter((f) => f.startsWith('other.results'))).toEqual([]);
    },
  );
});

describe('--deadline through garbage collections', () => {
  it('still stops the run when full collections run before it is due (nothing else holds its timer)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const e = await emulate({ rate: 20, burst: 5 });
    // 200 rows at 20/s take 10 s at the very least: only the deadline can end the run before.
    const input = writeCsv(taskRows(200));
    let collections = 0;
    const summary = await runImport({
      input,
      endpoint: e.url,
      rate: 20,
      burst: 5,
      ...route,
      deadlineSeconds: 1.5,
      // Progress ticks every 250 ms from the start, so before the deadline is due.
      onProgress: () => {
        if (collections++ < 4) gc();
      },
    });
    expect(collections).toBeGreaterThanOrEqual(1);
    expect(summary.interrupted).toBe(true);
    expect(summary.rows.created).toBeLessThan(200);
    expectEachRowOnce(e, summary.rows.created);
  });
});

describe('row workers', () => {
  it('a row waiting to retry holds back no other row, and requests in flight never pass the cap', async () => {
    const e = await emulate({ rate: 1000, burst: 1000 });
    const input = writeCsv(taskRows(60));
    // The real SDK over the wire; row 1's attempts fail before they leave (a lost connection, as the
    // SDK reports it) until every other row is created: one slot, so the others can only have gone
    // while row 1 waited to retry. Were row 1 holding them back, it would run out of attempts.
    const real = new ConnectSender(createConnectClient({ endpoint: e.url, maxSockets: 8, requestTimeoutMs: 5000 }));
    let inFlight = 0;
    let most = 0;
    let row1Attempts = 0;
    const sender = {
      startTask: async (request: TaskRequest): Promise<SendOutcome> => {
        inFlight++;
        most = Math.max(most, inFlight);
        try {
          if (request.Attributes?.rowId === '1') {
            row1Attempts++;
            if (e.stats().tasks < 59)
              return { kind: 'transient', code: 'ECONNRESET', message: 'socket hang up', answered: false };
          }
          return await real.startTask(request);
        } finally {
          inFlight--;
        }
      },
      destroy: () => real.destroy(),
    };
    // Up to 11 resends: their random waits (each up to 250 ms · 2^n) add up to far more than the others need.
    const summary = await runImport({
      input,
      endpoint: e.url,
      rate: 1000,
      burst: 1000,
      concurrency: 1,
      maxAttempts: 12,
      sender,
      ...route,
    });
    expect(summary.rows).toMatchObject({ total: 60, created: 60, failed: 0 });
    expect(row1Attempts).toBeGreaterThan(1);
    expect(most).toBe(1);
    expectEachRowOnce(e, 60);
    expect(e.service.tasks.at(-1)!.Attributes!.rowId).toBe('1');
  });
});

describe('an outage does not spread across the file', () => {
  it(
    'while every request fails, only two windows of rows are in play: the rest wait instead of using up their ' +
      'attempts',
    async () => {
      // A brownout: the first 45 requests answer 500, at a pace far above what two slots need. Rows
      // waiting to retry start workers for other rows, but only a window's worth: at most 2 × 2 rows
      // have been sent and not yet settled at any moment. Rows read at the pace instead would each
      // spend their attempts in the outage.
      const e = await emulate({ rate: 1000, burst: 1000, faults: { failBefore: 1 } });
      recordRequests(e, (n) => n === 45 && e.configure({ faults: { failBefore: 0 } }));
      const input = writeCsv(taskRows(300));
      const real = new ConnectSender(createConnectClient({ endpoint: e.url, maxSockets: 8, requestTimeoutMs: 5000 }));
      const attempts = new Map<string, number>();
      const inPlay = new Set<string>();
      let most = 0;
      const sender = {
        startTask: async (request: TaskRequest): Promise<SendOutcome> => {
          const token = request.ClientToken!;
          const n = (attempts.get(token) ?? 0) + 1;
          attempts.set(token, n);
          inPlay.add(token);
          most = Math.max(most, inPlay.size);
          const outcome = await real.startTask(request);
          if (outcome.kind !== 'transient' || n === 3) inPlay.delete(token); // settled: created, or out of attempts
          return outcome;
        },
        destroy: () => real.destroy(),
      };
      const summary = await runImport({
        input,
        endpoint: e.url,
        rate: 1000,
        burst: 1000,
        concurrency: 2,
        maxAttempts: 3,
        sender,
        ...route,
      });
      expect(summary.rows.total).toBe(300);
      expect(summary.rows.created + summary.rows.failed).toBe(300);
      expect(summary.rows.failed).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(4);
      expect(e.stats().maxTasksPerToken).toBe(1);
    },
  );
});

describe('rate control and refusals over the wire', () => {
  it(
    'a throttling storm (the quota a tenth of the ceiling), then the quota raised mid-run: the pace is cut, no row ' +
      'is lost, nothing goes faster than the ceiling',
    async () => {
      // How far the pace falls and how fast it climbs back are the rate control's arithmetic
      // (test/rate/adaptive.test.ts, with a clock of its own) and the benchmark's measurements.
      const e = await emulate({ rate: 20, burst: 5 });
      const sent = recordSends(e.url);
      const input = writeCsv(taskRows(100));
      const cuts: number[] = [];
      let raised = false;
      const summary = await runImport({
        input,
        endpoint: e.url,
        rate: 200,
        burst: 5,
        sender: sent.sender,
        ...route,
        logger: {
          info: (_o, msg) => msg?.startsWith('throttled: rate cut') && cuts.push(e.stats().created),
          warn() {},
          debug() {},
        },
        onProgress: (p) => {
          // Once the run has been throttled, the account's other caller goes away.
          if (!raised && p.stats.rows.created >= 40) {
            raised = true;
            e.configure({ rate: 1000, burst: 1000 });
          }
        },
      });
      expect(summary.rows).toMatchObject({ created: 100, failed: 0 });
      expect(summary.throttled).toBeGreaterThan(0);
      expect(summary.throttled).toBe(e.stats().throttled);
      expect(cuts.length).toBeGreaterThan(0);
      expect(raised).toBe(true);
      expectEachRowOnce(e, 100);
      expect(sent.times).toHaveLength(summary.requests);
      expectPaced(sent.times, { rate: 200, burst: 5 });
    },
  );

  it('fails 402 rows with the code and message: the 12-per-PreviousContactId cap never clears', async () => {
    // Within one file the 13th row is caught before sending (invalid); across files only the service knows.
    const e = await emulate({ rate: 100, burst: 10 });
    const chain = (n: number, name: string) => {
      const rows = taskRows(n);
      rows.forEach((r, i) => {
        r.push(i === 0 ? 'PreviousContactId' : 'chain-1');
      });
      return writeCsv(rows, name);
    };
    const first = await runImport({
      input: chain(14, 'a.csv'),
      endpoint: e.url,
      rate: 100,
      burst: 10,
      concurrency: 1,
      ...route,
    });
    expect(first.rows).toMatchObject({ created: 12, invalid: 2 });
    const invalid = readResults(first.results)
      .filter((r) => r['Result.Status'] === 'invalid')
      .sort((a, b) => Number(a['Result.Line']) - Number(b['Result.Line']));
    expect(invalid[0]!['Result.ErrorMessage']).toBe(
      `column "PreviousContactId": at most 12 tasks may share one PreviousContactId in a file ` +
        `(line ${invalid[0]!['Result.Line']} would be number 13; the first is line 2)`,
    );
    const summary = await runImport({
      input: chain(2, 'b.csv'),
      endpoint: e.url,
      rate: 100,
      burst: 10,
      concurrency: 1,
      ...route,
    });
    expect(summary.rows).toMatchObject({ created: 0, failed: 2 });
    expect(e.stats().errors.ServiceQuotaExceededException).toBe(2); // never retried
    const failed = readResults(summary.results).filter((r) => r['Result.Status'] === 'failed');
    for (const r of failed) {
      expect(r).toMatchObject({ 'Result.ErrorCode': 'ServiceQuotaExceededException' });
      expect(r['Result.ErrorMessage']).toMatch(/At most 12 tasks/);
    }
  });
});
