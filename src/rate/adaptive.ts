/**
 * Rate control: a token bucket whose rate adapts to the free share of the account's quota.
 *
 * `--rate` is a ceiling. The quota is shared by every caller in the account, so the share left for
 * this run is unknown and moves. The service throttles with a token bucket, and a bucket run at
 * saturation accepts exactly its refill rate: so when a throttle arrives, the rate of *accepted*
 * requests over the last moments is a measurement of the free share, and the new rate is set to it
 * (never more than a multiplicative cut of the old one). Without throttles the rate climbs back
 * additively towards the ceiling, probing for share that other callers have given up.
 */
import { TokenBucket } from './bucket.js';
import type { SendOutcome } from '../types.js';

export interface RateControl {
  take(signal?: AbortSignal): Promise<void>;
  /** Feeds back one attempt's outcome and how long it took (ms). */
  observe(outcome: SendOutcome, latencyMs: number): void;
  /** The rate being dispatched at now, requests/s. */
  readonly currentRate: number;
  /** Told when the pace is cut after a throttle, or restored to the ceiling. */
  onChange?: (event: 'cut' | 'restored', rate: number) => void;
}

export interface AdaptiveOptions {
  /** Ceiling, requests/s. */
  rate: number;
  burst: number;
  /** Floor, requests/s: never stop entirely, or a run could never learn the quota came back. */
  minRate?: number;
  /** Multiplicative cut applied when there is too little history to measure the share. */
  decrease?: number;
  /** Additive climb per second without throttles, as a fraction of the ceiling. */
  increasePerSecond?: number;
  now?: () => number;
}

/** After a cut, further throttles are not acted on for this long (ms). */
const CUT_HOLD_MS = 500;

/** Seconds of history used to measure the accepted rate; long enough to hold ~20 answers at low rates. */
const minWindowSeconds = (rate: number) => Math.max(2, 20 / rate);

export class AdaptiveRate implements RateControl {
  private readonly bucket: TokenBucket;
  private readonly ceiling: number;
  private readonly minRate: number;
  private readonly decrease: number;
  private readonly climb: number;
  private readonly now: () => number;
  private rate: number;
  /** Completion times (ms) of accepted requests, oldest first, trimmed to the measuring window. */
  private readonly accepted: number[] = [];
  private lastCut = -Infinity;
  private lastClimb: number;
  throttleEvents = 0;
  /** Told when the pace is cut after a throttle, and when it has climbed back to the ceiling (for logs and the timeline). */
  onChange?: (event: 'cut' | 'restored', rate: number) => void;

  constructor(options: AdaptiveOptions) {
    this.now = options.now ?? (() => performance.now());
    this.ceiling = options.rate;
    this.minRate = Math.min(options.minRate ?? Math.max(0.1, options.rate / 100), options.rate);
    this.decrease = options.decrease ?? 0.95;
    this.climb = (options.increasePerSecond ?? 0.05) * options.rate;
    this.rate = options.rate;
    this.lastClimb = this.now();
    this.bucket = new TokenBucket(options.rate, options.burst, this.now);
  }

  get currentRate(): number {
    return this.rate;
  }

  take(signal?: AbortSignal): Promise<void> {
    return this.bucket.take(signal);
  }

  observe(outcome: SendOutcome, latencyMs: number): void {
    const t = this.now();
    if (outcome.kind === 'throttled') {
      // One cut per hold period: throttles arriving right after a cut mostly belong to requests that
      // were already bunched at the service, and cutting again for each would undershoot the quota.
      // A request sent before the last cut says nothing about the new rate either.
      if (t - latencyMs >= this.lastCut && t - this.lastCut >= CUT_HOLD_MS) this.cut(t);
      return;
    }
    if (outcome.kind === 'created' || outcome.kind === 'refused') {
      this.accepted.push(t);
      this.trim(t);
    }
    if (this.rate < this.ceiling) {
      const seconds = (t - this.lastClimb) / 1000;
      this.setRate(Math.min(this.ceiling, this.rate + this.climb * seconds));
      if (this.rate === this.ceiling) this.onChange?.('restored', this.rate);
    }
    this.lastClimb = t;
  }

  private cut(t: number): void {
    this.trim(t);
    // Accepted answers per second between the first and the last in the window.
    const n = this.accepted.length;
    const span = n > 1 ? this.accepted[n - 1]! - this.accepted[0]! : 0;
    // Enough history to measure: ten answers, or two spread over half a second at low rates.
    const enough = (n >= 10 && span >= 100) || (n >= 2 && span >= 500);
    const measured = enough ? ((n - 1) / span) * 1000 : undefined;
    // The measured share, a little under the old rate at least; with too little history to measure,
    // a multiplicative cut.
    const next = measured !== undefined ? Math.min(this.rate * 0.98, measured) : this.rate * this.decrease;
    this.setRate(Math.max(this.minRate, next));
    this.lastCut = t;
    this.lastClimb = t;
    this.throttleEvents++;
    this.onChange?.('cut', this.rate);
  }

  private trim(t: number): void {
    const horizon = t - minWindowSeconds(this.rate) * 1000;
    let drop = 0;
    while (drop < this.accepted.length && this.accepted[drop]! < horizon) drop++;
    if (drop) this.accepted.splice(0, drop);
  }

  private setRate(rate: number): void {
    if (rate === this.rate) return;
    this.rate = rate;
    this.bucket.setRate(rate);
  }
}
