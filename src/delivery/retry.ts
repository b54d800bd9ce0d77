/**
 * The retry policy, pure. Our own layer instead of the SDK's: a throttled row is put back and never
 * charged an attempt (the quota is a queue, not a failure); transient failures back off with full
 * jitter and the same ClientToken; refusals end the row at once.
 */
import type { SendOutcome } from '../types.js';

export interface RetryPolicy {
  /** Attempts per row for transient failures (5xx, timeouts, resets). Throttles do not count. */
  maxAttempts: number;
  /** Backoff base and cap, in ms: the n-th retry waits uniform(0, min(cap, base · 2^(n−1))). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 250, maxDelayMs: 20_000 };

export type Decision =
  | { action: 'done' }
  /** Send again after `delayMs`; `charge` says whether this counts against maxAttempts. */
  | { action: 'retry'; delayMs: number; charge: boolean };

/**
 * `attempts` is the number of charged attempts made so far, including the one that produced `outcome`.
 * 402 ServiceQuotaExceeded is final: the 12-tasks-per-PreviousContactId cap never clears, and the
 * 2,500 active-task cap clears only as agents close tasks — hours, not seconds — so the row fails
 * with the code and `rerun` sends it later.
 */
export function decide(
  outcome: SendOutcome,
  attempts: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): Decision {
  switch (outcome.kind) {
    case 'created':
    case 'refused':
    case 'fatal':
      return { action: 'done' };
    case 'throttled':
      return { action: 'retry', delayMs: 0, charge: false };
    case 'transient': {
      if (attempts >= policy.maxAttempts) return { action: 'done' };
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempts - 1));
      return { action: 'retry', delayMs: Math.floor(random() * ceiling), charge: true };
    }
  }
}
