/**
 * How many requests to keep in flight when the user leaves --concurrency automatic.
 *
 * Little's law alone (in flight = rate × latency) cannot tell the service's latency from our own
 * queueing: when this process is the bottleneck (unthrottled, ~1,000 requests/s of SDK work on one
 * core), every extra request in flight waits on our event loop, latency grows with the window, and
 * the law answers with a bigger window — more sockets and garbage, no more throughput. So the window
 * is sized by what it buys: a hill climb on measured throughput (in the spirit of TCP Vegas and
 * Netflix's concurrency-limits, but judged on throughput rather than on a latency baseline, because
 * a service whose latency merely varies must not read as queueing):
 *
 *  - A window of answers (≥ 0.5 s and ≥ 20 answers) counts only when the cap bound it: the average
 *    number in flight (answers/s × mean latency, Little's law again) was ≥ 80 % of the cap, and the
 *    answers came slower than 95 % of the pace. When the token bucket sets the pace, requests wait
 *    for tokens, not slots, and there is nothing to learn.
 *  - Up: raise the cap ×1.25 while each step raises throughput by more than 5 %, and by at least
 *    half the step's own relative size (a memory cost: every request in flight
 *    keeps the SDK's garbage of that request alive through young collections, so a bigger window
 *    that carries no more grows the heap: 140 MB at 16 vs 170 MB at 48 over 100,000 rows).
 *  - Down: when a step up bought nothing, try ×0.75 below the last good cap, and keep shrinking while
 *    throughput stays within 2 % of the best seen; the first step that loses more goes back to the
 *    last good cap. That is the knee: the smallest window that carries the most requests — but
 *    never below 16 (FLOOR, below), where a smaller window costs more per row than it saves.
 *  - Nothing is learnt from the first 3 s (the process warming up).
 *  - Hold there; re-probe every HOLD windows (the service may have slowed, so more in flight pays),
 *    alternately starting up and down, and at once down when latency rises by 30 % without
 *    throughput (we, not the service, got slower).
 * A failed probe costs one window at ~5 % less throughput every ~5 s.
 */

/** Automatic concurrency never goes past this; requests beyond it wait for a slot. */
export const MAX_AUTO_CONCURRENCY = 256;

/**
 * Never below this (or below the first window, when that is smaller): a smaller window saves no
 * memory worth having (a request in flight holds some 50 KB of the SDK's) but carries fewer answers
 * per event-loop turn, so each row costs more. When this process is the bottleneck every window
 * carries the same within noise, and the search used to drift down to 4–9; measured at 100,000 rows
 * unthrottled with the cap fixed, 6 against 16 in flight: 0.505 vs 0.471 ms CPU per row, 158 vs
 * 148 MB peak RSS, 50 vs 46 s.
 */
const FLOOR = 16;
/** The first window is never below this: one slow answer must not stall the run. */
const MIN_CONCURRENCY = 4;

/** The first window: Little's law for the pace, but never more than this before anything is measured. */
const MAX_START = 64;

/** The first cap of a run whose pace is past what one process carries. */
const UNPACED_START = 16;

/** A process sends at most about this many requests per second (the SDK costs ~1 ms of CPU each). */
const PROCESS_RATE = 1000;

/** Before any answer has come back, assume this latency (s). */
const ASSUMED_LATENCY = 0.5;

const GAIN = 1.05;
/**
 * A step up must also pay for itself: at least this share of its relative growth in throughput
 * (4 → 6 in flight, +50 %, must carry 25 % more). Where the window truly binds, throughput grows in
 * step with it; a gain well short of that is the noise of a busy machine, not a knee further up.
 */
const EFFICIENCY = 0.5;
const LOSS = 0.98;
const BINDING = 0.8;
/** Carrying this share of the pace: the token bucket binds, whatever the window. */
const PACED = 0.95;
const HOLD = 10;
/**
 * Seconds of answers not learnt from at the start: a process's first seconds are its JIT compiling
 * and its sockets opening. Measured unthrottled at a fixed cap, answers per second rose fourfold over
 * the first 2.5 s, so every step up in that time would look paid for.
 */
const WARMUP_S = 3;
const MIN_WINDOW_S = 0.5;
const MIN_ANSWERS = 20;

/**
 * The cap before anything is measured: Little's law for the pace at an assumed latency, at most
 * MAX_START. A pace past what one process can carry (unthrottled) says nothing of the window it
 * needs: start small and let the climb find it.
 */
export function initialConcurrency(rate: number, burst: number, cap = MAX_AUTO_CONCURRENCY): number {
  if (rate >= PROCESS_RATE) return Math.min(cap, UNPACED_START);
  const needed = Math.ceil(Math.min(rate, PROCESS_RATE) * ASSUMED_LATENCY * 1.25) + Math.min(burst, 32);
  return Math.min(cap, MAX_START, Math.max(MIN_CONCURRENCY, needed));
}

/** What the sizer is told at each tick: answers and their summed latency since the last tick. */
export interface Sample {
  seconds: number;
  answers: number;
  latencyMs: number;
  /** The pace the token bucket allows now, requests/s. */
  pace?: number;
}

interface Point {
  limit: number;
  throughput: number;
  latencyMs: number;
}

type Phase = 'hold' | 'up' | 'down';

export class InFlightSizer {
  private phase: Phase = 'hold';
  /** The best cap of this search and what it carried; after the search, the knee. */
  private best: Point | undefined;
  private holdLeft = 0;
  private probes = 0;
  private pending: Sample = { seconds: 0, answers: 0, latencyMs: 0 };
  private elapsed = 0;

  /** The smallest cap the search may try: FLOOR, or the first window if that is smaller. */
  private readonly floor: number;

  constructor(
    public limit: number,
    private readonly cap = MAX_AUTO_CONCURRENCY,
  ) {
    this.floor = Math.max(1, Math.min(FLOOR, limit));
  }

  /** Adds a tick's answers; returns the cap to use from now on. */
  observe(sample: Sample): number {
    const w = this.pending;
    w.seconds += sample.seconds;
    w.answers += sample.answers;
    w.latencyMs += sample.latencyMs;
    w.pace = sample.pace;
    if (w.seconds < MIN_WINDOW_S || (w.answers < MIN_ANSWERS && w.seconds < 5)) return this.limit;
    this.pending = { seconds: 0, answers: 0, latencyMs: 0 };
    this.elapsed += w.seconds;
    if (w.answers === 0 || this.elapsed <= WARMUP_S) return this.limit;
    const now: Point = { limit: this.limit, throughput: w.answers / w.seconds, latencyMs: w.latencyMs / w.answers };
    const inFlight = (now.throughput * now.latencyMs) / 1000;
    if (inFlight < BINDING * this.limit || now.throughput >= PACED * (w.pace ?? Infinity)) {
      // The pace, not the cap, held requests back: nothing to learn, and the cap stays where it is
      // (a probe below it would only cost throughput).
      if (this.phase !== 'hold') this.settle(this.limit);
      return this.limit;
    }
    this.step(now);
    return this.limit;
  }

  private step(now: Point): void {
    const best = this.best;
    switch (this.phase) {
      case 'hold': {
        if (best) {
          if (now.latencyMs > best.latencyMs * 1.3 && now.throughput < best.throughput * GAIN) {
            this.best = now; // latency rose without throughput: we, not the service, got slower
            return this.down();
          }
          if (--this.holdLeft > 0) return;
        }
        this.best = now;
        // Re-probes alternate: down first every other time, so a knee missed by a noisy window is found again.
        this.probes++;
        if (this.limit >= this.cap || this.probes % 2 === 0) return this.down();
        this.phase = 'up';
        this.limit = up(this.limit, this.cap);
        return;
      }
      case 'up':
        if (best && now.throughput > best.throughput * Math.max(GAIN, 1 + EFFICIENCY * (now.limit / best.limit - 1))) {
          this.best = now;
          if (this.limit >= this.cap) return this.settle(this.limit);
          this.limit = up(this.limit, this.cap);
          return;
        }
        return this.down();
      case 'down':
        if (best && now.throughput >= best.throughput * LOSS) {
          // As much carried with fewer in flight: the smaller cap becomes the one to beat.
          this.best = { ...now, throughput: Math.max(now.throughput, best.throughput) };
          if (this.limit <= this.floor) return this.settle(this.limit);
          this.limit = down(this.limit, this.floor);
          return;
        }
        return this.settle(best ? best.limit : this.limit);
    }
  }

  /** A step up bought nothing (or latency rose): try below the best cap. */
  private down(): void {
    const from = this.best?.limit ?? this.limit;
    if (from <= this.floor) return this.settle(from);
    this.phase = 'down';
    this.limit = down(from, this.floor);
  }

  private settle(limit: number): void {
    this.phase = 'hold';
    this.limit = limit;
    this.holdLeft = HOLD;
    if (this.best) this.best = { ...this.best, limit };
  }
}

const up = (n: number, cap: number) => Math.min(cap, Math.max(n + 2, Math.ceil(n * 1.25)));
const down = (n: number, floor: number) => Math.max(floor, Math.min(n - 1, Math.floor(n * 0.75)));
