/** The rate arithmetic both the in-process and the shared pace use, as tables. */
import { describe, expect, it } from 'vitest';
import {
  BLIND_CUT,
  CLIMB_PER_SECOND,
  CUT_HOLD_MS,
  climbPace,
  cutPace,
  MEASURED_CUT,
  measureSeconds,
  paceFloor,
  throttleCuts,
} from '../../src/rate/arithmetic.js';

describe('rate arithmetic', () => {
  it('keeps its constants', () => {
    expect({ CUT_HOLD_MS, MEASURED_CUT, BLIND_CUT, CLIMB_PER_SECOND }).toEqual({
      CUT_HOLD_MS: 500,
      MEASURED_CUT: 0.98,
      BLIND_CUT: 0.95,
      CLIMB_PER_SECOND: 0.05,
    });
  });

  it.each([
    // ceiling, floor
    [1000, 10],
    [50, 0.5],
    [10, 0.1],
    [2, 0.1],
    [0.05, 0.05], // never above the ceiling
  ])('the floor of ceiling %s is %s', (ceiling, floor) => {
    expect(paceFloor(ceiling)).toBeCloseTo(floor, 12);
  });

  it.each([
    // pace, seconds measured over
    [200, 2],
    [10, 2],
    [5, 4],
    [1, 20],
    [0.5, 40],
  ])('at a pace of %s the accepted rate is measured over %s s', (pace, seconds) => {
    expect(measureSeconds(pace)).toBe(seconds);
  });

  it.each<[number, number, number, boolean, string]>([
    // sent at, seen at, last cut at, cuts?
    [900, 1000, -Infinity, true, 'never cut before'],
    [1000, 1500, 1000, true, 'the hold is over, sent at the cut'],
    [1200, 1499, 1000, false, 'within the hold'],
    [999, 2000, 1000, false, 'sent before the last cut'],
    [1500, 5000, 1000, true, 'long after the cut'],
  ])('a throttle sent at %s, seen at %s, last cut at %s: cuts %s (%s)', (sentAt, now, lastCutAt, cuts) => {
    expect(throttleCuts(sentAt, now, lastCutAt)).toBe(cuts);
  });

  it.each<[number, number | undefined, number, number, string]>([
    // pace, accepted (undefined: not measured), floor, pace after the cut
    [100, 40, 1, 40, 'to the accepted rate'],
    [100, 99, 1, 98, 'at least 2 % under the pace'],
    [100, 150, 1, 98, 'an accepted rate over the pace'],
    [100, undefined, 1, 95, 'blind: 5 % under'],
    [100, 0.2, 1, 1, 'never under the floor'],
    [1, undefined, 0.99, 0.99, 'blind, never under the floor'],
  ])('a pace of %s with accepted %s (floor %s) is cut to %s: %s', (pace, accepted, floor, after) => {
    expect(cutPace(pace, accepted, floor)).toBeCloseTo(after, 12);
  });

  it.each([
    // from, seconds, ceiling, pace
    [10, 0, 40, 10],
    [10, 1, 40, 12],
    [10, 5, 40, 20],
    [30, 10, 40, 40], // never over the ceiling
    [0, 20, 40, 40], // from anywhere back to the ceiling within 20 s
  ])('from %s, %s s of climbing under a ceiling of %s: %s', (from, seconds, ceiling, pace) => {
    expect(climbPace(from, seconds, ceiling)).toBeCloseTo(pace, 12);
  });
});
