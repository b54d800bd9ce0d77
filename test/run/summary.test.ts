/**
 * Rates count only this run's requests; a resume or rerun says what it carried over; the summary ends with the next
 * step.
 */
import { describe, expect, it } from 'vitest';
import { RunStats } from '../../src/observe/stats.js';
import { formatSummary, outcomeOf, type Summary, summarize } from '../../src/run/summary.js';

const extra = {
  runId: '20261204T021500Z-3f9a1c2e',
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

  it('names the run by its id in the text', () => {
    expect(formatSummary(summarize(new RunStats(), extra))).toContain(`Results: in.results.csv (run ${extra.runId})`);
  });

  // The metrics' outcome follows the exit code's cases (cli/operator.ts), in the same order.
  it.each([
    ['every row created (exit 0)', {}, 'completed'],
    ['rows failed (exit 1)', { rows: { failed: 1 } }, 'failed_rows'],
    ['rows invalid (exit 1)', { rows: { invalid: 1 } }, 'failed_rows'],
    ['the input broke off (exit 1)', { inputError: 'unclosed quote' }, 'input_broken'],
    ['a signal or --deadline (exit 3)', { interrupted: true }, 'interrupted'],
    ['interrupted with failed rows (exit 3)', { interrupted: true, rows: { failed: 2 } }, 'interrupted'],
    ['credentials refused (exit 2 or 3)', { interrupted: true, fatalError: 'UnrecognizedClientException' }, 'stopped'],
    ['the endpoint unreachable (exit 3)', { interrupted: true, unreachable: 'cannot reach' }, 'stopped'],
    ['already done, every row created (exit 0)', { alreadyDone: '2026-12-04T02:40:00Z' }, 'completed'],
    [
      'already done with invalid rows (exit 1)',
      { alreadyDone: '2026-12-04T02:40:00Z', rows: { invalid: 2 } },
      'failed_rows',
    ],
    ['a dry run, invalid rows or not', { dryRun: true, rows: { invalid: 2 } }, 'dry_run'],
  ] as [string, Partial<Omit<Summary, 'rows'>> & { rows?: Partial<Summary['rows']> }, string][])(
    'outcome: %s → %s',
    (_, change, outcome) => {
      const base = summarize(new RunStats(), extra);
      expect(outcomeOf({ ...base, ...change, rows: { ...base.rows, ...change.rows } })).toBe(outcome);
    },
  );
});
