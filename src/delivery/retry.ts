/**
 * The retry policy, pure. Our own layer instead of the SDK's: a throttled row is put back and never
 * charged an attempt (the quota is a queue, not a failure); a row refused at the instance's
 * active-task limit waits for room, uncharged too; transient failures back off with full jitter and
 * the same ClientToken; refusals end the row at once.
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
  | { action: 'retry'; delayMs: number; charge: boolean }
  /** Send again once the instance has room for a task (delivery/capacity.ts); never charged. */
  | { action: 'hold' };

/**
 * `attempts` is the number of charged attempts made so far, including the one that produced `outcome`.
 * A 402 at the instance's active-task limit holds the row until the instance has room: it clears as
 * agents close tasks, and waiting for it costs the row nothing. Any other 402 (12 tasks per
 * PreviousContactId) is a refusal: it never clears for this request.
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
    case 'capacity':
      return { action: 'hold' };
    case 'transient': {
      if (attempts >= policy.maxAttempts) return { action: 'done' };
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempts - 1));
      return { action: 'retry', delayMs: Math.floor(random() * ceiling), charge: true };
    }
  }
}
