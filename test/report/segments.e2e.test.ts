/**
 * A results file written by a run and its resume: the report's figures are those of both parts,
 * whatever their lengths. The resume's timeline counts from zero again; a short first part followed
 * by a longer resume must not read as one part.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runImport } from '../../src/run/run.js';
import { cli } from '../cli/bin.js';
import { fileEmulator } from '../emulator.js';
import { ROUTE, taskRows, tempDir, writeCsv } from '../helpers.js';

const emulator = fileEmulator({ rate: 1000, burst: 1000 });

describe('report of a run and its resume', () => {
  it('sums the requests and tasks of both parts, the first shorter than the resume', async () => {
    const dir = tempDir();
    const input = writeCsv(taskRows(40), 'in.csv', dir);
    const results = join(dir, 'in.results.csv');
    const route = { endpoint: emulator.url, ...ROUTE, results };
    // A few rows, then the deadline; the resume sends the rest at a slower pace than its first part lasted.
    const first = await runImport({ input, ...route, rate: 4, burst: 1, deadlineSeconds: 1 });
    expect(first.interrupted).toBe(true);
    const resumed = await runImport({ input, ...route, rate: 15, burst: 1, resume: true });
    expect(resumed.rows.created).toBe(40);

    const r = await cli(['report', results, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [report] = JSON.parse(r.stdout).reports;
    expect(report.runs.map((run: { outcome: string }) => run.outcome)).toEqual(['interrupted', 'completed']);
    expect(report.run.requests).toBe(first.requests + resumed.requests);
    expect(report.run.created).toBe(40);
    expect(report.run.segments).toEqual(['run', 'resume']);
  });
});
