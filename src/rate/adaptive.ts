/**
 * The in-process adaptive rate: a token bucket whose pace follows the free share of the quota
 * (the words and the arithmetic are arithmetic.ts's). On a throttle the pace is cut to the accepted
 * rate measured from this process's own answers; without throttles it climbs back to the ceiling.
 */

import type { SendOutcome } from '../types.js';
import { climbPace, cutPace, measureSeconds, paceFloor, throttleCuts } from './arithmetic.js';
import { TokenBucket } from './bucket.js';

export interface RateControl {
  take(signal?: AbortSignal): Promise<void>;
  /** Feeds back one attempt's outcome and how long it took (ms). */
  observe(outcome: SendOutcome, latencyMs: number): void;
  /** The pace requests are let go at now, requests/s. */
  readonly currentRate: number;
  /** Told when the pace is cut after a throttle, or restored to the ceiling. */
  onChange?: (event: 'cut' | 'restored', pace: number) => void;
}

export interface AdaptiveOptions {
  /** Requests/s: the pace starts here and never climbs over it. */
  ceiling: number;
  burst: number;
  now?: () => number;
}

export class AdaptiveRate implements RateControl {
  private readonly bucket: TokenBucket;
  private readonly ceiling: number;
  private readonly floor: number;
  private readonly now: () => number;
  private pace: number;
  /** Completion times (ms) of accepted requests, oldest first, trimmed to the measuring window. */
  private readonly accepted: number[] = [];
  private lastCut = -Infinity;
  private lastClimb: number;
  throttleEvents = 0;
  /**
   * Told when the pace is cut after a throttle, and when it has climbed back to the ceiling (for logs and the
   * timeline).
   */
  onChange?: (event: 'cut' | 'restored', pace: number) => void;

  constructor(options: AdaptiveOptions) {
    this.now = options.now ?? (() => performance.now());
    this.ceiling = options.ceiling;
    this.floor = paceFloor(options.ceiling);
    this.pace = options.ceiling;
    this.lastClimb = this.now();
    this.bucket = new TokenBucket(options.ceiling, options.burst, this.now);
  }

  get currentRate(): number {
    return this.pace;
  }

  take(signal?: AbortSignal): Promise<void> {
    return this.bucket.take(signal);
  }

  observe(outcome: SendOutcome, latencyMs: number): void {
    const t = this.now();
    if (outcome.kind === 'throttled') {
      if (throttleCuts(t - latencyMs, t, this.lastCut)) this.cut(t);
      return;
    }
    if (outcome.kind === 'created' || outcome.kind === 'refused' || outcome.kind === 'capacity') {
      this.accepted.push(t);
      this.trim(t);
    }
    if (this.pace < this.ceiling) {
      this.setPace(climbPace(this.pace, (t - this.lastClimb) / 1000, this.ceiling));
      if (this.pace === this.ceiling) this.onChange?.('restored', this.pace);
    }
    this.lastClimb = t;
  }

  private cut(t: number): void {
    this.trim(t);
    // Accepted answers per second between the first and the last in the window.
    const n = this.accepted.length;
    const span = n > 1 ? this.accepted[n - 1]! - this.accepted[0]! : 0;
    // Enough history to measure: ten answers, or two spread over half a second at low paces.
    const enough = (n >= 10 && span >= 100) || (n >= 2 && span >= 500);
    this.setPace(cutPace(this.pace, enough ? ((n - 1) / span) * 1000 : undefined, this.floor));
    this.lastCut = t;
    this.lastClimb = t;
    this.throttleEvents++;
    this.onChange?.('cut', this.pace);
  }

  private trim(t: number): void {
    const horizon = t - measureSeconds(this.pace) * 1000;
    let drop = 0;
    while (drop < this.accepted.length && this.accepted[drop]! < horizon) drop++;
    if (drop) this.accepted.splice(0, drop);
  }

  private setPace(pace: number): void {
    if (pace === this.pace) return;
    this.pace = pace;
    this.bucket.setRate(pace);
  }
}
