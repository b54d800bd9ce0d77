/** The timeline side file: owner-only, created exclusively, appended on resume, bounded on a long run. */
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunStats } from '../../src/observe/stats.js';
import { Timeline, timelinePath } from '../../src/observe/timeline.js';
import { silent } from '../../src/run/options.js';
import { tempDir } from '../helpers.js';

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('Timeline', () => {
  it('a 14-hour run at 4 ticks a second writes a few thousand points, not 10,000', () => {
    const results = join(tempDir(), 'r.csv');
    let now = 0;
    const stats = new RunStats();
    const t = Timeline.open(results, true, silent, () => now)!;
    t.begin({ start: 'run', ceiling: 2, burst: 5, carried: 0 });
    for (now = 0; now <= 14 * 3600_000; now += 250) {
      if (now % 500 === 0) stats.recordRequest({ kind: 'created', contactId: 'c' }, 100);
      t.tick({ stats, rate: 2, done: stats.requests });
    }
    t.finish({ stats, rate: 2, done: stats.requests }, 'completed');
    const all = lines(timelinePath(results));
    expect(all.length).toBeGreaterThan(3_000);
    expect(all.length).toBeLessThan(3_600);
    expect(statSync(timelinePath(results)).size).toBeLessThan(600_000);
    expect(statSync(timelinePath(results)).mode & 0o777).toBe(0o600);
    expect(all.at(-1)).toMatchObject({ end: 'completed' });
  });

  it('a fresh run replaces a stale file; a resume appends a segment; a symbolic link is never followed', () => {
    const dir = tempDir();
    const results = join(dir, 'r.csv');
    writeFileSync(timelinePath(results), 'stale\n');
    const stats = new RunStats();
    Timeline.open(results, true, silent)!.finish({ stats, rate: 1, done: 0 }, 'interrupted');
    Timeline.open(results, false, silent)!.begin({ start: 'resume', ceiling: 1, burst: 1, carried: 3 });
    const all = lines(timelinePath(results));
    expect(all.some((l) => l.end === 'interrupted')).toBe(true);
    expect(all.at(-1)).toMatchObject({ start: 'resume', carried: 3 });
    const target = join(dir, 'elsewhere');
    writeFileSync(target, '');
    const linked = join(dir, 'l.csv');
    symlinkSync(target, timelinePath(linked));
    expect(Timeline.open(linked, false, silent)).toBeUndefined();
    expect(readFileSync(target, 'utf8')).toBe('');
  });

  it('records where each pause at the active-task limit starts and ends, and why a run stopped', () => {
    const results = join(tempDir(), 'r.csv');
    const stats = new RunStats();
    const t = Timeline.open(results, true, silent, () => 5_000)!;
    t.begin({ start: 'run', ceiling: 2, burst: 5, carried: 0 });
    t.pause({ kind: 'paused', at: 1_000, nextProbeMs: 5_000, maxWaitMs: 10_800_000 });
    t.pause({ kind: 'probe', probe: 1 });
    t.pause({ kind: 'full', probe: 1, pausedMs: 5_000, nextProbeMs: 10_000 });
    t.pause({ kind: 'resumed', at: 9_000, pausedMs: 8_000, probes: 2 });
    t.pause({ kind: 'paused', at: 10_000, nextProbeMs: 5_000, maxWaitMs: 0 });
    t.pause({ kind: 'gave-up', at: 10_000, pausedMs: 0, maxWaitMs: 0 });
    t.pause({ kind: 'ended', at: 10_001, pausedMs: 1 });
    t.finish({ stats, rate: 2, done: 0 }, 'interrupted', 'active-task-limit');
    const all = lines(timelinePath(results));
    expect(all.filter((l) => 'pause' in l)).toEqual([
      { t: 1_000, pause: 'start' },
      { t: 9_000, pause: 'end' },
      { t: 10_000, pause: 'start' },
      { t: 10_001, pause: 'end' },
    ]);
    expect(all.at(-1)).toMatchObject({ end: 'interrupted', stopped: 'active-task-limit' });
  });
});
