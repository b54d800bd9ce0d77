/**
 * The shared adaptive control against a real redis-server, with explicit clock values: a throttle seen
 * by one process cuts the pace of all of them to the accepted rate measured over the whole cluster,
 * and every process derives the same climb back from the one cut stored in Redis.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedPace } from '../../src/rate/pace.js';
import { skipRedis, startRedis, type TestRedis } from '../redis.js';

describe.skipIf(skipRedis)('shared pace', () => {
  let server: TestRedis;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server.kill();
  });
  const client = () => {
    const c = new Redis(server.url);
    clients.push(c);
    return c;
  };

  it('one throttle slows all processes to the measured cluster share; the climb back is shared', async () => {
    const a = new SharedPace(client(), 'ctl:test', 40);
    const b = new SharedPace(client(), 'ctl:test', 40);
    const t0 = 1_000_000_000;
    // Seconds 0..4 of the run: a and b each had 10 requests a second accepted (20/s for the cluster).
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 10; i++) {
        a.accepted(t0 + s * 1000 + i * 100);
        b.accepted(t0 + s * 1000 + i * 100 + 50);
      }
    }
    const now = t0 + 5_500;
    await b.refresh(now);
    await a.refresh(now);
    expect(a.processes).toBe(2);
    expect(a.at(now)).toBe(40);

    await b.throttled(now - 50, now);
    await a.refresh(now + 10);
    expect(a.at(now + 10)).toBeCloseTo(20, 0);
    // A throttle of a request sent before the cut, or right after it, does not cut again.
    await a.throttled(now - 100, now + 100);
    await b.refresh(now + 100);
    expect(b.at(now + 100)).toBeCloseTo(20, 0);
    // Both climb back by 5 % of the ceiling (2 requests/s) per second, from the same cut.
    expect(a.at(now + 2_000)).toBeCloseTo(24, 1);
    expect(b.at(now + 2_000)).toBeCloseTo(24, 1);
    expect(a.at(now + 60_000)).toBe(40);
  });
});
