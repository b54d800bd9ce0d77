/**
 * The wait at the instance's active-task limit, without a service: the probe schedule, and the gate's
 * rules — one probe at a time, nothing else leaves while paused, what ends a pause and what does not.
 * Timers are Vitest's fake ones: the schedule is logic here, not time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CapacityGate, probeDelay } from '../../src/delivery/capacity.js';
import { RunStats } from '../../src/observe/stats.js';
import type { PauseEvent, SendOutcome } from '../../src/types.js';

describe('probeDelay', () => {
  it.each([
    [0, 5_000],
    [1, 10_000],
    [2, 20_000],
    [5, 160_000],
    [6, 300_000],
    [7, 300_000],
    [1_000, 300_000],
  ])('probe %i of a pause waits %i ms', (n, ms) => {
    expect(probeDelay(n)).toBe(ms);
  });

  it('starts where it is told, and keeps its cap', () => {
    expect([0, 1, 2, 3].map((n) => probeDelay(n, 100, 500))).toEqual([100, 200, 400, 500]);
  });
});

const FULL: SendOutcome = { kind: 'capacity', code: 'ServiceQuotaExceededException', message: 'full' };
const CREATED: SendOutcome = { kind: 'created', contactId: 'c' };
const THROTTLED: SendOutcome = { kind: 'throttled', code: 'ThrottlingException', message: 't' };
const FAILED: SendOutcome = { kind: 'transient', code: 'InternalServiceException', message: 'x', answered: true };

describe('CapacityGate', () => {
  let stopped: string | undefined;
  let events: PauseEvent[];
  let stats: RunStats;
  const gate = (maxWaitMs = 60_000) => {
    const g = new CapacityGate({ stats, maxWaitMs, firstProbeMs: 100, stop: (r) => (stopped = r) });
    g.onEvent = (e) => events.push(e);
    return g;
  };
  /** Whether the promise has settled, after the microtasks queued so far. */
  const settled = async (p: Promise<unknown>) => {
    let done = false;
    void p.then(
      () => (done = true),
      () => (done = true),
    );
    await vi.advanceTimersByTimeAsync(0);
    return done;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    stopped = undefined;
    events = [];
    stats = new RunStats();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the first 402 pauses every row; one probe at the growing interval; its task resumes them all', async () => {
    const g = gate();
    const [a, b, c] = [{}, {}, {}];
    expect(g.mayLeave(a)).toBe(true);
    g.answered(FULL, a);
    expect(stats.pauses).toBe(1);
    expect(stats.pausedSince).toBeDefined();
    expect(g.mayLeave(b)).toBe(false); // queued before the pause: turned back at the moment of sending
    const waits = [g.wait(a), g.wait(b), g.wait(c)];
    expect(await settled(waits[0]!)).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    // One row holds the probe: it may leave, the others may not.
    expect(await settled(waits[0]!)).toBe(true);
    expect([await settled(waits[1]!), await settled(waits[2]!)]).toEqual([false, false]);
    expect([g.mayLeave(a), g.mayLeave(b)]).toEqual([true, false]);
    g.answered(FULL, a); // still full: the next probe after twice the wait
    expect(events.at(-1)).toMatchObject({ kind: 'full', probe: 1, nextProbeMs: 200 });
    const again = g.wait(a);
    await vi.advanceTimersByTimeAsync(199);
    expect([await settled(again), await settled(waits[1]!)]).toEqual([false, false]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(waits[1]!)).toBe(true); // the longest waiting row probes next
    expect(g.mayLeave(b)).toBe(true);
    g.answered(CREATED, b);
    expect([await settled(again), await settled(waits[2]!)]).toEqual([true, true]);
    expect(stats.pausedSince).toBeUndefined();
    expect(stats.pausedMs).toBe(300);
    expect(events.map((e) => e.kind)).toEqual(['paused', 'probe', 'full', 'probe', 'resumed']);
    expect(g.mayLeave(c)).toBe(true);
    expect(stopped).toBeUndefined();
  });

  it('a throttled or failed probe keeps the probe: nothing else leaves, the pause goes on', async () => {
    const g = gate();
    const [a, b] = [{}, {}];
    g.mayLeave(a);
    g.answered(FULL, a);
    const wa = g.wait(a);
    const wb = g.wait(b);
    await vi.advanceTimersByTimeAsync(100);
    expect(await settled(wa)).toBe(true);
    g.answered(THROTTLED, a);
    expect(await settled(g.wait(a))).toBe(true); // goes again at once, through the limiter
    expect(g.mayLeave(b)).toBe(false);
    expect(g.mayLeave(a)).toBe(true);
    g.answered(FAILED, a);
    expect(await settled(g.wait(a))).toBe(true);
    expect(await settled(wb)).toBe(false);
    expect(stats.pausedSince).toBeDefined();
    // The probing row ends (refused, or out of attempts): the probe passes to the next row at once.
    g.leave(a);
    expect(await settled(wb)).toBe(true);
    expect(g.mayLeave(b)).toBe(true);
  });

  it('answers to requests sent before the pause neither end it nor move the schedule', async () => {
    const g = gate();
    const [a, b, c] = [{}, {}, {}];
    for (const row of [a, b, c]) g.mayLeave(row);
    g.answered(FULL, a);
    g.answered(FULL, b);
    g.answered(CREATED, c);
    expect(stats.pauses).toBe(1);
    expect(stats.pausedSince).toBeDefined();
    expect(events.map((e) => e.kind)).toEqual(['paused']);
  });

  it('--max-wait: a pause that lasts that long stops the run; 0 stops at the first 402', async () => {
    const g = gate(1_000);
    const a = {};
    g.mayLeave(a);
    g.answered(FULL, a);
    const probing = g.wait(a);
    const w = g.wait({});
    await vi.advanceTimersByTimeAsync(100);
    expect(await settled(probing)).toBe(true);
    g.mayLeave(a);
    g.answered(THROTTLED, a); // the probe goes round and round: still paused when --max-wait is over
    await vi.advanceTimersByTimeAsync(899);
    expect(stopped).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(stopped).toBe("the instance's active-task limit held for 1s (--max-wait)");
    g.close();
    expect(stats.pausedSince).toBeUndefined();
    expect(stats.pausedMs).toBe(1_000);
    expect(events.map((e) => e.kind)).toContain('gave-up');
    expect(events.at(-1)).toMatchObject({ kind: 'ended' });
    expect(await settled(w)).toBe(false); // released by the run's stop signal, not by the gate

    stopped = undefined;
    const at0 = gate(0);
    const first = {};
    at0.mayLeave(first);
    at0.answered(FULL, first);
    expect(stopped).toBe('the instance is at its active-task limit, and --max-wait 0 says not to wait');
  });

  it('a row waiting when the run stops is released by its signal', async () => {
    const g = gate();
    const a = {};
    g.mayLeave(a);
    g.answered(FULL, a);
    const stop = new AbortController();
    const w = g.wait({}, stop.signal);
    stop.abort(new Error('deadline'));
    await expect(w).rejects.toThrow('deadline');
    g.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a second pause after a resume counts again and starts the schedule over', async () => {
    const g = gate();
    const [a, late] = [{}, {}];
    g.mayLeave(a);
    g.mayLeave(late);
    g.answered(FULL, a);
    void g.wait(a);
    await vi.advanceTimersByTimeAsync(100);
    g.mayLeave(a);
    g.answered(CREATED, a);
    // A 402 for a request that left before the probe's task speaks of the past: the row goes again.
    g.answered(FULL, late);
    expect(stats.pauses).toBe(1);
    expect(await settled(g.wait(late))).toBe(true);
    g.mayLeave(late);
    g.answered(FULL, late);
    expect(stats.pauses).toBe(2);
    expect(events.at(-1)).toMatchObject({ kind: 'paused', nextProbeMs: 100 });
    g.close();
  });
});
