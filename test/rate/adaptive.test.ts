import { describe, expect, it } from 'vitest';
import { AdaptiveRate } from '../../src/rate/adaptive.js';
import type { SendOutcome } from '../../src/types.js';

/** A hand-moved clock: these tests assert on arithmetic, never on wall time. */
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const created: SendOutcome = { kind: 'created', contactId: 'c' };
const throttled: SendOutcome = { kind: 'throttled', code: 'ThrottlingException', message: 'Rate exceeded' };

describe('AdaptiveRate', () => {
  it('stays at the ceiling while nothing is throttled', () => {
    const c = clock();
    const r = new AdaptiveRate({ ceiling: 50, burst: 5, now: c.now });
    for (let i = 0; i < 100; i++) {
      c.advance(20);
      r.observe(created, 5);
    }
    expect(r.currentRate).toBe(50);
  });

  it('drops to the measured accepted rate on a throttle, ignores throttles of requests sent before the cut', () => {
    const c = clock();
    const r = new AdaptiveRate({ ceiling: 200, burst: 5, now: c.now });
    // 40 accepted per second for two seconds: the free share.
    for (let i = 0; i < 80; i++) {
      c.advance(25);
      r.observe(created, 5);
    }
    r.observe(throttled, 5);
    expect(r.currentRate).toBeCloseTo(40, 0);
    const after = r.currentRate;
    r.observe(throttled, 50); // sent 50 ms ago, before the cut
    expect(r.currentRate).toBe(after);
    expect(r.throttleEvents).toBe(1);
  });

  it('cuts multiplicatively without history, never below the floor, and climbs back to the ceiling', () => {
    const c = clock();
    const r = new AdaptiveRate({ ceiling: 50, burst: 5, now: c.now });
    for (let i = 0; i < 100; i++) {
      c.advance(1);
      r.observe(throttled, 0);
    }
    expect(r.throttleEvents).toBe(1); // one cut per hold period
    for (let i = 0; i < 80; i++) {
      c.advance(600);
      r.observe(throttled, 0);
    }
    expect(r.currentRate).toBeGreaterThanOrEqual(0.5);
    expect(r.currentRate).toBeLessThan(5);
    for (let i = 0; i < 400; i++) {
      c.advance(100);
      r.observe(created, 5);
    }
    expect(r.currentRate).toBe(50);
  });
});
