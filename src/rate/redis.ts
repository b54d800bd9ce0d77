/** The Redis connection of a shared limiter, and the one way its URL is ever shown. */
import { Redis } from 'ioredis';
import { UsageError } from '../errors.js';

/** The URL with any user name and password replaced: the only form that may reach logs, errors or files. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.username) u.username = '***';
    // ioredis also takes `?password=` (and other options) in the query: none of it is printed.
    if (u.search) u.search = '?***';
    return u.toString();
  } catch {
    return '<unparseable Redis URL>';
  }
}

/**
 * Connects, or throws a UsageError (nothing sent) naming the redacted URL. Commands fail at once while
 * the connection is down instead of queueing (`enableOfflineQueue: false`): a limiter waiting on a
 * dead Redis would stall the run, while a failure lets it fall back to its own pace at once.
 */
export async function connectRedis(url: string): Promise<Redis> {
  // Only a redis:// or rediss:// URL: anything else (a pasted password, another scheme) would reach
  // ioredis's own error text unredacted.
  let scheme: string | undefined;
  try {
    scheme = new URL(url).protocol;
  } catch {
    scheme = undefined;
  }
  if (scheme !== 'redis:' && scheme !== 'rediss:') {
    throw new UsageError(`--redis takes a URL of the form redis://[:password@]host:port[/db] (or rediss:// for TLS); got ${scheme ? redactUrl(url) : 'something else'}`);
  }
  let redis: Redis;
  try {
    redis = new Redis(url, {
      // Not lazy: bottleneck duplicates this client for its subscriber, and a lazy copy never connects.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      // Keep trying while the run lasts: the limiter rejoins as soon as Redis is back.
      retryStrategy: (times) => Math.min(100 * times, 1_000),
    });
  } catch (err) {
    throw new UsageError(`--redis: not a Redis URL: ${redactUrl(url)}`, { cause: err });
  }
  try {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', resolve);
      redis.once('error', reject);
    });
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    // ioredis's message can hold parts of the URL: keep only its error code.
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot reach Redis at ${redactUrl(url)}${code ? ` (${code})` : ''}: check the host, port and password, and that the server is running`);
  } finally {
    redis.removeAllListeners('ready').removeAllListeners('error');
  }
  // Later errors surface through failed commands; without a listener ioredis prints each one.
  redis.on('error', () => {});
  return redis;
}
