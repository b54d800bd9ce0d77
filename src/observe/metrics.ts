/**
 * `--metrics-file`: the run's figures in the Prometheus text format, for node_exporter's textfile
 * collector (the convention for batch jobs: a `.prom` file that the job rewrites and node_exporter
 * serves). Rewritten whole about every second while the run goes and once at its end, each time
 * through a temporary file renamed into place, so a scrape never reads half a file.
 *
 * No row content, and no label that grows without bound: the figures carry one label, `loader_job`
 * (the file's name less `.prom`: two jobs on one host write two files, and node_exporter refuses
 * the same series from two files), plus `status`, `outcome` or `quantile` where they say which. The
 * run id is on one info series only, `connect_task_loader_run_info{run_id,input,command} 1`: a run
 * id on every figure would start a new set of series every night, and alert rules would have to
 * ignore it. The input is named by its file name only (a name, never a cell value).
 *
 * The last success survives the runs after it: it is read back from the file a run replaces, and
 * only a run that ends with every row created moves it (to the time it ended). A write that fails
 * (a full disk, the folder gone) never stops the run: one warning, and the next second tries again.
 */
import { basename } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { openRegular, READ } from '../ledger/files.js';
import { writeReadableOutput } from '../ledger/outputs.js';
import type { Logger } from '../types.js';
import { RateWindow } from './rate-window.js';
import type { RunStats } from './stats.js';

/** How a run stands, as `connect_task_loader_outcome{outcome="…"}`: 1 for the current one, 0 for each other. */
export const OUTCOMES = [
  /** Still going (a run killed outright leaves this behind: its last update stops moving). */
  'running',
  /** Every row of the results file is created or filtered (exit 0): the only outcome that is a success. */
  'completed',
  /** Finished, and some rows failed or are invalid (exit 1). */
  'failed_rows',
  /** The input broke off mid-file (an unclosed quote): the rows before it were processed (exit 1). */
  'input_broken',
  /** Stopped after a clean drain by a signal, --deadline, --max-failures or --max-wait (exit 3): --resume finishes it. */
  'interrupted',
  /** Stopped because no row could succeed: credentials refused, or the endpoint unreachable (exit 2 or 3). */
  'stopped',
  /** Failed after it started: the results file could not be written, or a bug (exit 3 or 70). */
  'error',
  /** A dry run ended: nothing was sent (rows are `planned` or `invalid`). */
  'dry_run',
] as const;
export type MetricsOutcome = (typeof OUTCOMES)[number];

/** One write of the file, as plain figures: rendering is a pure function of them. */
export interface MetricsFigures {
  /** The `loader_job` label of every series. */
  job: string;
  runId: string;
  /** The input's file name (`-` for standard input); for a rerun, the results file it reads. */
  input: string;
  command: string;
  outcome: MetricsOutcome;
  /** Rows of the results file by status, rows carried over from an earlier run included. */
  rows: Readonly<Record<string, number>>;
  carried: number;
  requests: number;
  throttles: number;
  retries: number;
  serverErrors: number;
  unknownOutcomes: number;
  pauses: number;
  paused: boolean;
  /** Tasks created per second by this run; the rate control's pace; the --rate ceiling (requests/s). */
  createdPerSecond: number;
  targetRate: number;
  ceilingRate: number;
  /** Milliseconds; absent before any answer. */
  latencyMs: { p50?: number; p99?: number };
  /** Milliseconds since the epoch. */
  startedAt: number;
  updatedAt: number;
  /** When a run of this job last ended with every row created (ms since the epoch); undefined: never. */
  lastSuccess: number | undefined;
}

const PREFIX = 'connect_task_loader_';
const LAST_SUCCESS = `${PREFIX}last_success_timestamp_seconds`;

/** The figures in the Prometheus text exposition format (version 0.0.4), from a registry of their own. */
export async function renderMetrics(f: MetricsFigures): Promise<string> {
  const registry = new Registry();
  registry.setDefaultLabels({ loader_job: f.job });
  const registers = [registry];
  const gauge = (name: string, help: string, value: number) =>
    new Gauge({ name: PREFIX + name, help, registers }).set(value);
  const counter = (name: string, help: string, value: number) =>
    new Counter({ name: PREFIX + name, help, registers }).inc(value);
  const seconds = (ms: number) => Math.round(ms) / 1000;

  new Gauge({
    name: `${PREFIX}run_info`,
    help: 'The run these figures are of: its id, its input file name and its command (always 1).',
    labelNames: ['run_id', 'input', 'command'],
    registers,
  }).set({ run_id: f.runId, input: f.input, command: f.command }, 1);
  const outcome = new Gauge({
    name: `${PREFIX}outcome`,
    help: 'How the run stands: 1 for the current outcome, 0 for the others.',
    labelNames: ['outcome'],
    registers,
  });
  for (const o of OUTCOMES) outcome.set({ outcome: o }, o === f.outcome ? 1 : 0);
  const rows = new Gauge({
    name: `${PREFIX}rows`,
    help: 'Rows of the results file by status, rows carried over from an earlier run included.',
    labelNames: ['status'],
    registers,
  });
  for (const [status, n] of Object.entries(f.rows)) rows.set({ status }, n);
  gauge('rows_carried', 'Rows not sent by this run: final in the results file before it (--resume, rerun).', f.carried);
  counter('requests_total', 'StartTaskContact requests sent by this run.', f.requests);
  counter('throttles_total', 'Requests of this run answered with a throttle (429), and sent again.', f.throttles);
  counter('retries_total', 'Requests of this run sent again after a 5xx answer, a timeout or a reset.', f.retries);
  counter('server_errors_total', 'Answers with a 5xx status (the service or a proxy) to this run.', f.serverErrors);
  counter(
    'unknown_outcomes_total',
    'Requests of this run that got no answer (timeout, reset): sent again with the same ClientToken.',
    f.unknownOutcomes,
  );
  counter(
    'capacity_pauses_total',
    'Times this run paused sending because the instance was at its active-task limit.',
    f.pauses,
  );
  gauge('paused', 'Whether the run is paused now at the active-task limit (1) or not (0).', f.paused ? 1 : 0);
  gauge(
    'created_per_second',
    'Tasks created per second by this run: over the last 20 s while it runs, over the whole run at its end.',
    f.createdPerSecond,
  );
  gauge('target_requests_per_second', 'The pace the rate control is at, requests per second.', f.targetRate);
  gauge('ceiling_requests_per_second', 'The --rate ceiling, requests per second.', f.ceilingRate);
  const latency = Object.entries({ '0.5': f.latencyMs.p50, '0.99': f.latencyMs.p99 }).filter(
    (e): e is [string, number] => e[1] !== undefined,
  );
  if (latency.length) {
    const g = new Gauge({
      name: `${PREFIX}latency_seconds`,
      help: 'Request latency by quantile: of the latest answers while the run goes, of the whole run at its end.',
      labelNames: ['quantile'],
      registers,
    });
    for (const [quantile, ms] of latency) g.set({ quantile }, seconds(ms));
  }
  gauge('start_timestamp_seconds', 'When this run started, seconds since the epoch.', seconds(f.startedAt));
  gauge('last_update_timestamp_seconds', 'When this file was written, seconds since the epoch.', seconds(f.updatedAt));
  gauge(
    'last_success_timestamp_seconds',
    'When a run of this job last ended with every row created, seconds since the epoch (0: never).',
    f.lastSuccess === undefined ? 0 : seconds(f.lastSuccess),
  );
  return registry.metrics();
}

/** The `loader_job` label of a metrics file: its name less `.prom`. */
export function metricsJob(path: string): string {
  return basename(path).replace(/\.prom$/, '');
}

/** The last success a metrics file records (ms since the epoch), or undefined: none, unreadable, or never. */
export async function lastSuccessIn(path: string): Promise<number | undefined> {
  let text: string;
  try {
    const handle = await openRegular(path, READ, 'metrics file');
    try {
      const buffer = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
  const m = new RegExp(`^${LAST_SUCCESS}(?:\\{.*\\})?[ \\t]+(\\S+)`, 'm').exec(text);
  const value = Number(m?.[1]);
  return Number.isFinite(value) && value > 0 ? value * 1000 : undefined;
}

export interface MetricsTarget {
  path: string;
  runId: string;
  /** The run's input as given (`-` for standard input). */
  input: string;
  command: string;
  /** The --rate ceiling, requests/s. */
  ceiling: number;
  log: Logger;
  /** Throws when the run may no longer write (another run took its results file over): nothing is written then. */
  guard?: () => void;
  now?: () => number;
  /** Least time between two writes while the run goes. */
  everyMs?: number;
}

/** How a run ended, for its last write. */
export interface MetricsEnd {
  outcome: MetricsOutcome;
  /** The rows, when no counters were watched (a run that found its input already done). */
  rows?: Readonly<Record<string, number>>;
  carried?: number;
  /** The whole run's figures (the summary's), in place of the recent ones. */
  createdPerSecond?: number;
  latencyMs?: { p50: number | null; p99: number | null };
  /** Set when this run is a success: when that success happened (ms since the epoch). */
  successAt?: number;
}

const EVERY_MS = 1_000;

export class MetricsFile {
  private stats: RunStats | undefined;
  private pace: () => number = () => 0;
  private readonly window = new RateWindow();
  private recentCreated = 0;
  private lastWriteAt = -Infinity;
  private writing: Promise<void> | undefined;
  private finished = false;
  private failing = false;
  private readonly now: () => number;
  private readonly startedAt: number;

  private constructor(
    private readonly target: MetricsTarget,
    private lastSuccess: number | undefined,
  ) {
    this.now = target.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** Reads the last success the file holds now (the run before this one's), to keep it. */
  static async open(target: MetricsTarget): Promise<MetricsFile> {
    return new MetricsFile(target, await lastSuccessIn(target.path));
  }

  /** From now on the figures are these counters' and this pace's; written at once. */
  watch(stats: RunStats, pace: () => number): void {
    this.stats = stats;
    this.pace = pace;
    this.tick();
  }

  /** Called on every beat of the run (every 250 ms): written when a second has passed and no write is under way. */
  tick(): void {
    const { stats } = this;
    if (this.finished || !stats) return;
    const t = this.now();
    this.recentCreated = this.window.add(t, stats.sentCreated, 0).created;
    if (this.writing || t - this.lastWriteAt < (this.target.everyMs ?? EVERY_MS)) return;
    this.lastWriteAt = t;
    const figures = this.figures({ outcome: 'running' });
    this.writing = this.write(figures, false).finally(() => {
      this.writing = undefined;
    });
  }

  /** Resolves once the write under way, if any, is done. */
  idle(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  /** The last write: how the run ended. Never throws; later ticks write nothing. */
  async finish(end: MetricsEnd): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.idle();
    this.lastSuccess = latest(this.lastSuccess, end.successAt);
    await this.write(this.figures(end), true);
  }

  private figures(end: MetricsEnd): MetricsFigures {
    const { stats, target } = this;
    const latency = (p: number) => stats?.recentLatency(p);
    const final = end.latencyMs;
    return {
      job: metricsJob(target.path),
      runId: target.runId,
      input: target.input === '-' ? '-' : basename(target.input),
      command: target.command,
      outcome: end.outcome,
      rows: end.rows ?? stats?.rows ?? {},
      carried: end.carried ?? stats?.skipped ?? 0,
      requests: stats?.requests ?? 0,
      throttles: stats?.throttled ?? 0,
      retries: stats?.retries ?? 0,
      serverErrors: stats?.serverErrors ?? 0,
      unknownOutcomes: stats?.unknownOutcomes ?? 0,
      pauses: stats?.pauses ?? 0,
      paused: stats?.pausedSince !== undefined,
      createdPerSecond: end.createdPerSecond ?? this.recentCreated,
      targetRate: this.pace(),
      ceilingRate: target.ceiling,
      latencyMs: final
        ? { p50: final.p50 ?? undefined, p99: final.p99 ?? undefined }
        : { p50: latency(50), p99: latency(99) },
      startedAt: this.startedAt,
      updatedAt: this.now(),
      lastSuccess: this.lastSuccess,
    };
  }

  private async write(figures: MetricsFigures, last: boolean): Promise<void> {
    const { path, log, guard } = this.target;
    try {
      guard?.();
    } catch {
      return; // another run owns the results file now, and writes its own figures
    }
    // Another job's run may have written the file since this one last did (one file for two jobs is
    // a mistake, but its last success must not go back in time because of it): every write keeps
    // the latest of this run's and the file's.
    this.lastSuccess = latest(this.lastSuccess, await lastSuccessIn(path));
    try {
      await writeReadableOutput(path, await renderMetrics({ ...figures, lastSuccess: this.lastSuccess }), last);
      if (this.failing) log.info({ path }, 'the metrics file is written again');
      this.failing = false;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (last) log.warn({ path, code }, 'cannot write the final metrics: the file still holds an earlier write');
      else if (!this.failing)
        log.warn({ path, code }, 'cannot write the metrics file; the run goes on, and tries again every second');
      this.failing = true;
    }
  }
}

function latest(...times: (number | undefined)[]): number | undefined {
  const known = times.filter((t): t is number => t !== undefined);
  return known.length ? Math.max(...known) : undefined;
}
