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

  it("counts filtered rows by condition, in the conditions' order; nothing to do when the rest is created", () => {
    const stats = new RunStats();
    const first = 'where[1]: "Ticket Status" in ["Open"]';
    const tenth = 'where[10]: "Notes" is empty';
    for (const [status, condition] of [
      ['created', undefined],
      ['filtered', tenth],
      ['filtered', first],
      ['filtered', first],
    ] as const)
      stats.recordRow(status, false, condition);
    // A rerun reads a filtered row's message from a results file: an edited one is not repeated.
    stats.recordRow('filtered', true, 'Jane Doe asked for it');
    const s = summarize(stats, extra);
    expect(s.rows).toMatchObject({ total: 5, created: 1, filtered: 4, skipped: 1 });
    expect(s.filteredBy).toEqual([
      { condition: first, rows: 2 },
      { condition: tenth, rows: 1 },
      { condition: 'where (condition not recorded)', rows: 1 },
    ]);
    const text = formatSummary(s);
    expect(text).toContain('Done: 5 rows — 1 created, 0 failed, 0 invalid, 4 filtered (1 carried over');
    expect(text).toContain(`\n2 filtered by ${first}\n1 filtered by ${tenth}\n`);
    expect(text).not.toContain('Jane Doe');
    expect(text).not.toContain('Every row was filtered out');
    expect(text).toContain('Next: nothing to do, every row is created or filtered out.');

    const none = new RunStats();
    none.recordRow('filtered', false, first);
    expect(formatSummary(summarize(none, extra))).toContain(
      'Every row was filtered out by the job file\'s "where": nothing to send.',
    );
    expect(summarize(new RunStats(), extra).filteredBy).toBeUndefined();
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
