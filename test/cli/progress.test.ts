/** The progress line as a pure function of width: fields dropped whole by priority, never a number cut. */
import { describe, expect, it } from 'vitest';
import { duration, type ProgressSnapshot, percent, progressRecord, renderProgress } from '../../src/cli/progress.js';

const busy: ProgressSnapshot = {
  done: 12_345,
  total: 100_000,
  totalExact: false,
  carried: 2_000,
  created: 12_000,
  failed: 245,
  invalid: 100,
  filtered: 0,
  achieved: 1.98,
  target: 2,
  ceiling: 2,
  throttled: 1_234,
  retries: 0,
  serverErrors: 0,
  elapsedMs: 3 * 3600_000 + 7 * 60_000,
  etaMs: 12 * 3600_000 + 5 * 60_000,
  p50: 120,
  p99: 840,
  dryRun: false,
};

const FIELDS = [
  '12,345/~100,000 rows 12%',
  '12,000 created',
  '245 failed, 100 invalid',
  '1.98/s of 2/s',
  'ETA 12h05m',
  '3h07m elapsed',
  '1,234 throttled',
  'p50/p99 120/840 ms',
];

describe('renderProgress', () => {
  it.each([
    [40, ['12,345/~100,000 rows 12%', 'ETA 12h05m']],
    [80, ['12,345/~100,000 rows 12%', '245 failed, 100 invalid', '1.98/s of 2/s', 'ETA 12h05m']],
    [
      120,
      [
        '12,345/~100,000 rows 12%',
        '12,000 created',
        '245 failed, 100 invalid',
        '1.98/s of 2/s',
        'ETA 12h05m',
        '1,234 throttled',
      ],
    ],
    [200, FIELDS],
  ])('at %i columns keeps the most important whole fields', (width, expected) => {
    const line = renderProgress(busy, width);
    expect(line.length).toBeLessThan(width);
    const fields = line.replace(/^\[[#-]+\] /, '').split(' · ');
    expect(fields).toEqual(expected);
  });

  it('never cuts a field: every part is one of the fields, whole, at any width', () => {
    for (let width = 10; width <= 220; width++) {
      const line = renderProgress(busy, width);
      const parts = line.replace(/^\[[#-]+\] /, '').split(' · ');
      for (const part of parts) expect([...FIELDS, '12,345 12%', '12,345']).toContain(part);
    }
  });

  it('shows retries and 5xx answers when there are any, at 80 columns too', () => {
    const struggling = { ...busy, retries: 166, serverErrors: 29 };
    for (const width of [80, 120, 200]) expect(renderProgress(struggling, width)).toContain(' · 166 retried (29 5xx)');
    expect(renderProgress({ ...busy, retries: 3 }, 80)).toContain(' · 3 retried');
    expect(renderProgress(busy, 200)).not.toContain('retried');
    expect(progressRecord(struggling)).toMatchObject({ retries: 166, serverErrors: 29 });
  });

  it('a pause at the active-task limit comes right after the rows, and still fits 80 columns', () => {
    const since = new Date(2026, 11, 4, 2, 41, 7).getTime(); // 02:41 local time
    const paused = { ...busy, pausedSince: since };
    const line = renderProgress(paused, 80);
    expect(line.length).toBeLessThan(80);
    expect(line.split(' · ')).toEqual(['12,345/~100,000 rows 12%', 'paused at the active-task limit since 02:41']);
    // With room (or a shorter rows field), the whole wording.
    expect(renderProgress(paused, 120).split(' · ').slice(0, 2)).toEqual([
      '12,345/~100,000 rows 12%',
      "paused at the instance's active-task limit since 02:41",
    ]);
    expect(renderProgress({ ...paused, done: 345, total: 5_000, totalExact: true }, 80)).toMatch(
      /^345\/5,000 rows 6% · paused at the instance's active-task limit since 02:41/,
    );
    for (let width = 10; width <= 220; width++) expect(renderProgress(paused, width).length).toBeLessThan(width);
    expect(renderProgress(busy, 200)).not.toContain('paused');
    expect(progressRecord(busy).pausedSeconds).toBeNull();
    expect(progressRecord({ ...busy, pausedSince: since, pausedMs: 90_400 }).pausedSeconds).toBe(90);
  });

  it('shows the rows the filter left out when there are any, after what needs attention', () => {
    const filtering = { ...busy, filtered: 4_321 };
    expect(renderProgress(filtering, 200)).toContain('245 failed, 100 invalid · 4,321 filtered · 1.98/s');
    expect(renderProgress(filtering, 80)).not.toContain('filtered');
    expect(renderProgress(busy, 200)).not.toContain('filtered');
    expect(progressRecord(filtering)).toMatchObject({ invalid: 100, filtered: 4_321 });
  });

  it('draws a bar only with room to spare, after the figures are placed', () => {
    expect(renderProgress(busy, 80)).not.toMatch(/^\[/);
    expect(renderProgress(busy, 200)).toMatch(/^\[#+-+\] 12,345/);
  });

  it('shows rows done alone when the total is unknown (standard input), and no rate on a dry run', () => {
    const stdin = { ...busy, total: undefined, etaMs: undefined };
    expect(renderProgress(stdin, 80).startsWith('12,345 rows · ')).toBe(true);
    const dry = renderProgress({ ...busy, dryRun: true }, 200);
    expect(dry).toContain('12,000 planned · 245 failed');
    expect(dry).not.toMatch(/throttled|\/s/);
  });

  it('the percentage counts finished rows, and an estimate never reaches 100 %', () => {
    expect(percent({ ...busy, done: 50, total: 200, totalExact: true })).toBe(25);
    expect(percent({ ...busy, done: 200, total: 200, totalExact: false })).toBe(99);
    expect(percent({ ...busy, done: 200, total: 200, totalExact: true })).toBe(100);
    expect(progressRecord(busy)).toMatchObject({
      done: 12_345,
      total: 100_000,
      totalExact: false,
      percent: 12,
      carried: 2_000,
      rate: 2,
      etaSeconds: 43_500,
    });
  });

  it('durations', () => {
    expect([duration(45_000), duration(723_000), duration(11_220_000)]).toEqual(['45s', '12m03s', '3h07m']);
  });
});
