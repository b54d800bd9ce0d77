/**
 * What a run tells its operator while it goes, in one place: counters of records read and finished
 * (for progress, by rows and by input bytes), the journal of rows not created, of rate changes and of
 * pauses at the active-task limit (row-log.ts), and the timeline side file the report draws from
 * (timeline.ts). No row content.
 */
import type { Job } from '../input/prepare.js';
import type { Ledger } from '../ledger/reader.js';
import type { Limiter } from '../rate/limiter.js';
import type { InputRecord, Logger, PauseEvent, RowResult, RowStatus } from '../types.js';
import type { MetricsFile } from './metrics.js';
import { RowLog } from './row-log.js';
import type { RunStats } from './stats.js';
import { Timeline, type TimelineEnd, type TimelineSample } from './timeline.js';

/** What a run reports to its caller as it goes (the CLI draws its progress line from it). */
export interface Progress {
  stats: RunStats;
  rate: number;
  concurrency: number;
  /** Input bytes up to the furthest finished record, and the input's size when known. */
  bytesDone: number;
  totalBytes: number | undefined;
  /** The --rate ceiling, requests/s (`rate` is the pace the rate control is at). */
  ceiling: number;
  /** Records read and input bytes read so far; once `readDone`, `rowsRead` is the input's row count. */
  rowsRead: number;
  readBytes: number;
  readDone: boolean;
  dryRun: boolean;
}

/** The parts of the run's wiring the observer reads: counters, the pace, the in-flight window, pauses. */
export interface Observed {
  stats: RunStats;
  rate: Limiter;
  /** Undefined on a dry run (nothing is sent, so there is no timeline). */
  dispatcher: unknown;
  /** Pauses at the instance's active-task limit; undefined on a dry run. */
  capacity?: { onEvent?: (event: PauseEvent) => void };
  concurrency(): number;
}

export interface ObservedRun {
  runId: string;
  /** The --rate ceiling (requests/s) and burst. */
  ceiling: number;
  burst: number;
  dryRun: boolean;
  onProgress?: (p: Progress) => void;
  resultsPath: string;
  ledger: Ledger | undefined;
  rerun: boolean;
  log: Logger;
  /** The input's size, when it is a plain file. */
  totalBytes: number | undefined;
  /** `--metrics-file`: rewritten as the run goes. */
  metrics?: MetricsFile;
}

export class RunObserver {
  /** Input bytes up to the furthest finished record. */
  private doneBytes = 0;
  private readRows = 0;
  private readBytes = 0;
  private readDone = false;
  private readonly rowLog: RowLog;
  private readonly timeline: Timeline | undefined;

  constructor(
    private readonly run: ObservedRun,
    private readonly w: Observed,
  ) {
    const { resultsPath, ledger, log } = run;
    this.rowLog = new RowLog(log);
    // Nothing is sent on a dry run, so there is no time series to keep.
    this.timeline = w.dispatcher ? Timeline.open(resultsPath, !ledger, log) : undefined;
    this.timeline?.begin({
      start: run.rerun ? 'rerun' : ledger ? 'resume' : 'run',
      runId: run.runId,
      ceiling: run.ceiling,
      burst: run.burst,
      carried: ledger?.final.size ?? 0,
    });
    w.rate.onChange = (event, rate) => {
      this.rowLog.rate(event, rate, run.ceiling);
      this.timeline?.tick(this.sample(), event);
    };
    if (w.capacity)
      w.capacity.onEvent = (event) => {
        this.rowLog.pause(event);
        this.timeline?.pause(event);
      };
    run.metrics?.watch(w.stats, () => w.rate.currentRate);
  }

  /** A record came off the input (before it is prepared). */
  read(record: InputRecord): void {
    this.readRows++;
    this.readBytes = Math.max(this.readBytes, record.endByte ?? 0);
  }

  /** The input has been read to its end. */
  endOfInput(): void {
    this.readDone = true;
  }

  /** Whether the input was read to its end (every record of it was taken). */
  get inputDone(): boolean {
    return this.readDone;
  }

  /**
   * A row already final in the results file (--resume): counted under its status, not sent. A
   * filtered one is counted under the condition that leaves it out now (the run's filter is the
   * earlier run's: its identity says so).
   */
  carried(job: Job, status: RowStatus): void {
    this.w.stats.recordRow(status, true, job.result?.status === 'filtered' ? job.result.errorMessage : undefined);
    this.doneBytes = Math.max(this.doneBytes, job.record.endByte ?? 0);
  }

  /**
   * A row written to the results file: counted, and logged when it should have been created and was
   * not (never its content). A filtered row was never meant to be: it is counted, not logged.
   */
  recorded(job: Job, result: RowResult): void {
    const { stats } = this.w;
    this.doneBytes = Math.max(this.doneBytes, job.record.endByte ?? 0);
    stats.recordRow(result.status, job.carried === true, result.errorMessage);
    if (job.carried || result.status === 'created' || result.status === 'planned' || result.status === 'filtered')
      return;
    this.rowLog.row(result);
  }

  /** Every ticker beat: a timeline point and a metrics write when due, suppressed-row counts now and then, progress. */
  tick(): void {
    const { w, run } = this;
    this.timeline?.tick(this.sample());
    run.metrics?.tick();
    this.rowLog.flush();
    run.onProgress?.({
      stats: w.stats,
      rate: w.rate.currentRate,
      ceiling: run.ceiling,
      concurrency: w.concurrency(),
      bytesDone: this.doneBytes,
      totalBytes: run.totalBytes,
      rowsRead: this.readRows,
      readBytes: this.readBytes,
      readDone: this.readDone,
      dryRun: run.dryRun,
    });
  }

  /** `stopped`: why an interrupted run stopped, when the timeline should say (the active-task limit held). */
  finish(outcome: 'completed' | 'interrupted', stopped?: TimelineEnd['stopped']): void {
    this.tick();
    this.rowLog.flush(true);
    this.timeline?.finish(this.sample(), outcome, stopped);
  }

  private sample(): TimelineSample {
    return { stats: this.w.stats, rate: this.w.rate.currentRate, done: rowsDone(this.w.stats) };
  }
}

const rowsDone = (stats: RunStats) =>
  stats.rows.created + stats.rows.failed + stats.rows.invalid + stats.rows.filtered + stats.rows.planned;
