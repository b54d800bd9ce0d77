/**
 * The arithmetic of the adaptive rate control, written once for the in-process control (adaptive.ts)
 * and the shared one (pace.ts), so that a run alone and a cluster of runs pace alike.
 *
 * The words, in every module of rate/:
 *   quota       the account's StartTaskContact rate (and burst): `--rate`/`--burst`, or read by `--rate auto`
 *   reserve     requests/s of the quota left to the account's other callers
 *   ceiling     the quota less the reserve: the most this run (or cluster) paces at, where the climb stops
 *   free share  the part of the quota the account's other callers leave free: unknown, and it moves
 *   pace        the rate requests are let go at now, requests/s, between the floor and the ceiling
 *   floor       the lowest pace a cut may reach
 *   accepted    answers the quota let through (created or refused), and their rate per second
 *   cut         lowering the pace after a throttle; the hold is the time after it when throttles are ignored
 *   climb       the pace's way back to the ceiling while nothing is throttled
 *
 * Why measure: the service throttles with a token bucket, and a bucket run at saturation accepts
 * exactly its refill rate; so when a throttle arrives, the accepted rate over the last seconds is a
 * measurement of the free share, and the pace is cut to it.
 */

/**
 * After a cut, throttles are not acted on for this long (ms): throttles arriving right after a cut
 * mostly belong to requests that were already bunched at the service, and cutting again for each
 * would undershoot the quota.
 */
export const CUT_HOLD_MS = 500;

/**
 * A cut to the measured accepted rate goes at least this far below the pace: the throttle says the
 * pace is over the free share, so it must come down even when the measurement comes out at or above it.
 */
export const MEASURED_CUT = 0.98;

/**
 * The cut when there is too little history to measure: a small step, since nothing says how far over
 * the free share the pace is; throttles that persist past the hold cut again, and the steps compound.
 */
export const BLIND_CUT = 0.95;

/**
 * The climb, per second without throttles, as a fraction of the ceiling: additive, probing for share
 * that other callers have given up; from any cut back to the ceiling within 20 s.
 */
export const CLIMB_PER_SECOND = 0.05;

/**
 * The floor: 1 % of the ceiling, at least 0.1 requests/s (never above the ceiling). Never stop
 * entirely, or a run could never learn that the quota came back.
 */
export function paceFloor(ceiling: number): number {
  return Math.min(ceiling, Math.max(0.1, ceiling / 100));
}

/**
 * Seconds of history the accepted rate is measured over: at least 2, and long enough to hold ~20 answers at low paces.
 */
export function measureSeconds(pace: number): number {
  return Math.max(2, 20 / pace);
}

/**
 * Whether a throttle of a request sent at `sentAt` (ms), seen at `now`, cuts the pace last cut at
 * `lastCutAt` (-Infinity: never). One cut per hold; and a request sent before the last cut says
 * nothing about the pace since.
 */
export function throttleCuts(sentAt: number, now: number, lastCutAt: number): boolean {
  return sentAt >= lastCutAt && now - lastCutAt >= CUT_HOLD_MS;
}

/**
 * The pace after a throttle: the accepted rate measured (undefined: too little history), a little under the pace at
 * least, never under the floor.
 */
export function cutPace(pace: number, accepted: number | undefined, floor: number): number {
  return Math.max(floor, accepted !== undefined ? Math.min(pace * MEASURED_CUT, accepted) : pace * BLIND_CUT);
}

/** The pace `seconds` of climbing after `from`, never over the ceiling. */
export function climbPace(from: number, seconds: number, ceiling: number): number {
  return Math.min(ceiling, from + CLIMB_PER_SECOND * ceiling * seconds);
}
