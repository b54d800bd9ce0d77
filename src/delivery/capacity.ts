/**
 * Waiting at the instance's active-task limit. An instance holds so many active tasks (2,500 by
 * default); past that every StartTaskContact answers 402 until agents close some. Failing each row
 * that meets it would spend the night's quota on failures, so the first such answer pauses the whole
 * run: rows in flight finish, no new request leaves, and the row refused waits with the others (same
 * ClientToken, no attempt charged). One probe — an ordinary row, through the rate limiter like any
 * request — goes at a growing interval (`probeDelay`); when one is created, sending resumes at the
 * rate control's pace. A pause that lasts `maxWaitMs` in one stretch stops the run, resumable: the
 * rows not created are left unrecorded for --resume.
 *
 * Rows pass the gate twice: `wait` before they queue for the limiter (a paused run holds them here,
 * where they take no slot), and `mayLeave` at the moment of sending (a row that queued before the
 * pause began turns back without sending, and the token it took is not spent on the service).
 */
import { durationText } from '../config/settings.js';
import type { RunStats } from '../observe/stats.js';
import type { PauseEvent, SendOutcome } from '../types.js';

/** The first probe's wait, and the longest between two, ms. */
const FIRST_PROBE_MS = 5_000;
const MAX_PROBE_MS = 300_000;

/**
 * How long to wait before probe `n` (0 = the first) of one pause: from `firstMs`, doubling, at most
 * `maxMs` — 5 s, 10 s, 20 s … 5 min, then every 5 min. A limit that clears in seconds is found in
 * seconds; a full instance for hours costs a dozen requests an hour.
 */
export function probeDelay(n: number, firstMs = FIRST_PROBE_MS, maxMs = MAX_PROBE_MS): number {
  return Math.min(maxMs, firstMs * 2 ** Math.min(n, 30));
}

export interface CapacityOptions {
  stats: RunStats;
  /** How long one pause may last before the run stops, ms; 0: stop at the first answer at the limit. */
  maxWaitMs: number;
  /** The first probe's wait, ms (the schedule doubles from it up to MAX_PROBE_MS). */
  firstProbeMs?: number;
  /** Stops the run (resumable); `reason` is the summary's "stopped: …". */
  stop(reason: string): void;
  now?: () => number;
}

/** One row's standing at the gate across its attempts (which row holds the probe). */
export type Pass = object;

interface Waiter {
  pass: Pass;
  resolve(): void;
  reject(reason: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class CapacityGate {
  /** Told of every pause, probe and resume (the observer logs them and writes the timeline). */
  onEvent?: (event: PauseEvent) => void;
  private paused = false;
  private since = 0;
  /** Probes of this pause answered at the limit. */
  private probes = 0;
  /** The row sending the current probe (until it is answered at the limit or created, or the row ends). */
  private probe: Pass | undefined;
  /** A probe may leave: its wait is over and no row took it yet. */
  private due = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly waiters: Waiter[] = [];
  /** Pauses ended so far, and in which of those stretches each row's last request left. */
  private resumes = 0;
  private readonly leftAfter = new WeakMap<Pass, number>();
  private readonly now: () => number;
  private readonly firstProbeMs: number;
  private stopped = false;

  constructor(private readonly options: CapacityOptions) {
    this.now = options.now ?? Date.now;
    this.firstProbeMs = options.firstProbeMs ?? FIRST_PROBE_MS;
  }

  /** Resolves when this row may queue to be sent: at once unless paused, or when it is handed the probe. */
  wait(pass: Pass, signal?: AbortSignal): Promise<void> {
    if (!this.paused || this.probe === pass) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { pass, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i !== -1) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      this.handOut();
    });
  }

  /** Asked at the moment of sending: false while paused, for every row but the probe's. */
  mayLeave(pass: Pass): boolean {
    if (this.paused && this.probe !== pass) return false;
    this.leftAfter.set(pass, this.resumes);
    if (this.paused) this.onEvent?.({ kind: 'probe', probe: this.probes + 1 });
    return true;
  }

  /** Every answer, with the row it came for: starts a pause, or ends it when the probe was created. */
  answered(outcome: SendOutcome, pass: Pass): void {
    if (outcome.kind === 'capacity') {
      // A request that left before the last pause ended speaks of the instance before the probe's
      // task: the row goes again, and only a fresh answer at the limit pauses the run.
      if (!this.paused) return this.leftAfter.get(pass) === this.resumes ? this.pause() : undefined;
      if (this.probe !== pass) return; // sent before the pause began
      this.probe = undefined;
      this.probes++;
      const next = probeDelay(this.probes, this.firstProbeMs);
      this.onEvent?.({ kind: 'full', probe: this.probes, pausedMs: this.now() - this.since, nextProbeMs: next });
      this.schedule(next);
      return;
    }
    // A task created by the probe: the instance has room again. Answers to rows sent before the pause
    // say nothing of now; a throttle or a 5xx says nothing of the limit (the probe goes again).
    if (outcome.kind === 'created' && this.paused && this.probe === pass) this.resume();
  }

  /** The row is done with the gate (recorded, or the run stopped): the probe it held goes to another. */
  leave(pass: Pass): void {
    if (this.probe !== pass) return;
    this.probe = undefined;
    if (this.paused) {
      this.due = true;
      this.handOut();
    }
  }

  /** The run is over: timers cleared, an open pause closed. */
  close(): void {
    this.stopped = true;
    this.clearTimers();
    if (this.paused) {
      const at = this.now();
      this.paused = false;
      this.options.stats.pauseEnded(at);
      this.onEvent?.({ kind: 'ended', at, pausedMs: at - this.since });
    }
  }

  private pause(): void {
    if (this.stopped) return;
    const at = this.now();
    this.paused = true;
    this.since = at;
    this.probes = 0;
    this.probe = undefined;
    this.due = false;
    this.options.stats.pauseBegan(at);
    const { maxWaitMs } = this.options;
    const first = probeDelay(0, this.firstProbeMs);
    this.onEvent?.({ kind: 'paused', at, nextProbeMs: first, maxWaitMs });
    if (maxWaitMs <= 0) return this.giveUp();
    this.waitTimer = setTimeout(() => this.giveUp(), maxWaitMs);
    this.schedule(first);
  }

  private resume(): void {
    const at = this.now();
    this.clearTimers();
    this.paused = false;
    this.probe = undefined;
    this.due = false;
    this.resumes++;
    this.options.stats.pauseEnded(at);
    this.onEvent?.({ kind: 'resumed', at, pausedMs: at - this.since, probes: this.probes + 1 });
    for (const w of this.waiters.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
  }

  private giveUp(): void {
    if (!this.paused || this.stopped) return;
    const at = this.now();
    const { maxWaitMs } = this.options;
    this.clearTimers();
    this.onEvent?.({ kind: 'gave-up', at, pausedMs: at - this.since, maxWaitMs });
    // The waiters are released by the run's stop signal: each rejects, unrecorded, for --resume.
    this.options.stop(
      maxWaitMs <= 0
        ? 'the instance is at its active-task limit, and --max-wait 0 says not to wait'
        : `the instance's active-task limit held for ${durationText(maxWaitMs / 1000)} (--max-wait)`,
    );
  }

  private schedule(ms: number): void {
    clearTimeout(this.probeTimer);
    this.due = false;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      this.due = true;
      this.handOut();
    }, ms);
  }

  /** Hands the probe to the longest-waiting row, when one is due and nobody holds it. */
  private handOut(): void {
    if (!this.due || this.probe !== undefined || !this.waiters.length) return;
    const w = this.waiters.shift()!;
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    this.due = false;
    this.probe = w.pass;
    w.resolve();
  }

  private clearTimers(): void {
    clearTimeout(this.probeTimer);
    clearTimeout(this.waitTimer);
    this.probeTimer = undefined;
    this.waitTimer = undefined;
  }
}
