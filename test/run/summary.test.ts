/**
 * Rates count only this run's requests; a resume or rerun says what it carried over; the summary ends with the next
 * step.
 */
import { describe, expect, it } from 'vitest';
import { RunStats } from '../../src/observe/stats.js';
import { formatSummary, summarize } from '../../src/run/summary.js';

const extra = {
  input: 'in.csv',
  results: 'in.results.csv',
  targetRate: 2,
  finalRate: 2,
  interrupted: false,
  dryRun: false,
};

describe('summary', () => {
  it('a rerun that sent nothing reports no rate, and the rows it carried over', () => {
    const stats = new RunStats();
    stats.rows.created = 6_093;
    stats.skipped = 6_093;
    const s = summarize(stats, { ...extra, results: 'in.results.rerun-1.csv' });
    expect(s.achievedRate).toBe(0);
    const text = formatSummary(s);
    expect(text).toContain('(6093 carried over from the earlier run, not sent again)');
    expect(text).toContain('no requests sent');
    expect(text).toContain('Next: nothing to do, every row is created.');
  });

  it('counts only tasks created by this run in the rate; next step for failed rows and for an interruption', () => {
    const stats = new RunStats();
    stats.rows.created = 100;
    stats.skipped = 90;
    stats.sentCreated = 10;
    stats.rows.failed = 2;
    stats.requests = 12;
    Object.defineProperty(stats, 'elapsedMs', { value: 4_000 }); // the run's clock, fixed: 10 sent in 4 s
    const s = summarize(stats, extra);
    expect(s.elapsedSeconds).toBe(4);
    expect(s.achievedRate).toBe(2.5);
    const cwd = process.cwd();
    expect(formatSummary(s)).toContain(
      `Next: connect-task-loader rerun ${cwd}/in.results.csv --results ${cwd}/in.results.rerun-1.csv`,
    );
    expect(formatSummary({ ...s, interrupted: true })).toContain(
      `Next: connect-task-loader run ${cwd}/in.csv --results ${cwd}/in.results.csv --resume`,
    );
    expect(formatSummary({ ...s, interrupted: true, input: 'my file.csv', results: 'out.csv' })).toContain(
      `run '${cwd}/my file.csv' --results ${cwd}/out.csv --resume`,
    );
  });
});
