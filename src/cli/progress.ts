/**
 * Progress, as data and as one line of text. Pure: `progressSnapshot` turns the run's counters into
 * figures, `renderProgress` lays them out for a terminal `width` columns wide — dropping whole fields
 * by priority, never cutting a number — and `progressRecord` is the JSON line printed off a terminal.
 *
 * The row total is known exactly once the input has been read to its end; before that it is
 * estimated from the bytes read per record (shown with `~`). The percentage counts finished rows.
 */
import type { RateWindow } from '../observe/rate-window.js';
import type { Progress } from '../run/options.js';
import { clock } from '../run/summary.js';

export interface ProgressSnapshot {
  /** Rows finished (carried-over rows included), and the total when known or estimated. */
  done: number;
  total?: number;
  totalExact: boolean;
  /** Rows taken over from an earlier run (resume, rerun): finished, not sent. */
  carried: number;
  created: number;
  failed: number;
  invalid: number;
  /** Rows the job file's `where` left out. */
  filtered: number;
  /** Tasks created per second by this run, recently; the rate control's pace; the --rate ceiling. */
  achieved: number;
  target: number;
  ceiling: number;
  throttled: number;
  /** Resends after a transient failure, and answers with a 5xx status: shown when there are any. */
  retries: number;
  serverErrors: number;
  elapsedMs: number;
  etaMs?: number;
  p50?: number;
  p99?: number;
  dryRun: boolean;
  /** The current pause at the instance's active-task limit: since when (Date.now()) and how long so far (ms). */
  pausedSince?: number;
  pausedMs?: number;
}

export function progressSnapshot(p: Progress, window: RateWindow): ProgressSnapshot {
  const { rows, skipped, throttled } = p.stats;
  const done = rows.created + rows.failed + rows.invalid + rows.filtered + rows.planned;
  let total: number | undefined;
  if (p.readDone) total = p.rowsRead;
  else if (p.totalBytes && p.readBytes > 0 && p.rowsRead > 0)
    total = Math.max(p.rowsRead, Math.round((p.rowsRead * p.totalBytes) / p.readBytes));
  const rates = window.add(p.stats.elapsedMs, p.stats.sentCreated, done - skipped);
  const p50 = p.stats.recentLatency(50);
  const p99 = p.stats.recentLatency(99);
  return {
    done,
    total,
    totalExact: p.readDone,
    carried: skipped,
    created: rows.created,
    failed: rows.failed,
    invalid: rows.invalid,
    filtered: rows.filtered,
    achieved: rates.created,
    target: p.rate,
    ceiling: p.ceiling,
    throttled,
    retries: p.stats.retries,
    serverErrors: p.stats.serverErrors,
    elapsedMs: p.stats.elapsedMs,
    etaMs: total !== undefined && rates.rows > 0 ? (Math.max(0, total - done) / rates.rows) * 1000 : undefined,
    p50,
    p99,
    dryRun: p.dryRun,
    ...(p.stats.pausedSince !== undefined
      ? { pausedSince: p.stats.pausedSince, pausedMs: Math.max(0, Date.now() - p.stats.pausedSince) }
      : {}),
  };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const rate = (n: number) =>
  n >= 100 ? String(Math.round(n)) : n >= 10 ? n.toFixed(1) : n.toFixed(2).replace(/\.?0+$/, '') || '0';

/** 45s, 12m03s, 3h07m. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function percent(s: ProgressSnapshot): number | undefined {
  if (s.total === undefined || s.total === 0) return undefined;
  const pct = Math.floor((s.done / s.total) * 100);
  // An estimate never claims the end before the last row is read.
  return Math.min(s.totalExact ? 100 : 99, pct);
}

interface Field {
  text: string;
  /** Lower is more important: kept first when the line is short of room. */
  priority: number;
  /** A shorter wording, used when `text` does not fit. */
  short?: string;
}

const SEPARATOR = ' · ';

/** One line, at most `width - 1` columns (the last column would make some terminals wrap). */
export function renderProgress(s: ProgressSnapshot, width: number): string {
  const pct = percent(s);
  const rows =
    s.total !== undefined
      ? `${int(s.done)}/${s.totalExact ? '' : '~'}${int(s.total)} rows${pct !== undefined ? ` ${pct}%` : ''}`
      : `${int(s.done)} rows`;
  const fields: Field[] = [
    { text: rows, priority: 0 },
    // Nothing moves while paused: the one thing to know, before what failed.
    ...(s.pausedSince !== undefined
      ? [
          {
            text: `paused at the instance's active-task limit since ${clock(s.pausedSince)}`,
            short: `paused at the active-task limit since ${clock(s.pausedSince)}`,
            priority: 0.5,
          },
        ]
      : []),
    // Rows done says how far; what needs attention comes before how many were created.
    { text: `${int(s.created)} ${s.dryRun ? 'planned' : 'created'}`, priority: 5 },
    { text: `${int(s.failed)} failed, ${int(s.invalid)} invalid`, priority: 1 },
    // Left out on purpose: shown when there are any, after the figures that need attention.
    ...(s.filtered ? [{ text: `${int(s.filtered)} filtered`, priority: 5.5 }] : []),
    // Retries and 5xx answers cost nothing twice (same tokens) but say the service is struggling:
    // kept right after what failed, so that 80 columns show them too.
    ...(s.retries || s.serverErrors
      ? [{ text: `${int(s.retries)} retried${s.serverErrors ? ` (${int(s.serverErrors)} 5xx)` : ''}`, priority: 1.5 }]
      : []),
    ...(s.dryRun ? [] : [{ text: `${rate(s.achieved)}/s of ${rate(s.target)}/s`, priority: 3 }]),
    ...(s.etaMs !== undefined ? [{ text: `ETA ${duration(s.etaMs)}`, priority: 2 }] : []),
    { text: `${duration(s.elapsedMs)} elapsed`, priority: 6 },
    ...(s.dryRun ? [] : [{ text: `${int(s.throttled)} throttled`, priority: 4 }]),
    ...(s.p50 !== undefined && s.p99 !== undefined
      ? [{ text: `p50/p99 ${Math.round(s.p50)}/${Math.round(s.p99)} ms`, priority: 7 }]
      : []),
  ];
  const room = Math.max(1, width - 1);
  const kept = new Set<Field>();
  let used = 0;
  for (const f of [...fields].sort((a, b) => a.priority - b.priority)) {
    const sep = kept.size ? SEPARATOR.length : 0;
    if (f.short && used + sep + f.text.length > room) f.text = f.short;
    const cost = f.text.length + sep;
    if (used + cost <= room) {
      kept.add(f);
      used += cost;
    }
  }
  // Too narrow even for the rows: the shortest form that still holds whole numbers.
  if (!kept.size)
    return (
      [`${int(s.done)}${pct !== undefined ? ` ${pct}%` : ''}`, int(s.done)].find((t) => t.length <= room) ?? int(s.done)
    );
  let line = fields
    .filter((f) => kept.has(f))
    .map((f) => f.text)
    .join(SEPARATOR);
  // A bar only with room to spare: the figures come first.
  const spare = room - line.length - 1;
  if (pct !== undefined && spare >= 12) {
    const inner = Math.min(40, spare) - 2;
    const full = Math.round((pct / 100) * inner);
    line = `[${'#'.repeat(full)}${'-'.repeat(inner - full)}] ${line}`;
  }
  return line;
}

/** The JSON progress record printed off a terminal (one log line per interval). */
export function progressRecord(s: ProgressSnapshot): Record<string, number | boolean | null> {
  const r1 = (n: number) => Math.round(n * 10) / 10;
  return {
    done: s.done,
    total: s.total ?? null,
    totalExact: s.totalExact,
    percent: percent(s) ?? null,
    carried: s.carried,
    created: s.created,
    failed: s.failed,
    invalid: s.invalid,
    filtered: s.filtered,
    rate: r1(s.achieved),
    target: r1(s.target),
    ceiling: s.ceiling,
    throttled: s.throttled,
    retries: s.retries,
    serverErrors: s.serverErrors,
    elapsedSeconds: Math.round(s.elapsedMs / 1000),
    etaSeconds: s.etaMs === undefined ? null : Math.round(s.etaMs / 1000),
    p50: s.p50 === undefined ? null : Math.round(s.p50),
    p99: s.p99 === undefined ? null : Math.round(s.p99),
    pausedSeconds: s.pausedMs === undefined ? null : Math.round(s.pausedMs / 1000),
  };
}
