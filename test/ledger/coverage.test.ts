/** The compact structures a ledger is read into: statuses by input line, and the set of lines seen. */
import { describe, expect, it } from 'vitest';
import { FinalStatuses, LineSet } from '../../src/ledger/coverage.js';
import type { RowStatus } from '../../src/types.js';

describe('FinalStatuses', () => {
  it.each<[string, [number, RowStatus][], [number, RowStatus | undefined][], number]>([
    [
      'nothing set',
      [],
      [
        [1, undefined],
        [2, undefined],
        [1e9, undefined],
      ],
      0,
    ],
    [
      'each final status, neighbours untouched',
      [
        [5, 'created'],
        [6, 'failed'],
        [7, 'invalid'],
        [8, 'filtered'],
      ],
      [
        [4, undefined],
        [5, 'created'],
        [6, 'failed'],
        [7, 'invalid'],
        [8, 'filtered'],
        [9, undefined],
      ],
      4,
    ],
    ['planned is not final: not kept', [[2, 'planned']], [[2, undefined]], 0],
    [
      'a later row for a line replaces the earlier',
      [
        [3, 'failed'],
        [3, 'created'],
      ],
      [[3, 'created']],
      1,
    ],
    [
      'planned after a final status leaves it',
      [
        [3, 'failed'],
        [3, 'planned'],
      ],
      [[3, 'failed']],
      1,
    ],
    [
      'lines past the first buffer (it grows)',
      [
        [5000, 'invalid'],
        [2_000_001, 'created'],
      ],
      [
        [5000, 'invalid'],
        [2_000_001, 'created'],
        [2_000_000, undefined],
        [2_000_002, undefined],
        [9_000_000, undefined],
      ],
      2,
    ],
    [
      'far lines (a hand-typed 1e9) are kept apart',
      [
        [1e9, 'failed'],
        [2 ** 27, 'created'],
        [2 ** 27 - 1, 'invalid'],
      ],
      [
        [1e9, 'failed'],
        [2 ** 27, 'created'],
        [2 ** 27 - 1, 'invalid'],
        [1e9 + 1, undefined],
      ],
      3,
    ],
    [
      'a far line set twice counts once',
      [
        [1e12, 'failed'],
        [1e12, 'created'],
      ],
      [[1e12, 'created']],
      1,
    ],
  ])('%s', (_name, sets, gets, size) => {
    const f = new FinalStatuses();
    for (const [line, status] of sets) f.set(line, status);
    for (const [line, status] of gets) expect(f.get(line), `line ${line}`).toBe(status);
    expect(f.size).toBe(size);
  });

  it('agrees with a Map over a million lines in random order', () => {
    const f = new FinalStatuses();
    const m = new Map<number, RowStatus>();
    const statuses: RowStatus[] = ['created', 'failed', 'invalid', 'filtered', 'planned'];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 1_000_000; i++) {
      const line = 1 + (rand() % 3_000_000);
      const status = statuses[rand() % 5]!;
      f.set(line, status);
      if (status !== 'planned') m.set(line, status);
    }
    expect(f.size).toBe(m.size);
    let wrong = 0;
    for (let line = 1; line <= 3_000_000; line++) if (f.get(line) !== m.get(line)) wrong++;
    expect(wrong).toBe(0);
  });
});

describe('LineSet', () => {
  it('holds near and far lines', () => {
    const s = new LineSet();
    for (const n of [1, 8, 9, 100_000, 2 ** 27, 1e9]) s.add(n);
    expect([1, 8, 9, 100_000, 2 ** 27, 1e9].every((n) => s.has(n))).toBe(true);
    expect([2, 7, 10, 99_999, 2 ** 27 - 1, 1e9 + 1].some((n) => s.has(n))).toBe(false);
  });
});
