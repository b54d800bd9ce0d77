import { describe, expect, it } from 'vitest';
import { InFlightSizer, initialConcurrency, MAX_AUTO_CONCURRENCY } from '../../src/delivery/concurrency.js';

/**
 * A closed system: `limit` requests in flight, each answered after `serviceMs` at best; the client
 * can carry at most `maxThroughput`/s (its CPU), and the pace (token bucket) at most `pace`/s.
 * Past the knee, extra requests in flight only wait: latency = in flight / throughput.
 */
function simulate(
  sizer: InFlightSizer,
  o: {
    serviceMs: number;
    maxThroughput: number;
    pace?: number;
    ticks: number;
    noise?: () => number;
    warmup?: (t: number) => number;
  },
) {
  const seen: number[] = [];
  for (let t = 0; t < o.ticks; t++) {
    const limit = sizer.limit;
    const pace = o.pace ?? Infinity;
    const throughput = Math.min(limit / (o.serviceMs / 1000), o.maxThroughput, pace);
    // Paced below what the window could carry: fewer in flight than the cap, at the service's latency.
    const latencyMs = throughput < o.maxThroughput && throughput === pace ? o.serviceMs : (limit / throughput) * 1000;
    const answers = throughput * 0.25 * (o.noise?.() ?? 1) * (o.warmup?.(t * 0.25) ?? 1);
    sizer.observe({ seconds: 0.25, answers, latencyMs: answers * latencyMs, pace });
    seen.push(sizer.limit);
  }
  return seen;
}

describe('in-flight sizing', () => {
  it.each([
    // serviceMs, client max/s: knee = max/s × service time
    [3, 1000, 3],
    [10, 1000, 10],
    [20, 800, 16],
    [40, 1000, 40],
    [100, 1000, 100],
  ])(
    'finds the knee when the client is the bottleneck (service %i ms, %i/s), never below 16',
    (serviceMs, maxThroughput, knee) => {
      const sizer = new InFlightSizer(64);
      const seen = simulate(sizer, { serviceMs, maxThroughput, ticks: 160 });
      const settled = seen.slice(80);
      // Never far above the knee once found, never so low that throughput falls more than ~5 %, and
      // never below 16: below it a window costs more CPU per row than it saves (concurrency.ts, FLOOR).
      // 20: a re-probe one step up
      expect(Math.max(...settled)).toBeLessThanOrEqual(Math.max(20, Math.ceil(knee * 1.6)));
      if (knee <= 16) expect(settled.filter((n) => n === 16).length).toBeGreaterThan(settled.length / 2);
      expect(Math.min(...settled)).toBeGreaterThanOrEqual(Math.max(16, Math.min(knee * 0.75, knee - 1)));
    },
  );

  it('a first window below 16 (a slow pace) is its own floor', () => {
    const sizer = new InFlightSizer(7);
    const seen = simulate(sizer, { serviceMs: 3, maxThroughput: 1000, ticks: 160 });
    expect(Math.min(...seen)).toBe(7);
    expect(Math.max(...seen.slice(80))).toBeLessThanOrEqual(9);
  });

  it('stays near the knee on a noisy machine (throughput ±10 % per tick)', () => {
    let seed = 42;
    const noise = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 0.9 + 0.2 * (seed / 2 ** 31);
    };
    const sizer = new InFlightSizer(16);
    const seen = simulate(sizer, { serviceMs: 5, maxThroughput: 1000, ticks: 400, noise });
    const settled = seen.slice(100);
    const mean = settled.reduce((a, b) => a + b) / settled.length;
    expect(Math.min(...settled)).toBe(16);
    expect(mean).toBeLessThan(16 * 1.25);
  });

  it('learns nothing while the process warms up (answers/s rising fourfold over 2.5 s, whatever the cap)', () => {
    const sizer = new InFlightSizer(16);
    // The client carries 2,000/s once warm; at 16 in flight and 5 ms the window carries 3,200/s.
    const seen = simulate(sizer, {
      serviceMs: 5,
      maxThroughput: 2000,
      ticks: 40,
      warmup: (s) => Math.min(1, 0.25 + 0.3 * s),
    });
    expect(new Set(seen.slice(0, 12))).toEqual(new Set([16])); // the first 3 s
    expect(Math.max(...seen)).toBeLessThanOrEqual(20); // then one probe up, which buys nothing
    expect(seen.at(-1)).toBeLessThanOrEqual(16);
  });

  it('leaves the cap alone while the pace, not the cap, holds requests back (100 rps at 300 ms)', () => {
    const start = initialConcurrency(100, 5);
    const sizer = new InFlightSizer(start);
    const seen = simulate(sizer, { serviceMs: 300, maxThroughput: 1000, pace: 100, ticks: 80 });
    expect(new Set(seen)).toEqual(new Set([start]));
    expect(start).toBeGreaterThanOrEqual(100 * 0.3 * 1.1);
  });

  it('climbs while more in flight carries more (the service slowed down mid-run)', () => {
    const sizer = new InFlightSizer(initialConcurrency(1000, 5));
    simulate(sizer, { serviceMs: 20, maxThroughput: 1000, pace: 400, ticks: 40 });
    simulate(sizer, { serviceMs: 500, maxThroughput: 1000, pace: 400, ticks: 160 });
    // 400/s at 500 ms needs 200 in flight: carried on average within 5 % of it (probes included).
    const last = simulate(sizer, { serviceMs: 500, maxThroughput: 1000, pace: 400, ticks: 40 });
    const carried = last.map((limit) => Math.min(limit / 0.5, 400));
    expect(carried.reduce((a, b) => a + b) / carried.length).toBeGreaterThanOrEqual(0.95 * 400);
    expect(Math.max(...last)).toBeLessThanOrEqual(MAX_AUTO_CONCURRENCY);
  });

  it('starts from Little’s law for the pace, capped before anything is measured', () => {
    expect(initialConcurrency(2, 5)).toBe(7);
    expect(initialConcurrency(100, 5)).toBe(64);
    expect(initialConcurrency(999, 5)).toBe(64);
    expect(initialConcurrency(1_000_000, 1_000_000)).toBe(16);
    expect(initialConcurrency(1_000_000, 5, 10)).toBe(10);
    expect(initialConcurrency(100, 5, 10)).toBe(10);
  });
});
