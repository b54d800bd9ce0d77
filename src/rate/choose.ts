/** Which limiter a run gets: the in-process one, or the shared one when a Redis URL is configured. */
import { AdaptiveRate } from './adaptive.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../types.js';
import { LocalLimiter, type Limiter } from './limiter.js';

export interface LimiterConfig {
  /** The quota, requests/s, and its burst. */
  rate: number;
  burst: number;
  /** Requests/s of the quota left to the account's other callers (never used by this run). */
  reserve?: number;
  concurrency: number;
  redisUrl?: string;
  limiterId?: string;
  endpoint?: string;
  region?: string;
  profile?: string;
  log: Logger;
}

/** The rate this run (or cluster of runs) may use: the quota less the reserve. */
export function usableRate(rate: number, reserve = 0): number {
  if (!(reserve >= 0)) throw new UsageError('--reserve must be a number of requests per second, 0 or more');
  if (!(rate - reserve > 0)) throw new UsageError(`--reserve ${reserve} leaves nothing of --rate ${rate}: it must be below the rate`);
  return rate - reserve;
}

export async function createLimiter(c: LimiterConfig): Promise<Limiter> {
  const rate = usableRate(c.rate, c.reserve);
  if (!c.redisUrl) return new LocalLimiter(new AdaptiveRate({ rate, burst: c.burst }), c.concurrency);
  // Redis, bottleneck and STS are loaded only by a run that shares its quota: a run alone starts faster.
  const [{ resolveLimiterId }, { openSharedLimiter }] = await Promise.all([import('./identity.js'), import('./shared.js')]);
  const limiterId = await resolveLimiterId(c);
  c.log.info({ limiterId, rate }, 'sharing the rate limit through Redis');
  return openSharedLimiter({ redisUrl: c.redisUrl, limiterId, rate, concurrency: c.concurrency, log: c.log });
}
