/**
 * Inline SVG charts for the HTML report: time on x, lines and bars on y. No library, no network:
 * the file must open anywhere, years later. Every label passes through `esc`.
 */

export const esc = (s: string | number): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface Series {
  name: string;
  color: string;
  /** [time ms, value]; null values break the line. */
  points: [number, number | null][];
  dashed?: boolean;
  /** Drawn as bars against the right axis. */
  bars?: boolean;
}

export interface ChartOptions {
  title: string;
  unit: string;
  barUnit?: string;
  width?: number;
  height?: number;
  /** Spans of time shaded behind the lines (pauses at the active-task limit), named in the legend. */
  bands?: { from: number; to: number; name: string }[];
}

const BAND_COLOR = '#8c959f';

const PAD = { left: 52, right: 52, top: 30, bottom: 34 };

/** Rounds a maximum up to a tidy axis end (1, 2, 2.5, 5 × 10^n). */
function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 2.5, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

const fmt = (n: number) => (n >= 100 ? String(Math.round(n)) : String(Math.round(n * 100) / 100));

function clock(t: number, spanMs: number): string {
  const iso = new Date(t).toISOString();
  return spanMs > 36 * 3600_000
    ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}`
    : spanMs > 600_000
      ? iso.slice(11, 16)
      : iso.slice(11, 19);
}

/** A gap in time this much larger than the usual step (an interruption before a resume) breaks the lines. */
function gapAfter(times: number[]): number {
  const steps = times
    .slice(1)
    .map((t, i) => t - times[i]!)
    .sort((a, b) => a - b);
  const median = steps[Math.floor(steps.length / 2)] ?? 0;
  return Math.max(60_000, median * 4);
}

export function timeChart(series: Series[], o: ChartOptions): string {
  const width = o.width ?? 1000;
  const height = o.height ?? 260;
  const bands = o.bands ?? [];
  const times = series.flatMap((s) => s.points.map(([t]) => t));
  if (!times.length) return `<p class="muted">No time series was recorded for this run.</p>`;
  // Loops, not Math.min(...times): a spread over a long list overflows the stack.
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const t of times) {
    if (t < t0) t0 = t;
    if (t > t1) t1 = t;
  }
  // Bands show whole: a pause between two points, or before the first (a short run has one point).
  for (const b of bands) {
    if (b.from < t0) t0 = b.from;
    if (b.to > t1) t1 = b.to;
  }
  t1 = Math.max(t0 + 1000, t1);
  const top = (bars: boolean) => {
    let max = 0;
    for (const s of series)
      if (Boolean(s.bars) === bars) for (const [, v] of s.points) if (v !== null && v > max) max = v;
    return niceMax(max);
  };
  const lineMax = top(false);
  const barMax = top(true);
  const w = width - PAD.left - PAD.right;
  const h = height - PAD.top - PAD.bottom;
  const x = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * w;
  const y = (v: number, max: number) => PAD.top + h - (v / max) * h;
  const parts: string[] = [];
  for (const b of bands) {
    const from = x(b.from);
    const to = x(b.to);
    parts.push(
      `<rect x="${from.toFixed(1)}" y="${PAD.top}" width="${Math.max(1, to - from).toFixed(1)}" height="${h}" ` +
        `fill="${BAND_COLOR}" opacity="0.18" data-band="pause"><title>${esc(
          `${b.name}: ${new Date(b.from).toISOString()} → ${new Date(b.to).toISOString()}`,
        )}</title></rect>`,
    );
  }
  for (let i = 0; i <= 4; i++) {
    const v = (lineMax * i) / 4;
    const yy = y(v, lineMax).toFixed(1);
    parts.push(
      `<line x1="${PAD.left}" x2="${width - PAD.right}" y1="${yy}" y2="${yy}" class="grid"/>`,
      `<text x="${PAD.left - 6}" y="${yy}" class="axis" text-anchor="end" ` +
        `dominant-baseline="middle">${esc(fmt(v))}</text>`,
    );
    if (series.some((s) => s.bars))
      parts.push(
        `<text x="${width - PAD.right + 6}" y="${yy}" class="axis bar-axis" ` +
          `dominant-baseline="middle">${esc(fmt((barMax * i) / 4))}</text>`,
      );
  }
  for (let i = 0; i <= 5; i++) {
    const t = t0 + ((t1 - t0) * i) / 5;
    parts.push(
      `<text x="${x(t).toFixed(1)}" y="${height - 12}" class="axis" ` +
        `text-anchor="middle">${esc(clock(t, t1 - t0))}</text>`,
    );
  }
  parts.push(`<text x="4" y="${PAD.top - 16}" class="axis">${esc(o.unit)}</text>`);
  if (o.barUnit)
    parts.push(
      `<text x="${width - 4}" y="${PAD.top - 16}" class="axis bar-axis" text-anchor="end">${esc(o.barUnit)}</text>`,
    );
  const gap = gapAfter(times);
  for (const s of series) {
    if (s.bars) {
      const bw = Math.max(1, Math.min(8, w / Math.max(1, s.points.length) - 1));
      for (const [t, v] of s.points) {
        if (!v) continue;
        const top = y(v, barMax);
        parts.push(
          `<rect x="${(x(t) - bw / 2).toFixed(1)}" y="${top.toFixed(1)}" width="${bw.toFixed(1)}" ` +
            `height="${(PAD.top + h - top).toFixed(1)}" fill="${esc(s.color)}" ` +
            `opacity="0.55"><title>${esc(`${s.name}: ${v} at ${new Date(t).toISOString()}`)}</title></rect>`,
        );
      }
      continue;
    }
    let d = '';
    let prevT: number | undefined;
    for (const [t, v] of s.points) {
      if (v === null) {
        prevT = undefined;
        continue;
      }
      d += `${prevT === undefined || t - prevT > gap ? 'M' : 'L'}${x(t).toFixed(1)},${y(v, lineMax).toFixed(1)}`;
      prevT = t;
    }
    if (d)
      parts.push(
        `<path d="${d}" fill="none" stroke="${esc(s.color)}" ` +
          `stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} data-series="${esc(s.name)}"/>`,
      );
  }
  const legend = [
    ...series.map((s) => ({ name: s.name, color: s.color, opacity: '' })),
    ...(bands.length ? [{ name: bands[0]!.name, color: BAND_COLOR, opacity: ';opacity:0.4;height:10px' }] : []),
  ]
    .map((k) => `<span class="key"><i style="background:${esc(k.color)}${k.opacity}"></i>${esc(k.name)}</span>`)
    .join('');
  return (
    `<figure class="chart"><figcaption>${esc(o.title)}<span class="legend">${legend}</span></figcaption>` +
    `<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(o.title)}" ` +
    `preserveAspectRatio="xMidYMid meet">${parts.join('')}</svg></figure>`
  );
}

/** At most `max` points, averaging values (and summing `sumKeys`) in equal buckets: a 14-hour run stays light. */
export function downsample<T extends { t: number }>(points: T[], max: number, combine: (bucket: T[]) => T): T[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: T[] = [];
  for (let i = 0; i < points.length; i += size) out.push(combine(points.slice(i, i + size)));
  return out;
}
