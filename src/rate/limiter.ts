/**
 * The limiter: what stands between a row and the service — the pace (requests/s) and the cap on
 * requests in flight. Two implementations behind one interface, chosen by configuration:
 * `LocalLimiter` (this process alone: the adaptive token bucket) and `SharedLimiter` (every process on
 * one Redis and limiter id: bottleneck's clustering, see shared.ts).
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { SendOutcome } from '../types.js';
import type { RateControl } from './adaptive.js';

export interface Limiter {
  /**
   * Runs `send` once a slot and the pace allow it, and resolves to its result. `send` runs at most
   * once per call; a rejection before it ran (the signal aborted) means nothing was sent.
   */
  schedule<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Feeds back one attempt's outcome and how long it took (ms): the adaptive control's input. */
  observe(outcome: SendOutcome, latencyMs: number): void;
  /** The pace being dispatched at now, requests/s (for a shared limiter: the whole cluster's). */
  readonly currentRate: number;
  /** In-flight cap; may change while running (automatic concurrency). */
  concurrency: number;
  /** Lets go of anything held outside the process (Redis connections, heartbeat). */
  close(): Promise<void>;
  /** Told when the adaptive control cuts the pace after a throttle, or restores it to the ceiling (for the journal). */
  onChange?: (event: 'cut' | 'restored', pace: number) => void;
}

/** The in-process limiter: an adaptive token bucket (adaptive.ts) and a cap on slots. */
export class LocalLimiter implements Limiter {
  private readonly slots: LimitFunction;

  constructor(
    private readonly control: RateControl,
    concurrency: number,
  ) {
    this.slots = pLimit(concurrency);
  }

  schedule<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.slots(async () => {
      // Once the run is stopping, nothing new leaves.
      signal?.throwIfAborted();
      await this.control.take(signal);
      return send();
    });
  }

  observe(outcome: SendOutcome, latencyMs: number): void {
    this.control.observe(outcome, latencyMs);
  }

  get currentRate(): number {
    return this.control.currentRate;
  }

  get concurrency(): number {
    return this.slots.concurrency;
  }

  set concurrency(n: number) {
    this.slots.concurrency = n;
  }

  set onChange(listener: ((event: 'cut' | 'restored', pace: number) => void) | undefined) {
    this.control.onChange = listener;
  }

  get onChange(): ((event: 'cut' | 'restored', pace: number) => void) | undefined {
    return this.control.onChange;
  }

  async close(): Promise<void> {}
}
