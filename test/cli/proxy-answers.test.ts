/**
 * Answers that do not come from the service, through the real SDK over real HTTP: the emulator's
 * HTML 503 from a proxy, and a proxy in front of it that answers on its own — an empty 503, or a
 * gateway's JSON 504 that names no error. Each is named by its status, retried with the same token,
 * and its message reads whole in the log and the report.
 */
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileEmulator } from '../emulator.js';
import { readResults, ROUTE_FLAGS as route, taskRows, writeCsv } from '../helpers.js';
import { cli } from './bin.js';

const emulator = fileEmulator({ rate: 500, burst: 50 });

/** A proxy to the emulator that answers the first `own.length` requests itself, in turn. */
async function proxy(own: { status: number; body: string; type?: string }[]) {
  let seen = 0;
  const server = createServer((req, res) => {
    const mine = own[seen++];
    if (mine) {
      req.resume();
      res.writeHead(mine.status, mine.type ? { 'content-type': mine.type } : {});
      res.end(mine.body);
      return;
    }
    const target = new URL(emulator.url);
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

describe('answers that are not the service', () => {
  it("an HTML 503's message reads whole in the log and the report: its apostrophes quote no value", async () => {
    emulator.configure({ faults: { proxyError: 1, seed: 3 } });
    try {
      const input = writeCsv(taskRows(3));
      const r = await cli(['run', input, '--endpoint', emulator.url, ...route, '--max-attempts', '1']);
      expect(r.code, r.stderr).toBe(1);
      const reasons = r.stderr
        .split('\n')
        .filter((l) => l.includes('"row not created"'))
        .map((l) => JSON.parse(l).reason);
      expect(reasons).toHaveLength(3);
      for (const reason of reasons)
        expect(reason).toBe("HTTP 503: the answer's body was not the service's JSON (a proxy in between?)");
      const report = await cli(['report', input.replace(/\.csv$/, '.results.csv')]);
      expect(report.stdout).toContain("HTTP 503: the answer's body was not the service's JSON (a proxy in between?)");
      expect(report.stdout).not.toContain('[redacted]');
    } finally {
      emulator.configure({ faults: { proxyError: 0 } });
    }
  });

  it("a proxy's empty 503 and a gateway's JSON 504 are named by their status, retried, and create each row once", async () => {
    const own = [
      { status: 503, body: '' },
      { status: 503, body: '' },
      { status: 504, body: '{"message":"Endpoint request timed out"}', type: 'application/json' },
    ];
    const front = await proxy(own);
    try {
      const before = emulator.stats().tasks;
      const input = writeCsv(taskRows(10));
      const summary = join(dirname(input), 'summary.json');
      const r = await cli([
        'run',
        input,
        '--endpoint',
        front.url,
        ...route,
        '--rate',
        '500',
        '--burst',
        '50',
        '--summary-json',
        summary,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(emulator.stats().tasks - before).toBe(10);
      expect(emulator.stats().maxTasksPerToken).toBe(1);
      const results = readResults(input.replace(/\.csv$/, '.results.csv'));
      expect(results.filter((row) => row['Result.Status'] === 'created')).toHaveLength(10);
      const { errors, retries } = JSON.parse(readFileSync(summary, 'utf8'));
      expect(errors).toEqual({ 'HTTP 503 (not a service answer)': 2, 'HTTP 504 (not a service answer)': 1 });
      expect(retries).toBe(3);
    } finally {
      await front.close();
    }
  });

  it("a row whose every answer is a proxy's empty 503 fails named by the status, not as Unknown", async () => {
    const front = await proxy(Array.from({ length: 2 }, () => ({ status: 503, body: '' })));
    try {
      const input = writeCsv(taskRows(1));
      const r = await cli(['run', input, '--endpoint', front.url, ...route, '--max-attempts', '2']);
      expect(r.code, r.stderr).toBe(1);
      const [row] = readResults(input.replace(/\.csv$/, '.results.csv'));
      expect(row).toMatchObject({
        'Result.Status': 'failed',
        'Result.ErrorCode': 'HTTP 503 (not a service answer)',
        'Result.Attempts': '2',
      });
      expect(row!['Result.ErrorMessage']).toMatch(/^HTTP 503: the answer named no error of the service/);
      expect(r.stdout).toContain('HTTP 503 (not a service answer) ×2');
    } finally {
      await front.close();
    }
  });
});
