/**
 * What the journal says while a run goes: each row that was not created at WARN (line, status, code
 * and the broken rule or the service's reason — never a value), collapsed to a count after the
 * first few per code so that a 10,000-failure night does not flood it; the rate control's cuts
 * and restores, coalesced so that a throttling storm is a line every half minute, not every second;
 * and pauses at the instance's active-task limit.
 */

import { durationText } from '../config/settings.js';
import type { Logger, PauseEvent, RowResult } from '../types.js';
import { redactServiceMessage } from './redact.js';

/** Rows logged one by one per error code; the rest are counted. */
const ROWS_LOGGED_PER_CODE = 20;
/** Suppressed rows are summed up at most this often, and at the end. */
const SUMMARY_EVERY_MS = 60_000;
/** Cuts within this long of the last logged one are counted into the next line. */
const CUT_LOG_SPACING_MS = 30_000;

export class RowLog {
  private readonly logged = new Map<string, number>();
  private readonly pending = new Map<string, number>();
  private lastSummary: number;
  private cutsUnlogged = 0;
  private lastCutLog = -Infinity;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSummary = now();
  }

  row(result: RowResult): void {
    const code = result.errorCode ?? result.status;
    const n = (this.logged.get(code) ?? 0) + 1;
    this.logged.set(code, n);
    if (n <= ROWS_LOGGED_PER_CODE) {
      // Service messages may echo the value they refused ("Value 'Jane Doe' at 'name'…"): never into a log.
      // An invalid row's message is our own: it names the column and the rule, never the value.
      const reason =
        result.status === 'failed' && result.errorMessage
          ? redactServiceMessage(result.errorMessage)
          : result.errorMessage;
      this.log.warn({ line: result.line, status: result.status, code, reason }, 'row not created');
      if (n === ROWS_LOGGED_PER_CODE) this.log.warn({ code }, `further rows with ${code} are counted, not listed`);
      return;
    }
    this.pending.set(code, (this.pending.get(code) ?? 0) + 1);
  }

  /** The rate control changed pace: `cut` to a lower rate after a throttle, or `restored` to the ceiling. */
  rate(event: 'cut' | 'restored', rate: number, ceiling: number): void {
    const t = this.now();
    if (event === 'restored') {
      this.log.info({ rate: round(rate), ceiling }, 'rate restored to the ceiling: no more throttling');
      this.cutsUnlogged = 0;
      this.lastCutLog = -Infinity;
      return;
    }
    this.cutsUnlogged++;
    if (t - this.lastCutLog < CUT_LOG_SPACING_MS) return;
    this.log.info(
      { rate: round(rate), ceiling, cuts: this.cutsUnlogged },
      'throttled: rate cut to the free share of the quota',
    );
    this.cutsUnlogged = 0;
    this.lastCutLog = t;
  }

  /**
   * A pause at the instance's active-task limit: its start (WARN, it holds the whole run) and end
   * (INFO, with how long), and each probe's answer (INFO: a dozen lines an hour at most).
   */
  pause(event: PauseEvent): void {
    const seconds = (ms: number) => Math.round(ms / 1000);
    switch (event.kind) {
      case 'paused':
        this.log.warn(
          { nextProbeSeconds: seconds(event.nextProbeMs), maxWait: durationText(event.maxWaitMs / 1000) },
          'paused: the instance is at its active-task limit (402 ServiceQuotaExceededException); requests in ' +
            'flight finish, no new one leaves until a probe creates a task',
        );
        return;
      case 'probe':
        this.log.debug({ probe: event.probe }, 'probing the active-task limit with one request');
        return;
      case 'full':
        this.log.info(
          { probe: event.probe, pausedSeconds: seconds(event.pausedMs), nextProbeSeconds: seconds(event.nextProbeMs) },
          `still at the active-task limit: next probe in ${durationText(event.nextProbeMs / 1000)}`,
        );
        return;
      case 'resumed':
        this.log.info(
          { pausedSeconds: seconds(event.pausedMs), probes: event.probes },
          `resumed: the instance took a task again after ${durationText(event.pausedMs / 1000)} paused`,
        );
        return;
      case 'gave-up':
        this.log.warn(
          { pausedSeconds: seconds(event.pausedMs), maxWait: durationText(event.maxWaitMs / 1000) },
          event.maxWaitMs > 0
            ? `stopping: the instance's active-task limit held for ${durationText(event.maxWaitMs / 1000)} (--max-wait)`
            : 'stopping: the instance is at its active-task limit and --max-wait 0 says not to wait',
        );
        return;
      case 'ended':
        this.log.debug(
          { pausedSeconds: seconds(event.pausedMs) },
          'the run ended while paused at the active-task limit',
        );
        return;
    }
  }

  /** Sums up suppressed rows now and then; `force` at the end of the run. */
  flush(force = false): void {
    const t = this.now();
    if (!force && t - this.lastSummary < SUMMARY_EVERY_MS) return;
    this.lastSummary = t;
    for (const [code, count] of this.pending) {
      this.log.warn({ code, count }, `${count} more rows not created with ${code}`);
    }
    this.pending.clear();
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
