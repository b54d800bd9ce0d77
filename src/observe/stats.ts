/**
 * The run's counters, owned here and nowhere else: rows by status, requests, throttles, retries,
 * unknown outcomes, errors by code, latency samples and pauses at the instance's active-task limit.
 * The dispatcher counts requests and pauses, the observer counts rows; progress, the timeline and the
 * summary read them.
 */
import { recordedCondition } from '../input/filter.js';
import type { RowStatus, SendOutcome } from '../types.js';

/** Latency samples kept for percentiles: a uniform reservoir, so memory stays flat on any file. */
const RESERVOIR = 10_000;
const RECENT = 512;

/** Conditions counted apart, at most: a results file edited by hand could name a new one on every row. */
const CONDITIONS = 100;

/**
 * A filtered row's count key: the condition as the filter describes it (made of the job file alone;
 * a rerun reads it from a results file, where a hand edit may have put anything).
 */
function conditionKey(condition: string | undefined, seen: ReadonlyMap<string, number>): string {
  const key = recordedCondition(condition);
  return !seen.has(key) && seen.size >= CONDITIONS ? 'where (other conditions)' : key;
}

export class RunStats {
  readonly rows: Record<RowStatus, number> = { created: 0, failed: 0, invalid: 0, filtered: 0, planned: 0 };
  /** Filtered rows by the condition that left each out (`where[1]: "Ticket Status" in ["Open"]`). */
  readonly filteredBy = new Map<string, number>();
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
  /** Answers with a 5xx status (the service's or a proxy's): resent with the same token. */
  serverErrors = 0;
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
  /** Pauses at the instance's active-task limit begun (delivery/capacity.ts). */
  pauses = 0;
  /** `Date.now()` when the current pause began; undefined when not paused. */
  pausedSince: number | undefined = undefined;
  /** Time spent in pauses that have ended, ms (the current one is `Date.now() - pausedSince`). */
  pausedMs = 0;
  /** `Date.now()` when the first pause began. */
  firstPausedAt: number | undefined = undefined;

  /**
   * A row's final result: `carried` when an earlier run (resume, rerun) decided it and this run sent
   * nothing. A filtered row's `condition` is the description of the one that left it out.
   */
  recordRow(status: RowStatus, carried: boolean, condition?: string): void {
    this.rows[status]++;
    if (carried) this.skipped++;
    else if (status === 'created') this.sentCreated++;
    if (status === 'filtered') {
      const key = conditionKey(condition, this.filteredBy);
      this.filteredBy.set(key, (this.filteredBy.get(key) ?? 0) + 1);
    }
  }

  /** A resend after a transient failure (a throttled resend is counted as a throttle). */
  recordRetry(): void {
    this.retries++;
  }

  recordRequest(outcome: SendOutcome, latencyMs: number): void {
    this.requests++;
    if (outcome.kind === 'throttled') this.throttled++;
    if (outcome.kind === 'transient' && !outcome.answered) this.unknownOutcomes++;
    if (outcome.kind === 'transient' && outcome.answered) this.serverErrors++;
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

  /** A pause at the instance's active-task limit began at `at` (Date.now()). */
  pauseBegan(at: number): void {
    this.pauses++;
    this.pausedSince = at;
    this.firstPausedAt ??= at;
  }

  /** The current pause ended at `at`. */
  pauseEnded(at: number): void {
    if (this.pausedSince === undefined) return;
    this.pausedMs += Math.max(0, at - this.pausedSince);
    this.pausedSince = undefined;
  }

  /** Time spent paused so far, the current pause included, ms. */
  pausedTotalMs(now = Date.now()): number {
    return this.pausedMs + (this.pausedSince === undefined ? 0 : Math.max(0, now - this.pausedSince));
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
