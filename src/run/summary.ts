/** The end-of-run summary: made from the run's counters, printed by the CLI, returned by the library. */

import type { Settings } from '../config/resolve.js';
import { durationText } from '../config/settings.js';
import type { MetricsOutcome } from '../observe/metrics.js';
import type { RunStats } from '../observe/stats.js';
import { allDone, failureLimitText, type NextStep, nextStep } from '../report/next-step.js';
import type { FailureLimitStop, RowCounts } from '../types.js';
import type { Plan } from './plan.js';

/** The end-of-run summary: printed by the CLI, returned by the library, written by --summary-json. */
export interface Summary {
  /** This run's id: in its log lines, its run state, the timeline and the metrics. */
  runId: string;
  input: string;
  results: string;
  rows: RowCounts;
  requests: number;
  throttled: number;
  retries: number;
  unknownOutcomes: number;
  errors: Record<string, number>;
  elapsedSeconds: number;
  /** Ceiling asked for, and the rate the adaptive control ended at (requests/s). */
  targetRate: number;
  finalRate: number;
  /** Tasks created by this run's requests per second (rows carried over from an earlier run excluded). */
  achievedRate: number;
  latencyMs: { p50: number | null; p99: number | null };
  interrupted: boolean;
  /** An interrupted run's input: how many rows it holds in all (this shard's), when they could be counted. */
  inputRows?: number;
  dryRun: boolean;
  /** Set when the input broke off mid-file (e.g. an unclosed quote): the rows before it were processed. */
  inputError?: string;
  /** Set when the run stopped because no request could succeed (credentials, signing, access). */
  fatalError?: string;
  /** Set when the run stopped because the endpoint (or the S3 input) could not be reached; the rows not sent are unrecorded. */
  unreachable?: string;
  /**
   * Set when the run stopped taking rows because too many failed (--max-failures, or the default for a
   * wrong id); the rows not sent are unrecorded, the failed ones recorded failed.
   */
  failureLimit?: FailureLimitStop;
  /**
   * Set when the run paused at the instance's active-task limit (402 until agents close tasks): how
   * often, for how long in all (the pause it stopped in included), since when (ISO), and — when the
   * limit held past --max-wait and the run stopped — why, in words. The rows not created are unrecorded.
   */
  capacity?: { pauses: number; pausedSeconds: number; firstPausedAt: string; stopped?: string };
  /** When the input had already been completed into this results file: that time (nothing was sent). */
  alreadyDone?: string;
  /**
   * Filtered rows by the condition that left each out, in the conditions' order:
   * `{ condition: 'where[1]: "Ticket Status" in ["Open"]', rows: 412 }`. Absent when none was filtered.
   */
  filteredBy?: { condition: string; rows: number }[];
  /** Rows whose ClientToken repeated an earlier row's (they become one task). */
  duplicateTokens?: number;
  /** A dry run's report: mapping, problems by rule, a masked example (see run/plan.ts). */
  plan?: Plan;
  /** The settings this run was recorded with, for the printed next command. */
  replay?: Settings;
  /** For a rerun: the results file it sent again (for the next step). Absent otherwise. */
  rerunOf?: string;
}

export function summarize(
  stats: RunStats,
  extra: Pick<Summary, 'runId' | 'input' | 'results' | 'targetRate' | 'finalRate' | 'interrupted' | 'dryRun'>,
): Summary {
  const elapsedSeconds = stats.elapsedMs / 1000;
  const { created, failed, invalid, filtered, planned } = stats.rows;
  const round = (n: number | undefined) => (n === undefined ? null : Math.round(n * 10) / 10);
  return {
    ...extra,
    // Rows skipped on --resume are counted under their earlier status too: the results file holds them.
    rows: {
      total: created + failed + invalid + filtered + planned,
      created,
      failed,
      invalid,
      filtered,
      planned,
      skipped: stats.skipped,
    },
    ...(stats.filteredBy.size
      ? {
          filteredBy: [...stats.filteredBy]
            .map(([condition, rows]) => ({ condition, rows }))
            .sort((a, b) => conditionNumber(a.condition) - conditionNumber(b.condition)),
        }
      : {}),
    requests: stats.requests,
    throttled: stats.throttled,
    retries: stats.retries,
    unknownOutcomes: stats.unknownOutcomes,
    errors: stats.errors,
    elapsedSeconds: Math.round(elapsedSeconds * 100) / 100,
    // Only requests sent now count: a resume or rerun that sent nothing has no rate, not a huge one.
    achievedRate:
      stats.requests === 0 ? 0 : Math.round((stats.sentCreated / Math.max(elapsedSeconds, 0.001)) * 100) / 100,
    latencyMs: { p50: round(stats.latency(50)), p99: round(stats.latency(99)) },
  };
}

/** `where[3]: …` → 3; a condition not recorded (a hand-edited results file) comes last. */
function conditionNumber(condition: string): number {
  const m = /^where\[(\d+)\]/.exec(condition);
  return m ? Number(m[1]) : Number.POSITIVE_INFINITY;
}

/** Human summary: counts, time, rates. No row content. */
export function formatSummary(s: Summary): string {
  if (s.alreadyDone) {
    const next = nextStep({
      results: s.results,
      completed: true,
      failed: s.rows.failed,
      invalid: s.rows.invalid,
      ...(s.replay ? { replay: s.replay } : {}),
    });
    return (
      `Already processed: ${s.input} was completed into ${s.results} at ${s.alreadyDone} ` +
      `(${s.rows.created} created, ${s.rows.failed} failed, ${s.rows.invalid} invalid` +
      `${s.rows.filtered ? `, ${s.rows.filtered} filtered` : ''}). Nothing sent. Run ${s.runId}.` +
      (next ? `\n${nextLines(next)}` : '')
    );
  }
  const how = s.dryRun
    ? 'Dry run'
    : s.fatalError || s.unreachable || s.failureLimit || s.capacity?.stopped
      ? 'Stopped'
      : s.interrupted
        ? 'Interrupted'
        : 'Done';
  const of = s.inputRows !== undefined ? ` of ${s.inputRows}` : '';
  const row = (s.inputRows ?? s.rows.total) === 1 ? 'row' : 'rows';
  const lines = [
    `${how}: ${s.rows.total}${of} ${row} — ${s.rows.created} created, ${s.rows.failed} failed, ${s.rows.invalid} invalid` +
      (s.rows.filtered ? `, ${s.rows.filtered} filtered` : '') +
      (s.rows.planned ? `, ${s.rows.planned} planned` : '') +
      (s.rows.skipped ? ` (${s.rows.skipped} carried over from the earlier run, not sent again)` : ''),
    s.dryRun
      ? `Time ${s.elapsedSeconds}s · nothing sent`
      : s.requests === 0
        ? `Time ${s.elapsedSeconds}s · no requests sent`
        : `Time ${s.elapsedSeconds}s · ${s.achievedRate} tasks/s sent by this run ` +
          `(target ${round2(s.targetRate)}/s, ended at ${round2(s.finalRate)}/s) · ` +
          `${s.requests} requests, ${s.throttled} throttled, ${s.retries} retries` +
          (s.latencyMs.p50 !== null ? ` · latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms` : ''),
  ];
  if (s.capacity) {
    const { pauses, pausedSeconds, firstPausedAt } = s.capacity;
    lines.push(
      `Paused ${pauses === 1 ? 'once' : `${pauses} times`} at the instance's active-task limit: ` +
        `${durationText(pausedSeconds)}${pauses === 1 ? '' : ' in all'}, from ${clock(firstPausedAt)} ` +
        `(its 402 answers failed no row)`,
    );
  }
  // The conditions are the job file's text, never a cell's: they may be printed.
  for (const f of s.filteredBy ?? []) lines.push(`${f.rows} filtered by ${f.condition}`);
  if (s.rows.filtered && s.rows.filtered === s.rows.total && !s.interrupted && !s.inputError)
    lines.push(
      `Every row was filtered out by the job file's "where": nothing to send. If rows were meant to pass, compare ` +
        `the conditions with the file's cells (exact unless "ignoreCase": true; validate counts the rows per condition).`,
    );
  const errors = Object.entries(s.errors).filter(([code]) => code !== 'ThrottlingException');
  if (errors.length) lines.push(`Errors seen: ${errors.map(([c, n]) => `${c} ×${n}`).join(', ')}`);
  if (s.duplicateTokens)
    lines.push(
      `Warning: ${s.duplicateTokens} rows repeated an earlier row's ClientToken and became one task with it ` +
        `(see the log; --token-key to tell them apart)`,
    );
  if (s.inputError) {
    lines.push(`Input error: ${s.inputError}`);
  }
  if (s.unreachable)
    lines.push(
      `Stopped: ${s.unreachable}. Rows not sent are not recorded: once the network or the endpoint is back, run ` +
        `the same command with --resume` +
        (s.unreachable.startsWith('cannot reach ')
          ? ' (if --endpoint itself was wrong, that run is refused and prints the command for the right one).'
          : '.'),
    );
  if (s.capacity?.stopped)
    lines.push(
      `Stopped: ${s.capacity.stopped}. Rows not created are not recorded: once agents have closed tasks (or ` +
        `the quota is raised), run the same command with --resume.`,
    );
  if (s.fatalError)
    lines.push(
      `Stopped: ${s.fatalError}. Fix the credentials or permissions (connect:StartTaskContact), then run again ` +
        `with --resume.`,
    );
  if (s.failureLimit) {
    const left = s.inputRows === undefined ? undefined : s.inputRows - s.rows.total;
    lines.push(
      `Stopped: ${failureLimitText(s.failureLimit)}. The rows in flight then finished and are recorded; ` +
        (left === undefined
          ? 'the rows not sent are not.'
          : `${left} row${left === 1 ? ' was' : 's were'} not sent and ${left === 1 ? 'is' : 'are'} not recorded.`),
    );
  }
  lines.push(`Results: ${s.results} (run ${s.runId})`);
  if (!s.fatalError) {
    const next = nextStep({
      results: s.results,
      input: s.input,
      rerunOf: s.rerunOf,
      completed: !s.interrupted && !s.inputError,
      dryRun: s.dryRun,
      failed: s.rows.failed,
      invalid: s.rows.invalid,
      inputBroken: Boolean(s.inputError),
      ...(s.failureLimit ? { failureLimit: s.failureLimit } : {}),
      atLimit: Boolean(s.capacity?.stopped),
      ...(s.replay ? { replay: s.replay } : {}),
      ...(s.plan ? { needs: s.plan.needs, missingIds: s.plan.live?.missing.length ?? 0 } : {}),
    });
    lines.push(next ? nextLines(next) : `Next: nothing to do, ${allDone(s.rows)}.`);
  }
  return lines.join('\n');
}

function nextLines(next: NextStep): string {
  const then = next.afterwards ? `\nThen: ${next.afterwards}` : '';
  return next.command ? `Next: ${next.command}\n      ${next.why}${then}` : `Next: ${next.why}`;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Local time of day, HH:MM (the summary and the progress line). */
export function clock(at: number | string): string {
  const d = new Date(at);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/**
 * How a run that returned a summary ended, for the metrics file: the same cases, in the same order,
 * as the exit code the command line gives it (cli/operator.ts).
 */
export function outcomeOf(s: Summary): MetricsOutcome {
  if (s.dryRun) return 'dry_run';
  if (s.unreachable || s.fatalError) return 'stopped';
  if (s.alreadyDone) return s.rows.failed + s.rows.invalid > 0 ? 'failed_rows' : 'completed';
  if (s.interrupted) return 'interrupted';
  if (s.inputError) return 'input_broken';
  return s.rows.failed + s.rows.invalid > 0 ? 'failed_rows' : 'completed';
}
