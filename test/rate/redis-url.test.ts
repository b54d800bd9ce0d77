/** A Redis URL is only ever shown redacted, whatever the user typed in its place. */
import { describe, expect, it } from 'vitest';
import { connectRedis, redactUrl } from '../../src/rate/redis.js';

describe('--redis URLs', () => {
  it.each([
    ['another scheme', 'http://:secretpw123@127.0.0.1:1'],
    ['a password pasted alone', 'secretpw123'],
    ['a path', '/var/run/secretpw123.sock'],
  ])('refuses %s without echoing it', async (_what, url) => {
    const err = (await connectRedis(url).catch((e: unknown) => e)) as Error & { exitCode?: number };
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/--redis takes a URL of the form redis:\/\//);
    expect(err.message).not.toContain('secretpw123');
  });

  it('names an unreachable server with the password masked and no client message', async () => {
    const err = (await connectRedis('redis://:secretpw123@127.0.0.1:1/0').catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0/);
    expect(err.message).not.toContain('secretpw123');
  });

  it('masks user and password', () => {
    expect(redactUrl('rediss://ops:secretpw123@cache.internal:6380/2')).toBe('rediss://***:***@cache.internal:6380/2');
    expect(redactUrl('redis://127.0.0.1:1/?password=hunter2')).not.toContain('hunter2');
  });
});
