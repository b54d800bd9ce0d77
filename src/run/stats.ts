/** Counters for the progress line and the end-of-run summary. */
import type { RowStatus, SendOutcome } from '../types.js';
import type { Plan } from './plan.js';
import { nextStep } from '../report/next-step.js';
import type { Settings } from '../config/resolve.js';

/** Latency samples kept for percentiles: a uniform reservoir, so memory stays flat on any file. */
const RESERVOIR = 10_000;
const RECENT = 512;

export class RunStats {
  readonly rows: Record<RowStatus, number> = { created: 0, failed: 0, invalid: 0, planned: 0 };
  /** Rows not sent by this run: already final in the results file (--resume), or copied by a rerun. */
  skipped = 0;
  /** Tasks created by requests of this run (rows carried over excluded): what rates are made of. */
  sentCreated = 0;
  requests = 0;
  throttled = 0;
  /** Resends after a transient failure (throttled resends are counted in `throttled`). */
  retries = 0;
  /** Attempts whose answer never came (timeout, reset): resent with the same token. */
  unknownOutcomes = 0;
  readonly errors: Record<string, number> = {};
  private readonly samples: number[] = [];
  private seen = 0;
  /** The latest answers' latencies, for sizing in-flight work to current conditions. */
  private readonly recent = new Float64Array(RECENT);
  private recentCount = 0;
  readonly startedAt = performance.now();
  /** Answers other than throttles, and their summed latency (ms): what in-flight sizing is fed. */
  answers = 0;
  answersLatencyMs = 0;

  recordRequest(outcome: SendOutcome, latencyMs: number): void {
    this.requests++;
    if (outcome.kind === 'throttled') this.throttled++;
    if (outcome.kind === 'transient' && !outcome.answered) this.unknownOutcomes++;
    if (outcome.kind !== 'created') this.errors[outcome.code] = (this.errors[outcome.code] ?? 0) + 1;
    // A throttle is a fast rejection at the door: its latency says nothing of the service's.
    if (outcome.kind === 'throttled') return;
    this.answers++;
    this.answersLatencyMs += latencyMs;
    this.recent[this.seen % RECENT] = latencyMs;
    this.recentCount = Math.min(RECENT, this.recentCount + 1);
    this.seen++;
    if (this.samples.length < RESERVOIR) this.samples.push(latencyMs);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < RESERVOIR) this.samples[j] = latencyMs;
    }
  }

  /** Latency percentile in ms (p in 0..100), or undefined before any request. */
  latency(p: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }

  /** Percentile over the last RECENT answers only. */
  recentLatency(p: number): number | undefined {
    if (this.recentCount === 0) return undefined;
    const sorted = this.recent.slice(0, this.recentCount).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }

  get elapsedMs(): number {
    return performance.now() - this.startedAt;
  }
}

/** The end-of-run summary: printed by the CLI, returned by the library, written by --summary-json. */
export interface Summary {
  input: string;
  results: string;
  rows: { total: number; created: number; failed: number; invalid: number; planned: number; skipped: number };
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
  dryRun: boolean;
  /** Set when the input broke off mid-file (e.g. an unclosed quote): the rows before it were processed. */
  inputError?: string;
  /** Set when the run stopped because no request could succeed (credentials, signing, access). */
  fatalError?: string;
  /** Set when the run stopped because the endpoint could not be reached; the rows not sent are unrecorded. */
  unreachable?: string;
  /** When the input had already been completed into this results file: that time (nothing was sent). */
  alreadyDone?: string;
  /** Rows whose ClientToken repeated an earlier row's (they become one task). */
  duplicateTokens?: number;
  /** A dry run's report: mapping, problems by rule, a masked example (see run/plan.ts). */
  plan?: Plan;
  /** The settings this run was recorded with, for the printed next command. */
  replay?: Settings;
  /** For a rerun: the results file it sent again (for the next step). Absent otherwise. */
  rerunOf?: string;
}

export function summarize(stats: RunStats, extra: Pick<Summary, 'input' | 'results' | 'targetRate' | 'finalRate' | 'interrupted' | 'dryRun'>): Summary {
  const elapsedSeconds = stats.elapsedMs / 1000;
  const { created, failed, invalid, planned } = stats.rows;
  const round = (n: number | undefined) => (n === undefined ? null : Math.round(n * 10) / 10);
  return {
    ...extra,
    // Rows skipped on --resume are counted under their earlier status too: the results file holds them.
    rows: { total: created + failed + invalid + planned, created, failed, invalid, planned, skipped: stats.skipped },
    requests: stats.requests,
    throttled: stats.throttled,
    retries: stats.retries,
    unknownOutcomes: stats.unknownOutcomes,
    errors: stats.errors,
    elapsedSeconds: Math.round(elapsedSeconds * 100) / 100,
    // Only requests sent now count: a resume or rerun that sent nothing has no rate, not a huge one.
    achievedRate: stats.requests === 0 ? 0 : Math.round((stats.sentCreated / Math.max(elapsedSeconds, 0.001)) * 100) / 100,
    latencyMs: { p50: round(stats.latency(50)), p99: round(stats.latency(99)) },
  };
}

/** Human summary: counts, time, rates. No row content. */
export function formatSummary(s: Summary): string {
  if (s.alreadyDone) {
    const next = nextStep({ results: s.results, completed: true, failed: s.rows.failed, invalid: s.rows.invalid, ...(s.replay ? { replay: s.replay } : {}) });
    return (
      `Already processed: ${s.input} was completed into ${s.results} at ${s.alreadyDone} ` +
      `(${s.rows.created} created, ${s.rows.failed} failed, ${s.rows.invalid} invalid). Nothing sent.` +
      (next ? `\nNext: ${next.command}\n      ${next.why}` : '')
    );
  }
  const lines = [
    `${s.dryRun ? 'Dry run' : s.fatalError || s.unreachable ? 'Stopped' : s.interrupted ? 'Interrupted' : 'Done'}: ${s.rows.total} rows — ${s.rows.created} created, ${s.rows.failed} failed, ${s.rows.invalid} invalid` +
      (s.rows.planned ? `, ${s.rows.planned} planned` : '') +
      (s.rows.skipped ? ` (${s.rows.skipped} carried over from the earlier run, not sent again)` : ''),
    s.dryRun
      ? `Time ${s.elapsedSeconds}s · nothing sent`
      : s.requests === 0
        ? `Time ${s.elapsedSeconds}s · no requests sent`
        : `Time ${s.elapsedSeconds}s · ${s.achievedRate} tasks/s sent by this run (target ${round2(s.targetRate)}/s, ended at ${round2(s.finalRate)}/s) · ` +
      `${s.requests} requests, ${s.throttled} throttled, ${s.retries} retries` +
      (s.latencyMs.p50 !== null ? ` · latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms` : ''),
  ];
  const errors = Object.entries(s.errors).filter(([code]) => code !== 'ThrottlingException');
  if (errors.length) lines.push(`Errors seen: ${errors.map(([c, n]) => `${c} ×${n}`).join(', ')}`);
  if (s.duplicateTokens) lines.push(`Warning: ${s.duplicateTokens} rows repeated an earlier row's ClientToken and became one task with it (see the log; --token-key to tell them apart)`);
  if (s.inputError) {
    lines.push(`Input error: ${s.inputError}`);
  }
  if (s.unreachable) lines.push(`Stopped: ${s.unreachable}. Rows not sent are not recorded: once the network or the endpoint is back, run the same command with --resume (if --endpoint itself was wrong, that run is refused and prints the command for the right one).`);
  if (s.fatalError) lines.push(`Stopped: ${s.fatalError}. Fix the credentials or permissions (connect:StartTaskContact), then run again with --resume.`);
  lines.push(`Results: ${s.results}`);
  if (!s.fatalError) {
    const next = nextStep({ results: s.results, input: s.input, rerunOf: s.rerunOf, completed: !s.interrupted && !s.inputError, dryRun: s.dryRun, failed: s.rows.failed, invalid: s.rows.invalid, inputBroken: Boolean(s.inputError), ...(s.replay ? { replay: s.replay } : {}) });
    lines.push(next ? `Next: ${next.command}\n      ${next.why}` : 'Next: nothing to do, every row is created.');
  }
  return lines.join('\n');
}

const round2 = (n: number) => Math.round(n * 100) / 100;
