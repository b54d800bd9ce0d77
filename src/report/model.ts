/**
 * The report's model of one results file: counts by status, failures by error code and invalid rows
 * by rule (each with a few example lines), the run's time span, rate, throttles and pauses at the
 * active-task limit from its timeline side file, and the next command. The results file is streamed:
 * memory holds counts and a few examples, never the rows, whatever the file's size. Row content is
 * never read into the model: only the `Result.*` cells.
 */
import { basename } from 'node:path';
import { Parser } from 'csv-parse';
import { InputError } from '../errors.js';
import { recordedCondition } from '../input/filter.js';
import { openRegular, READ } from '../ledger/files.js';
import { earlierResults } from '../ledger/reader.js';
import { type RunEntry, type RunState, readState } from '../ledger/state.js';
import { readStopRows, readStopState, STOP_DONE, stopResultsPath } from '../ledger/stops.js';
import { RESULT_COLUMNS } from '../ledger/writer.js';
import { redactServiceMessage } from '../observe/redact.js';
import {
  type TimelineEnd,
  type TimelineLine,
  type TimelinePause,
  type TimelinePoint,
  type TimelineStart,
  timelinePath,
} from '../observe/timeline.js';
import type { FailureLimitStop } from '../types.js';
import { type Group, GroupCounter, type Other } from './groups.js';
import { type NextStep, nextStep } from './next-step.js';
import { rulesOf } from './rule-text.js';

export { type Group, type Other, SHOWN } from './groups.js';

interface RunFigures {
  /** First and last moment the timeline recorded, ISO. */
  from: string;
  to: string;
  /** Seconds spent sending, over every segment (a gap between an interruption and its resume is not counted). */
  activeSeconds: number;
  /** Segments: the run, then one per --resume. */
  segments: TimelineStart['start'][];
  /** Tasks created and requests sent by the runs themselves (rows carried over excluded). */
  created: number;
  requests: number;
  throttled: number;
  /** created / activeSeconds. */
  achievedRate: number;
  ceiling: number;
  /** Median of the intervals' p50 and worst interval p99, ms. */
  p50: number | null;
  p99: number | null;
}

export interface FileReport {
  file: string;
  rows: { total: number; created: number; failed: number; invalid: number; filtered: number; planned: number };
  /** The largest groups (at most SHOWN each), largest first; `…Other` sums the rows of the groups not listed. */
  failures: Group[];
  invalid: Group[];
  /** Filtered rows by the condition that left them out (`where[1]: …`). */
  filtered: Group[];
  failuresOther?: Other;
  invalidOther?: Other;
  filteredOther?: Other;
  /** From `<results>.run.json`, when present. */
  input?: string;
  startedAt?: string;
  completedAt?: string;
  /** The runs that wrote the file (the run, then each --resume), by id, oldest first. */
  runs?: RunEntry[];
  completed: boolean;
  dryRun: boolean;
  /** Set when the run stopped taking rows at its failure limit (and was not finished since). */
  failureLimit?: FailureLimitStop;
  run?: RunFigures;
  /** The timeline's points (for charts); empty without a side file. */
  series: TimelinePoint[];
  /**
   * Pauses at the instance's active-task limit, from the timeline: how many, their time in all (s),
   * when the first began (ISO), and each span (ms since the epoch), for the charts.
   */
  pauses?: { count: number; seconds: number; firstAt: string; spans: PauseSpan[] };
  next?: NextStep;
  /** Set when the file no longer holds the rows its run recorded (edited since): it is not a whole record. */
  mismatch?: string;
  /** 0 every row created · 1 some failed or invalid, or rows missing · 3 the run did not complete (resume it). */
  exitCode: number;
  /** What `stop` did to the created tasks, when a stop file (`<results>.stop.csv`) is beside the file. */
  stops?: StopFigures;
}

export interface StopFigures {
  file: string;
  /** Rows by their last stop: stopped, found already ended, failed, skipped. */
  stopped: number;
  alreadyEnded: number;
  failed: number;
  skipped: number;
  /** Created tasks no longer active by a stop (stopped or already ended). */
  done: number;
  /** False while the stop did not finish (resume it). */
  completed: boolean;
}

/** The stop file of a results file, counted; undefined when there is none (or it cannot be read). */
async function stopFigures(path: string): Promise<StopFigures | undefined> {
  try {
    const state = await readStopState(path);
    if (!state) return undefined;
    const { byLine } = await readStopRows(path, { repair: false });
    const figures: StopFigures = {
      file: path,
      stopped: 0,
      alreadyEnded: 0,
      failed: 0,
      skipped: 0,
      done: 0,
      completed: state.outcome === 'completed',
    };
    for (const row of byLine.values()) {
      if (row.status === 'stopped') figures.stopped++;
      else if (row.status === 'already-ended') figures.alreadyEnded++;
      else if (row.status === 'skipped') figures.skipped++;
      else figures.failed++;
      if (STOP_DONE.has(row.status)) figures.done++;
    }
    return figures;
  } catch {
    return undefined;
  }
}

/** `stopFile`: where the stop file is when not beside `file` (a working copy of one in S3). */
export async function buildReport(file: string, stopFile = stopResultsPath(file)): Promise<FileReport> {
  const state = await readState(file).catch(() => undefined);
  const counts = await readResultsFile(file);
  const series = await readTimeline(file);
  const stops = await stopFigures(stopFile);
  // Without its run state nothing says the run finished: rows it never reached would not be in the file.
  const completed = Boolean(state?.completedAt);
  const { failed, invalid } = counts.rows;
  const failureLimit = completed ? undefined : state?.failureLimit;
  const report: FileReport = {
    file,
    ...counts,
    ...stateFacts(state),
    completed,
    dryRun: state?.dryRun ?? counts.rows.planned > 0,
    ...(failureLimit ? { failureLimit } : {}),
    run: figures(series),
    series: series.points,
    ...(series.pauses.length ? { pauses: pauseFigures(series.pauses) } : {}),
    next: nextStep({
      results: file,
      input: state?.input,
      rerunOf: state?.rerunOf,
      completed,
      dryRun: state?.dryRun,
      failed,
      invalid,
      inputBroken: state?.outcome === 'input-broken',
      ...(failureLimit ? { failureLimit } : {}),
      atLimit: stoppedAtLimit(series),
      ...(state ? { replay: state.options, needs: state.needs ?? [] } : {}),
    }),
    // A run that did not finish says 3, as the run itself did, whatever its rows say so far; one whose
    // input broke off finished what it could read, and said 1.
    exitCode:
      state && !completed && state.outcome !== 'input-broken' ? 3 : failed + invalid > 0 ? 1 : completed ? 0 : 3,
    ...(stops ? { stops } : {}),
  };
  if (!state) {
    report.mismatch =
      `no run state (${basename(file)}.run.json) beside it: nothing says whether its run finished, so rows it ` +
      `never reached may be missing`;
    // Rows failed or invalid already say "not done" (1); all created cannot say "done" (3).
    if (report.exitCode === 0) report.exitCode = 3;
    report.next = {
      why:
        'send the input again into a new results file, with the settings and --token-namespace its run used: rows ' +
        'already created keep their ClientTokens and are not created twice',
    };
  }
  const recorded = state?.rows?.total;
  const held = counts.rows.created + failed + invalid + counts.rows.filtered + counts.rows.planned;
  if (completed && recorded !== undefined && recorded !== held) {
    // Rows deleted (or added) by hand: "all created" would be about the rows left, not the run.
    report.mismatch =
      `the file holds ${held} rows, but its run recorded ${recorded}: rows ` +
      `were ${held < recorded ? 'removed' : 'added'} since`;
    report.exitCode = Math.max(report.exitCode, 1);
  }
  return report;
}

function stateFacts(state: RunState | undefined): Pick<FileReport, 'input' | 'startedAt' | 'completedAt' | 'runs'> {
  if (!state) return {};
  const runs = Array.isArray(state.runs) ? state.runs.filter(isRunEntry) : [];
  return {
    input: state.input,
    startedAt: state.startedAt,
    ...(state.completedAt ? { completedAt: state.completedAt } : {}),
    ...(runs.length ? { runs } : {}),
  };
}

/** A run entry as a run writes it: a state edited by hand is read, its damaged entries are not shown. */
function isRunEntry(e: unknown): e is RunEntry {
  const o = e as Partial<Record<keyof RunEntry, unknown>> | null;
  return typeof o === 'object' && o !== null && typeof o.runId === 'string' && typeof o.outcome === 'string';
}

/** An invalid row's rules: the same grouping as `validate`'s problems by rule. */

type Counts = Pick<
  FileReport,
  'rows' | 'failures' | 'invalid' | 'filtered' | 'failuresOther' | 'invalidOther' | 'filteredOther'
>;

async function readResultsFile(file: string): Promise<Counts> {
  const rows = { total: 0, created: 0, failed: 0, invalid: 0, filtered: 0, planned: 0 };
  const failures = new GroupCounter();
  const invalid = new GroupCounter();
  const filtered = new GroupCounter();
  let read: ((values: string[]) => ReturnType<ReturnType<typeof earlierResults>>) | undefined;
  // A folder, FIFO or link in its place is refused, never read or waited on.
  const handle = await openRegular(file, READ, 'results file');
  const parser = handle
    .createReadStream()
    .pipe(new Parser({ relax_column_count: true, record_delimiter: ['\r\n', '\n'], bom: true }));
  try {
    for await (const values of parser as AsyncIterable<string[]>) {
      if (!read) {
        if (values.slice(-RESULT_COLUMNS.length).join() !== RESULT_COLUMNS.join()) {
          throw new InputError(
            `${file} is not a results file of this tool (its last columns must be ${RESULT_COLUMNS.join(', ')})`,
          );
        }
        read = earlierResults(values, file);
        continue;
      }
      const r = read(values);
      rows.total++;
      if (r.status in rows && r.status !== ('total' as string)) rows[r.status]++;
      // Service messages may echo the value they refused ("Value 'Jane Doe' at 'name'…"): never shown.
      // Grouped by code: the message (it varies row by row) is only the first row's, redacted.
      if (r.status === 'failed')
        failures.add(r.errorCode ?? '(no code)', r.line, () => r.errorMessage && redactServiceMessage(r.errorMessage));
      if (r.status === 'invalid') for (const rule of new Set(rulesOf(r.errorMessage))) invalid.add(rule, r.line);
      if (r.status === 'filtered') filtered.add(recordedCondition(r.errorMessage), r.line);
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new InputError(`cannot read ${file}: ${e.code ?? e.message}`, { cause: err });
  } finally {
    await handle.close();
  }
  if (!read) throw new InputError(`${file} is empty: it holds no results header`);
  const f = failures.result();
  const i = invalid.result();
  const w = filtered.result();
  return {
    rows,
    failures: f.groups,
    invalid: i.groups,
    filtered: w.groups,
    ...(f.other ? { failuresOther: f.other } : {}),
    ...(i.other ? { invalidOther: i.other } : {}),
    ...(w.other ? { filteredOther: w.other } : {}),
  };
}

interface Series {
  starts: TimelineStart[];
  points: TimelinePoint[];
  /** The segment (run or resume, by its start) each point belongs to: each counts from zero. */
  segmentOf: number[];
  ends: TimelineEnd[];
  /** Pauses at the active-task limit, closed: one left open (a crash) ends at the segment's last time. */
  pauses: PauseSpan[];
}

/** A pause at the active-task limit, from and to (ms since the epoch). */
export interface PauseSpan {
  from: number;
  to: number;
}

/**
 * The side file, if any. A line that is not one the run writes — torn by a crash, edited, damaged —
 * is skipped; a side file that is not a regular file (a FIFO would block) is not read.
 */
async function readTimeline(file: string): Promise<Series> {
  const series: Series = { starts: [], points: [], segmentOf: [], ends: [], pauses: [] };
  let text: string;
  try {
    const handle = await openRegular(timelinePath(file), READ, 'timeline');
    try {
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return series;
  }
  let open: number | undefined;
  let last = 0;
  const close = (to: number) => {
    if (open !== undefined) series.pauses.push({ from: open, to: Math.max(open, to) });
    open = undefined;
  };
  for (const line of text.split('\n')) {
    const obj = timelineLine(line);
    if (!obj) continue;
    if ('pause' in obj) {
      if (obj.pause === 'start') open ??= obj.t;
      else close(obj.t);
    } else if ('start' in obj) {
      close(last); // a segment that ended mid-pause without a word (killed): the pause ended with it
      series.starts.push(obj);
    } else if ('end' in obj) {
      close(obj.t);
      series.ends.push(obj);
    } else {
      series.points.push(obj);
      series.segmentOf.push(series.starts.length);
    }
    last = Math.max(last, obj.t);
  }
  close(last);
  return series;
}

/** The last segment ended because the active-task limit held past --max-wait (not a later one killed). */
function stoppedAtLimit(series: Series): boolean {
  const end = series.ends.at(-1);
  return end?.stopped === 'active-task-limit' && end.t >= (series.starts.at(-1)?.t ?? 0);
}

function pauseFigures(spans: PauseSpan[]): NonNullable<FileReport['pauses']> {
  const ms = spans.reduce((n, p) => n + (p.to - p.from), 0);
  return {
    count: spans.length,
    seconds: Math.round(ms / 1000),
    firstAt: new Date(spans[0]!.from).toISOString(),
    spans,
  };
}

/** One line of the side file, or undefined unless every figure the report reads is a number it can show. */
function timelineLine(line: string): TimelineLine | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  const o = obj as Record<string, unknown>;
  // Times a Date can hold (up to the year 9999), figures that are finite numbers.
  const time = (v: unknown) => typeof v === 'number' && v >= 0 && v < 253_402_300_800_000;
  const figure = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  const figures = (...keys: string[]) => keys.every((k) => figure(o[k]));
  const latency = (v: unknown) => v === null || figure(v);
  if (!time(o.t)) return undefined;
  if ('pause' in o) return o.pause === 'start' || o.pause === 'end' ? (o as unknown as TimelinePause) : undefined;
  if ('start' in o) return figures('ceiling', 'burst', 'carried') ? (o as unknown as TimelineStart) : undefined;
  if ('end' in o)
    return figures('elapsed', 'created', 'requests', 'throttled') ? (o as unknown as TimelineEnd) : undefined;
  return figures('elapsed', 'rate', 'target', 'created', 'requests', 'throttled', 'done') &&
    latency(o.p50) &&
    latency(o.p99)
    ? (o as unknown as TimelinePoint)
    : undefined;
}

function figures({ starts, points, segmentOf, ends }: Series): RunFigures | undefined {
  if (!starts.length || !points.length) return undefined;
  // Each segment's counters start at zero: its last point holds its totals. A segment is told by
  // the start line before it, never by its figures (a resume longer than the part before it has
  // every elapsed time above that part's).
  const last = new Map<number, TimelinePoint>();
  for (const [i, p] of points.entries()) last.set(segmentOf[i]!, p);
  const lastPoints = [...last.values()];
  const sum = (f: (p: TimelinePoint) => number, list = lastPoints) => list.reduce((n, p) => n + f(p), 0);
  const activeSeconds = sum((p) => p.elapsed);
  const created = sum((p) => p.created);
  const p50s = points.flatMap((p) => (p.p50 === null ? [] : [p.p50])).sort((a, b) => a - b);
  let p99: number | null = null;
  for (const p of points) if (p.p99 !== null && (p99 === null || p.p99 > p99)) p99 = p.p99;
  let lastT = points.at(-1)!.t;
  for (const e of ends) lastT = Math.max(lastT, e.t);
  return {
    from: new Date(starts[0]!.t).toISOString(),
    to: new Date(lastT).toISOString(),
    activeSeconds: Math.round(activeSeconds),
    segments: starts.map((s) => s.start),
    created,
    requests: sum((p) => p.requests),
    throttled: sum((p) => p.throttled, points),
    achievedRate: activeSeconds > 0 ? Math.round((created / activeSeconds) * 100) / 100 : 0,
    ceiling: starts.at(-1)!.ceiling,
    p50: p50s.length ? p50s[Math.floor(p50s.length / 2)]! : null,
    p99,
  };
}
