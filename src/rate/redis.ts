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

/** How long one Redis command may take before Redis counts as gone (the shared pace then falls back). */
const COMMAND_TIMEOUT_MS = 2_000;
/** How long connecting may take in all, the server's first answer included (a frozen one never answers). */
const READY_TIMEOUT_MS = 5_000;

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
    throw new UsageError(
      `--redis takes a URL of the form redis://[:password@]host:port[/db] (or rediss:// for TLS); ` +
        `got ${scheme ? redactUrl(url) : 'something else'}`,
    );
  }
  let redis: Redis;
  try {
    redis = new Redis(url, {
      // Not lazy: bottleneck duplicates this client for its subscriber, and a lazy copy never connects.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      // A frozen server (SIGSTOP, a black-holed network) accepts or keeps the connection and never
      // answers: every command fails after this long, and the limiter falls back to its own pace.
      commandTimeout: COMMAND_TIMEOUT_MS,
      // Keep trying while the run lasts: the limiter rejoins as soon as Redis is back.
      retryStrategy: (times) => Math.min(100 * times, 1_000),
    });
  } catch (err) {
    throw new UsageError(`--redis: not a Redis URL: ${redactUrl(url)}`, { cause: err });
  }
  // Errors surface through the promises below and later through failed commands: without a
  // listener of its own ioredis prints each one (with a stack) before our message.
  redis.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    const answered = (async () => {
      await new Promise<void>((resolve, reject) => {
        redis.once('ready', resolve);
        redis.once('error', reject);
      });
      await redis.ping();
    })();
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('no answer'), { code: `no answer in ${READY_TIMEOUT_MS / 1000} s` })),
        READY_TIMEOUT_MS,
      );
    });
    answered.catch(() => {});
    await Promise.race([answered, late]);
  } catch (err) {
    redis.disconnect();
    // ioredis's message can hold parts of the URL: keep only its error code.
    const code =
      (err as NodeJS.ErrnoException).code ??
      (/timed out/i.test((err as Error).message) ? `no answer in ${COMMAND_TIMEOUT_MS / 1000} s` : undefined);
    throw new UsageError(
      `cannot reach Redis at ${redactUrl(url)}${code ? ` (${code})` : ''}: check the host, port and password, ` +
        `and that the server is running`,
    );
  } finally {
    clearTimeout(timer);
    redis.removeAllListeners('ready').removeAllListeners('error');
    redis.on('error', () => {});
  }
  return redis;
}
