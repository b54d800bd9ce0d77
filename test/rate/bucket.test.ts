import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/rate/bucket.js';

/** A hand-moved clock: these tests assert on arithmetic, never on wall time. */
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TokenBucket', () => {
  it('starts full at the burst, then refills at the rate, never above the burst', () => {
    const c = clock();
    const b = new TokenBucket(2, 5, c.now);
    expect(Array.from({ length: 6 }, () => b.tryTake())).toEqual([true, true, true, true, true, false]);
    c.advance(499);
    expect(b.tryTake()).toBe(false);
    c.advance(1);
    expect(b.tryTake()).toBe(true);
    c.advance(60_000);
    expect(Array.from({ length: 6 }, () => b.tryTake()).filter(Boolean)).toHaveLength(5);
  });

  it('serves waiters first come, first served, and drops an aborted waiter', async () => {
    // The clock stands still until the first waiter is aborted: on a loaded machine a real clock could
    // refill a token before the abort, and the waiter would be served instead of dropped.
    const start = performance.now();
    let frozen = true;
    const b = new TokenBucket(1000, 1, () => (frozen ? start : performance.now()));
    expect(b.tryTake()).toBe(true);
    const order: number[] = [];
    const controller = new AbortController();
    const aborted = b.take(controller.signal).catch(() => order.push(-1));
    controller.abort();
    frozen = false;
    await Promise.all([1, 2, 3].map((i) => b.take().then(() => order.push(i))));
    await aborted;
    expect(order).toEqual([-1, 1, 2, 3]);
  });
});
