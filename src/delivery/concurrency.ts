/** How many requests to keep in flight when the user leaves --concurrency automatic. */

/** Automatic concurrency never goes past this; requests beyond it wait for a slot. */
export const MAX_AUTO_CONCURRENCY = 256;

/** A process sends at most about this many requests per second (the SDK costs ~1 ms of CPU each). */
const PROCESS_RATE = 1000;

/** Before any answer has come back, assume this latency (s). */
const ASSUMED_LATENCY = 0.5;

export function initialConcurrency(rate: number, burst: number): number {
  return tuneConcurrency(rate, burst, undefined, MAX_AUTO_CONCURRENCY);
}

/**
 * Little's law: to sustain a rate R with latency L, about R × L requests must be in flight. The rate
 * is the one being dispatched (no more than one process can send), L the recent p90 (at least 50 ms);
 * ×1.25 and the burst are headroom, which costs little: the token bucket, not the slots, sets the pace.
 * Not p99: when the process itself is the bottleneck, its own queueing shows in the tail, and sizing
 * by the tail would feed on itself.
 */
export function tuneConcurrency(rate: number, burst: number, p90Ms: number | undefined, cap: number): number {
  const latency = p90Ms === undefined ? ASSUMED_LATENCY : Math.max(0.05, p90Ms / 1000);
  const needed = Math.ceil(Math.min(rate, PROCESS_RATE) * latency * 1.25) + Math.min(burst, 32);
  return Math.min(cap, Math.max(4, needed));
}
