/**
 * `report --html`: one self-contained file (inline CSS, JS and SVG; a Content-Security-Policy that
 * forbids any network fetch) that a team lead opens the morning after. The headline comes first;
 * every value taken from the data is HTML-escaped.
 */
import type { TimelinePoint } from '../observe/timeline.js';
import { downsample, esc, timeChart } from './chart.js';
import type { FileReport, Group, Other, PauseSpan } from './model.js';
import { allDone } from './next-step.js';
import { exampleLines, headline, type OtherName, otherLabel, pausesText, runsLine, span } from './text.js';

const MAX_CHART_POINTS = 600;
const int = (n: number) => n.toLocaleString('en-US');

const STYLE = `
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#fff}
main{max-width:1100px;margin:0 auto;padding:28px 32px 48px}
h1{font-size:30px;line-height:1.2;margin:0 0 6px}h2{font-size:19px;margin:30px 0 10px}
.file{color:var(--muted);margin:0 0 18px;word-break:break-all}
.status{display:inline-block;padding:2px 10px;border-radius:12px;font-size:13px;font-weight:600;vertical-align:middle;margin-left:8px}
.status.ok{background:#dafbe1;color:var(--ok)}.status.bad{background:#ffebe9;color:var(--bad)}.status.warn{background:#fff8c5;color:var(--warn)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:12px;margin:18px 0}
.tile{border:1px solid var(--line);border-radius:8px;padding:12px 14px;background:var(--bg)}
.tile b{display:block;font-size:24px;line-height:1.2}.tile span{color:var(--muted);font-size:13px}
.tile.bad b{color:var(--bad)}.tile.ok b{color:var(--ok)}
.next{border:2px solid #0969da;border-radius:8px;padding:12px 16px;background:#ddf4ff;margin:18px 0}
.next code{display:block;font:14px ui-monospace,SFMono-Regular,Menlo,monospace;background:#fff;padding:8px 10px;border-radius:6px;margin:6px 0;word-break:break-all}
.next button{font:inherit;font-size:13px;padding:3px 10px;cursor:pointer}
figure.chart{margin:10px 0 4px;border:1px solid var(--line);border-radius:8px;padding:10px 12px}
figcaption{font-weight:600;margin-bottom:4px}.legend{float:right;font-weight:400;font-size:13px;color:var(--muted)}
.key{margin-left:14px}.key i{display:inline-block;width:14px;height:4px;margin-right:5px;vertical-align:middle}
svg{width:100%;height:auto;display:block}.grid{stroke:#eaeef2}.axis{font-size:12px;fill:var(--muted)}.bar-axis{fill:#bc4c00}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--bg);font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.msg{color:var(--muted);font-size:13px}
.muted{color:var(--muted)}footer{margin-top:36px;color:var(--muted);font-size:12px}`;

const SCRIPT = `document.addEventListener('click',function(e){var b=e.target.closest('button[data-copy]');if(!b)return;
var t=b.previousElementSibling.textContent;(navigator.clipboard?navigator.clipboard.writeText(t):Promise.reject()).then(function(){b.textContent='Copied'},function(){b.textContent='Select and copy'})});`;

export function renderHtml(reports: FileReport[], generatedAt = new Date()): string {
  const title = reports.length === 1 ? headline(reports[0]!) : `${reports.length} results files`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="connect-task-loader">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} — connect-task-loader report</title><style>${STYLE}</style></head>
<body><main>
${reports.map(section).join('\n')}
<footer>connect-task-loader report · generated ${esc(generatedAt.toISOString())} · no row content (names, descriptions, attribute values) is shown</footer>
</main><script>${SCRIPT}</script></body></html>
`;
}

function section(r: FileReport): string {
  const { total, created, failed, invalid, filtered } = r.rows;
  const status = r.failureLimit
    ? ['bad', 'stopped: too many rows failed']
    : !r.completed
      ? ['warn', 'not finished']
      : failed + invalid
        ? ['bad', 'needs attention']
        : ['ok', filtered ? 'all created or filtered' : 'all created'];
  const tiles = [
    tile(int(created), `created of ${int(total)}`, created + filtered === total && created > 0 ? 'ok' : ''),
    tile(int(failed), 'failed', failed ? 'bad' : ''),
    tile(int(invalid), 'invalid (never sent)', invalid ? 'bad' : ''),
    ...(filtered ? [tile(int(filtered), 'filtered by where (never sent)')] : []),
    ...(r.run
      ? [
          tile(`${r.run.achievedRate}/s`, `created/s, ceiling ${r.run.ceiling}/s`),
          tile(int(r.run.throttled), `throttled of ${int(r.run.requests)} requests`),
          tile(
            span(r.run.activeSeconds),
            r.run.segments.length > 1 ? `sending, ${r.run.segments.length} parts` : 'sending',
          ),
          ...(r.run.p50 !== null ? [tile(`${r.run.p50}/${r.run.p99}`, 'ms latency, p50/p99')] : []),
        ]
      : []),
    ...(r.stops
      ? [
          tile(
            int(r.stops.done),
            `tasks stopped${r.stops.completed ? '' : ' (stop not finished)'}`,
            r.stops.failed ? 'bad' : '',
          ),
        ]
      : []),
    ...(r.pauses
      ? [
          tile(
            span(r.pauses.seconds),
            `paused at the active-task limit, ${r.pauses.count === 1 ? 'once' : `${int(r.pauses.count)} times`}`,
          ),
        ]
      : []),
  ];
  const when = r.run
    ? `${r.run.from.replace('T', ' ').slice(0, 19)} → ${r.run.to.replace('T', ' ').slice(0, 19)} UTC`
    : r.startedAt
      ? `started ${r.startedAt}`
      : '';
  return `<section>
<h1>${esc(headline(r))}<span class="status ${status[0]}">${esc(status[1]!)}</span></h1>
<p class="file">${esc(r.file)}${r.input ? ` · input ${esc(r.input)}` : ''}${when ? ` · ${esc(when)}` : ''}</p>
${r.runs ? `<p class="file">${r.runs.length > 1 ? 'runs' : 'run'} ${esc(runsLine(r.runs))}</p>` : ''}
${nextBox(r)}
<div class="tiles">${tiles.join('')}</div>
${r.pauses ? `<p class="muted">Paused ${esc(pausesText(r.pauses))}.</p>` : ''}
${charts(r.series, r.pauses?.spans ?? [])}
${groupTable('Failed rows, by error code', 'error code', r.failures, r.failuresOther, 'codes', true)}
${groupTable('Invalid rows, by rule', 'column and rule', r.invalid, r.invalidOther, 'rules', false)}
${groupTable('Filtered rows (not sent), by condition', 'condition of the job file', r.filtered, r.filteredOther, 'conditions', false)}
</section>`;
}

function tile(value: string, label: string, kind = ''): string {
  return `<div class="tile ${kind}"><b>${esc(value)}</b><span>${esc(label)}</span></div>`;
}

function nextBox(r: FileReport): string {
  if (!r.next) return `<div class="next"><b>Next:</b> nothing to do — ${esc(allDone(r.rows))}.</div>`;
  if (!r.next.command) return `<div class="next"><b>Next step</b> — ${esc(r.next.why)}</div>`;
  const copy = '<button type="button" data-copy>Copy</button>';
  const after = r.next.afterwards ? `<b>Then</b><code>${esc(r.next.afterwards)}</code>${copy}` : '';
  return `<div class="next"><b>Next step</b> — ${esc(r.next.why)}<code>${esc(r.next.command)}</code>${copy}${after}</div>`;
}

function groupTable(
  title: string,
  keyName: string,
  groups: Group[],
  other: Other | undefined,
  otherName: OtherName,
  withMessage: boolean,
): string {
  if (!groups.length) return '';
  const rows = groups
    .map(
      (g) =>
        `<tr><td><b>${esc(g.key)}</b>${withMessage && g.message ? `<div class="msg">${esc(g.message)}</div>` : ''}</td><td class="n">${esc(int(g.count))}</td><td>${esc(exampleLines(g))}</td></tr>`,
    )
    .join('');
  const rest = other
    ? `<tr class="other"><td class="muted">${esc(otherLabel(otherName))}</td><td ` +
      `class="n">${esc(int(other.count))}</td><td>${esc(exampleLines({ key: '', ...other }))}</td></tr>`
    : '';
  return (
    `<h2>${esc(title)}</h2><table class="groups"><thead><tr><th>${esc(keyName)}</th><th ` +
    `class="n">rows</th><th>example input lines</th></tr></thead><tbody>${rows}${rest}</tbody></table>`
  );
}

function charts(points: TimelinePoint[], pauses: PauseSpan[]): string {
  if (!points.length)
    return (
      `<p class="muted">No timeline was recorded beside this results file (a dry run, or a run by an older ` +
      `version): no charts.</p>`
    );
  const light = downsample(points, MAX_CHART_POINTS, (b) => ({
    ...b.at(-1)!,
    rate: avg(b.map((p) => p.rate)),
    target: avg(b.map((p) => p.target)),
    throttled: b.reduce((n, p) => n + p.throttled, 0),
    p50: maxOrNull(b.map((p) => p.p50)),
    p99: maxOrNull(b.map((p) => p.p99)),
  }));
  const rate = timeChart(
    [
      { name: 'accepted requests/s', color: '#1a7f37', points: light.map((p) => [p.t, p.rate]) },
      { name: 'target rate/s', color: '#0969da', dashed: true, points: light.map((p) => [p.t, p.target]) },
      { name: 'throttled requests', color: '#bc4c00', bars: true, points: light.map((p) => [p.t, p.throttled]) },
    ],
    {
      title: 'Rate: accepted vs target, and throttles',
      unit: 'req/s',
      barUnit: 'throttled',
      bands: pauses.map((p) => ({ ...p, name: "paused at the instance's active-task limit" })),
    },
  );
  const latency = timeChart(
    [
      { name: 'p50', color: '#8250df', points: light.map((p) => [p.t, p.p50]) },
      { name: 'p99', color: '#cf222e', points: light.map((p) => [p.t, p.p99]) },
    ],
    { title: 'Latency of answers', unit: 'ms', height: 200 },
  );
  return `<h2>Over time</h2>${rate}${latency}`;
}

const avg = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
function maxOrNull(xs: (number | null)[]): number | null {
  let max: number | null = null;
  for (const x of xs) if (x !== null && (max === null || x > max)) max = x;
  return max;
}
