/**
 * The shared limiter: every process with the same Redis and limiter id draws from one pace and one
 * in-flight cap, through bottleneck's Redis clustering (`datastore: 'ioredis'`).
 *
 * Why `@maselious/bottleneck` and not stock bottleneck 2.19.5: Redis 7 prefixes script errors with
 * `ERR `, and 2.19.5 compares the messages exactly, so after a Redis restart (its keys gone) every
 * `schedule` fails with `ERR SETTINGS_KEY_NOT_FOUND` forever; 2.19.8 differs only in matching the
 * prefix, and re-creates its keys.
 *
 * The pace is bottleneck's `minTime` (1000 / pace ms between starts, cluster-wide), not reservoir
 * refreshes: those run only on bottleneck's heartbeat (every 5 s with Redis) and would pace in lumps.
 * The pace itself comes from the shared adaptive control in pace.ts.
 *
 * Redis going away never loses or doubles a row: a request is sent by exactly one path. Rows still
 * waiting for bottleneck are taken back and go through a local limiter at a conservative pace (the
 * cluster's pace ÷ the last known number of processes); when Redis answers again, rows still waiting
 * locally go back to the shared limiter.
 */

import { setMaxListeners } from 'node:events';
import Bottleneck from '@maselious/bottleneck';
import type { Redis } from 'ioredis';
import type { Logger, SendOutcome } from '../types.js';
import { AdaptiveRate } from './adaptive.js';
import { type Limiter, LocalLimiter } from './limiter.js';
import { SharedPace } from './pace.js';
import { connectRedis, redactUrl } from './redis.js';

export interface SharedOptions {
  redisUrl: string;
  limiterId: string;
  /** The cluster's ceiling, requests/s. */
  ceiling: number;
  concurrency: number;
  log: Logger;
}

type Step<T> = { done: true; value: T } | { done: false };

const TICK_MS = 250;
/** Longer than any request may take (the request timeout is 15 s by default). */
const SLOT_EXPIRATION_MS = 120_000;

export async function openSharedLimiter(options: SharedOptions): Promise<SharedLimiter> {
  const redis = await connectRedis(options.redisUrl);
  const prefix = `ctl:${options.limiterId}`;
  const pace = new SharedPace(redis, prefix, options.ceiling);
  // Bottleneck's own subscriber is a duplicate of this client; closing the connection closes both.
  const connection = new Bottleneck.IORedisConnection({ client: redis });
  const bottleneck = new Bottleneck({
    id: prefix,
    datastore: 'ioredis',
    connection,
    clearDatastore: false,
    minTime: 1000 / options.ceiling,
    maxConcurrent: options.concurrency,
    // No `timeout` (key expiry): with it, bottleneck's scripts PEXPIRE by a fractional time as soon as
    // minTime is not a whole number of ms, and Redis refuses. The keys are a few small hashes.
  });
  // A Redis outage shows in refresh() (see tick()); the detail is for debugging.
  bottleneck.on('error', (err: Error) => options.log.debug({ error: err.message }, 'bottleneck error'));
  try {
    await bottleneck.ready();
    await pace.refresh();
  } catch (err) {
    await connection.disconnect(false);
    throw err;
  }
  return new SharedLimiter(connection, bottleneck, pace, options);
}

export class SharedLimiter implements Limiter {
  private up = true;
  /** Aborted at every change between shared and local: rows waiting on the old path move. */
  private mode = new AbortController();
  private fallback: LocalLimiter | undefined;
  private cap: number;
  private applied: { pace: number; cap: number };
  private busy = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly shownUrl: string;

  constructor(
    private readonly connection: Bottleneck.IORedisConnection,
    private readonly bottleneck: Bottleneck,
    private readonly pace: SharedPace,
    private readonly options: SharedOptions,
  ) {
    this.cap = options.concurrency;
    this.applied = { pace: options.ceiling, cap: options.concurrency };
    this.shownUrl = redactUrl(options.redisUrl);
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    setMaxListeners(0, this.mode.signal);
    (connection as unknown as { client: Redis }).client.on('close', () => this.lost());
  }

  get currentRate(): number {
    return this.up || !this.fallback ? this.pace.at() : this.fallback.currentRate;
  }

  get concurrency(): number {
    return this.cap;
  }

  set concurrency(n: number) {
    this.cap = n;
    if (this.fallback) this.fallback.concurrency = n;
  }

  async schedule<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (;;) {
      signal?.throwIfAborted();
      const step = this.up ? await this.viaRedis(send, signal) : await this.viaLocal(send, signal);
      if (step.done) return step.value;
    }
  }

  observe(outcome: SendOutcome, latencyMs: number): void {
    if (!this.up) return this.fallback?.observe(outcome, latencyMs);
    const now = Date.now();
    if (outcome.kind === 'created' || outcome.kind === 'refused' || outcome.kind === 'capacity')
      this.pace.accepted(now);
    if (outcome.kind === 'throttled') this.pace.throttled(now - latencyMs, now).catch(() => this.lost());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.pace.leave().catch(() => {});
    await Promise.resolve(this.connection.disconnect(false)).catch(() => {});
  }

  /** Waits for bottleneck's go; steps aside (not done) if Redis is lost before the request left. */
  private viaRedis<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<Step<T>> {
    return new Promise<Step<T>>((resolve, reject) => {
      let state: 'waiting' | 'sending' | 'left' = 'waiting';
      const mode = this.mode.signal;
      const leave = (then: () => void) => {
        if (state !== 'waiting') return;
        state = 'left';
        mode.removeEventListener('abort', onMode);
        signal?.removeEventListener('abort', onAbort);
        then();
      };
      const onMode = () => leave(() => resolve({ done: false }));
      const onAbort = () => leave(() => reject(signal!.reason));
      mode.addEventListener('abort', onMode, { once: true });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.bottleneck
        // A process killed mid-request never frees its cluster slot; bottleneck frees it after this.
        .schedule({ expiration: SLOT_EXPIRATION_MS }, () => {
          // A job bottleneck starts after this row went another way does nothing: one send per row.
          if (state !== 'waiting') return Promise.resolve();
          leave(() => {});
          state = 'sending';
          const sent = send();
          sent.then((value) => resolve({ done: true, value }), reject);
          // The cluster slot is held until the answer is in.
          return sent.then(
            () => undefined,
            () => undefined,
          );
        })
        .catch(() => {
          // Expired while sending (the answer still comes through `sent`), or Redis failed before it left.
          if (state !== 'waiting') return;
          this.lost();
          leave(() => resolve({ done: false }));
        });
    });
  }

  /** The local fallback while Redis is away; steps aside (not done) when it is back before this row left. */
  private async viaLocal<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<Step<T>> {
    const mode = this.mode.signal;
    const both = signal ? AbortSignal.any([mode, signal]) : mode;
    setMaxListeners(0, both);
    try {
      return { done: true, value: await this.fallback!.schedule(send, both) };
    } catch (err) {
      if (signal?.aborted || !mode.aborted) throw err;
      return { done: false };
    }
  }

  /** Heartbeat and pace, four times a second; also how the limiter learns that Redis left or came back. */
  private async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      await this.pace.refresh();
      if (!this.up) this.rejoined();
      const pace = this.pace.at();
      // Each update is a round trip to Redis: only for a move of the pace over 0.5 %, or a new cap.
      if (Math.abs(pace - this.applied.pace) > pace * 0.005 || this.cap !== this.applied.cap) {
        await this.bottleneck.updateSettings({ minTime: 1000 / pace, maxConcurrent: this.cap });
        this.applied = { pace, cap: this.cap };
      }
    } catch {
      this.lost();
    } finally {
      this.busy = false;
    }
  }

  private lost(): void {
    if (!this.up || this.closed) return;
    this.up = false;
    const share = this.pace.at() / this.pace.processes;
    this.fallback = new LocalLimiter(new AdaptiveRate({ ceiling: share, burst: 1 }), this.cap);
    this.switchMode();
    this.options.log.warn(
      {
        server: this.shownUrl,
        limiterId: this.options.limiterId,
        rate: Number(share.toFixed(3)),
        processes: this.pace.processes,
      },
      'Redis unreachable: pacing alone at the shared rate ÷ the processes last seen, until it is back',
    );
  }

  private rejoined(): void {
    this.up = true;
    // Force the next tick to write the pace and cap again: after a restart Redis has forgotten them.
    this.applied = { pace: -1, cap: -1 };
    this.switchMode();
    this.options.log.warn(
      { server: this.shownUrl, limiterId: this.options.limiterId },
      'Redis is back: sharing the limiter again',
    );
  }

  private switchMode(): void {
    const old = this.mode;
    this.mode = new AbortController();
    setMaxListeners(0, this.mode.signal);
    old.abort();
  }
}
