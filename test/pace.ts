/**
 * Pacing as invariants, not timings. A test records when each request left (or reached the emulator)
 * and checks that no run of consecutive requests went faster than the limiter's tokens allow: a token
 * bucket of `rate`/s holding `burst` lets at most `burst + rate · T` requests go in any T seconds, so
 * any k consecutive requests span at least (k − burst) / rate. That is a lower bound on time: a busy
 * machine only stretches it, so the check cannot fail for being slow. How fast a run goes, what share
 * of its requests were throttled, how close it came to the quota: the benchmark measures those
 * (npm run bench).
 */

import { MAX_AUTO_CONCURRENCY } from '../src/delivery/concurrency.js';
import { ConnectSender, createConnectClient, type TaskSender } from '../src/delivery/send.js';
import type { Emulator } from '../src/emulator/server.js';

/**
 * A run's sender as a run makes it (the real SDK over HTTP), noting when each request is handed to it:
 * the moment the limiter lets it go (a slot and a token), before the SDK's own work. Times are
 * `performance.now()`, ms.
 */
export function recordSends(endpoint: string): { sender: TaskSender; times: number[] } {
  const real = new ConnectSender(
    createConnectClient({ endpoint, maxSockets: MAX_AUTO_CONCURRENCY, requestTimeoutMs: 15_000 }),
  );
  const times: number[] = [];
  const sender: TaskSender = {
    startTask: (request) => {
      times.push(performance.now());
      return real.startTask(request);
    },
    destroy: () => real.destroy(),
  };
  return { sender, times };
}

/**
 * The arrival times (performance.now(), ms) of every StartTaskContact request the emulator receives
 * from now on, throttled ones included; `then` is told each request's number as it arrives (to act at
 * a known point of a run, e.g. stop the client after the n-th request).
 */
export function recordRequests(e: Emulator, then?: (n: number) => void): number[] {
  const times: number[] = [];
  e.service.onRequest = (n, at) => {
    times.push(at);
    then?.(n);
  };
  return times;
}

export interface PaceLimit {
  /** The bucket's rate, requests/s (the ceiling: an adaptive pace stays at or under it). */
  rate: number;
  burst: number;
  /**
   * What the recording may lose: a request noted late shortens the windows that start with it. A
   * fraction of each window's span and a fixed time. The defaults (2 %, 100 ms) are for times noted
   * by `recordSends`, a microtask after the token: late only when the process is descheduled in
   * between. Arrivals at the emulator need more: between the token and the wire lie the SDK's
   * first-request set-up, other processes' timers and the scheduler.
   */
  slack?: number;
  graceMs?: number;
}

/** Fails, naming the window, if any k consecutive requests came faster than `limit` allows. */
export function expectPaced(times: number[], limit: PaceLimit): void {
  const { rate, burst, slack = 0.02, graceMs = 100 } = limit;
  for (let i = 0; i < times.length; i++) {
    for (let j = i + burst; j < times.length; j++) {
      const k = j - i + 1;
      const span = times[j]! - times[i]!;
      const least = ((k - burst) / rate) * 1000 * (1 - slack) - graceMs;
      if (span < least) {
        throw new Error(
          `requests ${i + 1}–${j + 1} (${k} of ${times.length}) went within ${span.toFixed(1)} ms: ` +
            `a bucket of ${rate}/s with burst ${burst} lets them go ` +
            `over ${(((k - burst) / rate) * 1000).toFixed(1)} ms at least ` +
            `(${least.toFixed(1)} ms with the recording's slack)`,
        );
      }
    }
  }
}
