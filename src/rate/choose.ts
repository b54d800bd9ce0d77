/** Which limiter a run gets: the in-process one, or the shared one when a Redis URL is configured. */

import { UsageError } from '../errors.js';
import type { Logger } from '../types.js';
import { AdaptiveRate } from './adaptive.js';
import { type Limiter, LocalLimiter } from './limiter.js';

export interface LimiterConfig {
  /** The quota: requests/s (`--rate`) and its burst. */
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

/** The ceiling of this run (or cluster of runs): the quota less the reserve. */
function ceilingOf(quota: number, reserve = 0): number {
  if (!(reserve >= 0)) throw new UsageError('--reserve must be a number of requests per second, 0 or more');
  if (!(quota - reserve > 0))
    throw new UsageError(`--reserve ${reserve} leaves nothing of --rate ${quota}: it must be below the rate`);
  return quota - reserve;
}

export async function createLimiter(c: LimiterConfig): Promise<Limiter> {
  const ceiling = ceilingOf(c.rate, c.reserve);
  if (!c.redisUrl) return new LocalLimiter(new AdaptiveRate({ ceiling, burst: c.burst }), c.concurrency);
  // Redis, bottleneck and STS are loaded only by a run that shares its quota: a run alone starts faster.
  const [{ resolveLimiterId }, { openSharedLimiter }] = await Promise.all([
    import('./identity.js'),
    import('./shared.js'),
  ]);
  const limiterId = await resolveLimiterId(c);
  c.log.info({ limiterId, rate: ceiling }, 'sharing the rate limit through Redis');
  return openSharedLimiter({ redisUrl: c.redisUrl, limiterId, ceiling, concurrency: c.concurrency, log: c.log });
}
