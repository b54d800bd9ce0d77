/** `report` as text for a terminal and as JSON for machines. No row content: the model holds none. */
import { type FileReport, type Group, type Other, SHOWN } from './model.js';
import { allDone, failureLimitText } from './next-step.js';

const int = (n: number) => n.toLocaleString('en-US');

/** The one line a reader needs first: "8,412 of 8,469 created · 57 need attention". */
export function headline(r: FileReport): string {
  const { total, created, failed, invalid, filtered, planned } = r.rows;
  const left = filtered ? ` · ${int(filtered)} filtered` : '';
  if (r.dryRun) return `Dry run: ${int(planned)} of ${int(total)} rows ready to send · ${int(invalid)} invalid${left}`;
  const attention = failed + invalid;
  return (
    `${int(created)} of ${int(total)} created${left} ` +
    '· ' +
    `${attention ? `${int(attention)} need attention` : r.mismatch ? 'rows missing from the file' : 'nothing to fix'}` +
    (r.completed ? '' : ' · run not finished')
  );
}

/** The runs that wrote a file, by id and how each ended: the latest few, and how many came before. */
export function runsLine(runs: NonNullable<FileReport['runs']>): string {
  const SHOWN_RUNS = 5;
  // "running" is what a run leaves behind until it ends: still going, or killed.
  const shown = runs
    .slice(-SHOWN_RUNS)
    .map((run) => `${run.runId} (${run.outcome === 'running' ? 'no end recorded' : run.outcome})`);
  const earlier = runs.length - shown.length;
  return `${earlier ? `${int(earlier)} earlier, then ` : ''}${shown.join(', ')}`;
}

/** "2h17m" from seconds. */
export function span(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "2 times at the instance's active-task limit, 14m10s in all, the first at 2026-12-04T02:41:07.000Z". */
export function pausesText(p: NonNullable<FileReport['pauses']>): string {
  return (
    `${p.count === 1 ? 'once' : `${int(p.count)} times`} at the instance's active-task limit (no request ` +
    `left), ${span(p.seconds)}${p.count === 1 ? '' : ' in all'}, ${p.count === 1 ? 'from' : 'the first at'} ` +
    `${p.firstAt}`
  );
}

export function exampleLines(g: Group): string {
  return `line${g.lines.length > 1 ? 's' : ''} ${g.lines.join(', ')}${g.count > g.lines.length ? ', …' : ''}`;
}

/** The groups not listed, in one line: "other rules (only the 50 largest are listed)". */
export type OtherName = 'codes' | 'rules' | 'conditions';
export const otherLabel = (name: OtherName) => `other ${name} (only the ${SHOWN} largest are listed)`;

export function formatReport(r: FileReport): string {
  const out = [r.file, `  ${headline(r)}`];
  if (r.mismatch) out.push(`  Warning: ${r.mismatch}; the counts below cover only the rows it holds`);
  const { created, failed, invalid, filtered, planned } = r.rows;
  out.push(
    `  Rows: ${int(created)} created, ${int(failed)} failed, ${int(invalid)} ` +
      `invalid${filtered ? `, ${int(filtered)} filtered` : ''}${planned ? `, ${int(planned)} planned` : ''}`,
  );
  if (r.input) out.push(`  Input: ${r.input}`);
  if (r.failureLimit) out.push(`  Stopped: ${failureLimitText(r.failureLimit)}; the rows not sent are not in the file`);
  if (r.runs) out.push(`  Runs: ${runsLine(r.runs)}`);
  if (r.run) {
    const segments =
      r.run.segments.length > 1 ? ` in ${r.run.segments.length} parts (${r.run.segments.join(' + ')})` : '';
    out.push(
      `  Time: ${r.run.from} → ${r.run.to} · ${span(r.run.activeSeconds)} sending${segments}`,
      `  Rate: ${r.run.achievedRate} tasks/s created by these runs (ceiling ${r.run.ceiling}/s) ` +
        `· ${int(r.run.requests)} requests, ${int(r.run.throttled)} throttled` +
        (r.run.p50 !== null ? ` · latency p50 ${r.run.p50} ms, p99 ${r.run.p99} ms` : ''),
    );
  } else if (r.startedAt) {
    out.push(
      `  Time: ${r.startedAt} → ${r.completedAt ?? '(not finished)'} (no timeline beside the file: rates unknown)`,
    );
  }
  if (r.pauses) out.push(`  Paused: ${pausesText(r.pauses)}`);
  if (r.stops) out.push(`  Stops: ${stopsText(r)}`);
  const table = (
    title: string,
    groups: Group[],
    other: Other | undefined,
    otherName: OtherName,
    withMessage: boolean,
  ) => {
    if (!groups.length) return;
    out.push(`  ${title}:`);
    // A loop, not Math.max(...list): a spread over a data-sized list overflows the stack.
    let width = other ? int(other.count).length : 0;
    for (const g of groups) width = Math.max(width, int(g.count).length);
    for (const g of groups) {
      out.push(`    ${int(g.count).padStart(width)}  ${g.key}  (${exampleLines(g)})`);
      if (withMessage && g.message) out.push(`    ${' '.repeat(width)}  ${g.message}`);
    }
    if (other)
      out.push(
        `    ${int(other.count).padStart(width)}  ${otherLabel(otherName)}  (${exampleLines({ key: '', ...other })})`,
      );
  };
  table('Failed, by error code', r.failures, r.failuresOther, 'codes', true);
  table('Invalid, by rule', r.invalid, r.invalidOther, 'rules', false);
  table('Filtered (not sent), by condition', r.filtered, r.filteredOther, 'conditions', false);
  out.push(
    r.next
      ? r.next.command
        ? `  Next: ${r.next.command}\n        ${r.next.why}${r.next.afterwards ? `\n  Then: ${r.next.afterwards}` : ''}`
        : `  Next: ${r.next.why}`
      : `  Next: nothing to do, ${allDone(r.rows)}.`,
  );
  return out.join('\n');
}

/** For --json: everything but the raw time series (its size is the side file's business). */
export function reportJson(reports: FileReport[], exitCode: number): string {
  return JSON.stringify(
    {
      exitCode,
      reports: reports.map(({ series, ...r }) => ({
        headline: headline({ ...r, series }),
        ...r,
        timelinePoints: series.length,
      })),
    },
    null,
    2,
  );
}

/** What `stop` did to the created tasks: "480 of 500 created tasks stopped (12 already ended), 3 failed". */
function stopsText(r: FileReport): string {
  const s = r.stops!;
  const parts = [
    `${int(s.done)} of ${int(r.rows.created)} created tasks stopped`,
    ...(s.alreadyEnded ? [`(${int(s.alreadyEnded)} had already ended)`] : []),
  ];
  const extra = [
    ...(s.failed ? [`${int(s.failed)} failed`] : []),
    ...(s.skipped ? [`${int(s.skipped)} skipped`] : []),
    ...(s.completed ? [] : ['the stop did not finish (resume it with stop --resume)']),
  ];
  return `${parts.join(' ')}${extra.length ? `; ${extra.join(', ')}` : ''} · ${s.file}`;
}
