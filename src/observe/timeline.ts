/**
 * The run's time series, kept beside its results file as `<results>.timeline.jsonl` (owner-only,
 * no row content) so that `report` can draw rate, throttles and latency over time afterwards.
 *
 * One JSON object a line: a `start` line per run segment (a --resume appends a new segment), a point
 * every few seconds and at each rate cut or restore, a `pause` line where a pause at the instance's
 * active-task limit starts and ends, and an `end` line. Size stays bounded on a long run: the
 * interval starts at 5 s and doubles after every 1,000 points of a segment, so a 14-hour run writes
 * about 3,400 points (~450 KB) instead of 10,000. A failure to write (a full disk) turns
 * the timeline off with one warning; it never stops the run.
 */
import { closeSync, rmSync, writeSync } from 'node:fs';
import { APPEND_EXISTING, CREATE_NEW, openRegularSync, timelinePath } from '../ledger/files.js';

export { timelinePath };

import type { Logger, PauseEvent } from '../types.js';
import type { RunStats } from './stats.js';

/** A segment's first line. */
export interface TimelineStart {
  t: number;
  start: 'run' | 'resume' | 'rerun';
  /** The id of the run that wrote this segment. */
  runId?: string;
  /** The --rate ceiling and burst. */
  ceiling: number;
  burst: number;
  /** Rows already final before this segment (resume) or copied unsent (rerun, counted as they pass). */
  carried: number;
}

export interface TimelinePoint {
  /** Wall-clock time, ms since the epoch. */
  t: number;
  /** Seconds since this segment started. */
  elapsed: number;
  /** Requests the service accepted per second over the interval (created or refused, not throttled). */
  rate: number;
  /** The rate control's pace at the end of the interval, requests/s. */
  target: number;
  /** Throttled requests in the interval. */
  throttled: number;
  /** Latency of recent answers, ms. */
  p50: number | null;
  p99: number | null;
  /** Rows finished so far (carried ones included); tasks created and requests sent in this segment. */
  done: number;
  created: number;
  requests: number;
  event?: 'cut' | 'restored';
}

export interface TimelineEnd {
  t: number;
  end: 'completed' | 'interrupted';
  elapsed: number;
  created: number;
  requests: number;
  throttled: number;
  /** Why an interrupted segment stopped, when the run knows: the active-task limit held for --max-wait. */
  stopped?: 'active-task-limit';
}

/** A pause at the instance's active-task limit began (`start`) or ended (`end`): no request left between. */
export interface TimelinePause {
  t: number;
  pause: 'start' | 'end';
}

export type TimelineLine = TimelineStart | TimelinePoint | TimelineEnd | TimelinePause;

export interface TimelineSample {
  stats: RunStats;
  /** The rate control's current pace. */
  rate: number;
  /** Rows finished, carried ones included. */
  done: number;
}

const BASE_INTERVAL_MS = 5_000;
const POINTS_PER_STEP = 1_000;
/** Rate events closer together than this are not written (the next point shows them). */
const EVENT_SPACING_MS = 1_000;

export class Timeline {
  private fd: number | undefined;
  private points = 0;
  private lastAt: number;
  private lastEventAt = -Infinity;
  private last = { requests: 0, throttled: 0 };

  private constructor(
    fd: number,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.fd = fd;
    this.lastAt = now();
  }

  /**
   * A fresh run replaces a stale side file (its results file did not exist) and creates it with
   * O_EXCL; a resume appends, never following a symbolic link, and only to a regular file (a FIFO
   * there would block the run). Undefined when it cannot be opened.
   */
  static open(resultsPath: string, fresh: boolean, log: Logger, now: () => number = Date.now): Timeline | undefined {
    const path = timelinePath(resultsPath);
    try {
      if (fresh) rmSync(path, { force: true });
      let fd: number;
      try {
        fd = openRegularSync(path, fresh ? CREATE_NEW : APPEND_EXISTING, 'timeline');
      } catch (err) {
        if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== 'ENOENT') throw err;
        fd = openRegularSync(path, CREATE_NEW, 'timeline');
      }
      return new Timeline(fd, log, now);
    } catch (err) {
      const code =
        (err as { cause?: NodeJS.ErrnoException }).cause?.code ??
        (err as NodeJS.ErrnoException).code ??
        'not a regular file';
      log.warn({ path, code }, 'cannot write the run timeline; the report will lack charts');
      return undefined;
    }
  }

  begin(start: Omit<TimelineStart, 't'>): void {
    this.write({ t: this.now(), ...start });
  }

  /** Called often (every 250 ms); writes a point when the interval has passed or the pace changed. */
  tick(sample: TimelineSample, event?: TimelinePoint['event']): void {
    const t = this.now();
    const interval = BASE_INTERVAL_MS * 2 ** Math.floor(this.points / POINTS_PER_STEP);
    const due = t - this.lastAt >= interval;
    const eventDue = event !== undefined && t - this.lastEventAt >= EVENT_SPACING_MS;
    if (!due && !eventDue) return;
    if (eventDue) this.lastEventAt = t;
    this.point(sample, t, eventDue ? event : undefined);
  }

  /** A pause's start and end, at the times the run saw them (a `gave-up` is ended when the run ends). */
  pause(event: PauseEvent): void {
    if (event.kind === 'paused') this.write({ t: event.at, pause: 'start' });
    else if (event.kind === 'resumed' || event.kind === 'ended') this.write({ t: event.at, pause: 'end' });
  }

  finish(sample: TimelineSample, how: TimelineEnd['end'], stopped?: TimelineEnd['stopped']): void {
    const { stats } = sample;
    this.point(sample, this.now());
    this.write({
      t: this.now(),
      end: how,
      elapsed: round(stats.elapsedMs / 1000),
      created: stats.sentCreated,
      requests: stats.requests,
      throttled: stats.throttled,
      ...(stopped ? { stopped } : {}),
    });
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private point(sample: TimelineSample, t: number, event?: TimelinePoint['event']): void {
    const { stats } = sample;
    const seconds = Math.max(0.001, (t - this.lastAt) / 1000);
    const throttled = stats.throttled - this.last.throttled;
    const accepted = stats.requests - this.last.requests - throttled;
    const p50 = stats.recentLatency(50);
    const p99 = stats.recentLatency(99);
    this.write({
      t,
      elapsed: round(stats.elapsedMs / 1000),
      rate: round(accepted / seconds),
      target: round(sample.rate),
      throttled,
      p50: p50 === undefined ? null : Math.round(p50),
      p99: p99 === undefined ? null : Math.round(p99),
      done: sample.done,
      created: stats.sentCreated,
      requests: stats.requests,
      ...(event ? { event } : {}),
    });
    this.points++;
    this.lastAt = t;
    this.last = { requests: stats.requests, throttled: stats.throttled };
  }

  private write(line: TimelineLine): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${JSON.stringify(line)}\n`);
    } catch (err) {
      this.log.warn(
        { code: (err as NodeJS.ErrnoException).code },
        'cannot write the run timeline any more; the run goes on',
      );
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
