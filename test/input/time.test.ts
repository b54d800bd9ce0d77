import { describe, expect, it } from 'vitest';
import { scheduledTimeRule } from '../../src/input/rules.js';
import { checkTimeZone, parseScheduledTime } from '../../src/input/time.js';

const iso = (value: string, zone?: string) => {
  const r = parseScheduledTime(value, zone);
  return r.ok ? r.date.toISOString() : r.rule;
};

describe('parseScheduledTime', () => {
  it.each([
    ['2026-12-01T09:00:00Z', undefined, '2026-12-01T09:00:00.000Z'],
    ['2026-12-01T10:00+01:00', undefined, '2026-12-01T09:00:00.000Z'],
    ['2026-12-01T23:00:00+14:00', undefined, '2026-12-01T09:00:00.000Z'], // Kiritimati, the furthest ahead
    ['2026-12-01T09:00:00.5-05:00', undefined, '2026-12-01T14:00:00.500Z'],
    ['2026-12-01T10:00+01:00', 'America/New_York', '2026-12-01T09:00:00.000Z'], // an explicit zone wins
    ['1796115600', undefined, '2026-12-01T09:00:00.000Z'],
    ['2026-12-01 09:00', 'Europe/London', '2026-12-01T09:00:00.000Z'], // GMT in winter
    ['2026-07-01 09:00', 'Europe/London', '2026-07-01T08:00:00.000Z'], // BST in summer
    ['2026-07-01T09:00:30', 'America/New_York', '2026-07-01T13:00:30.000Z'],
    ['2026-12-01 09:00:00.250', 'Asia/Kolkata', '2026-12-01T03:30:00.250Z'],
    ['2026-12-01 09:00', 'Australia/Lord_Howe', '2026-11-30T22:00:00.000Z'], // +11:00 (half-hour DST zone)
  ])('%s in %s → %s', (value, zone, expected) => {
    expect(iso(value, zone)).toBe(expected);
  });

  it.each([
    // DST edges. London springs forward 2027-03-28 01:00 GMT → 02:00 BST: 01:30 never happens.
    ['2027-03-28 00:59', 'Europe/London', '2027-03-28T00:59:00.000Z'],
    [
      '2027-03-28 01:30',
      'Europe/London',
      'does not exist in Europe/London (the clocks skip it when daylight saving time starts)',
    ],
    ['2027-03-28 02:00', 'Europe/London', '2027-03-28T01:00:00.000Z'],
    // London falls back 2026-10-25 02:00 BST → 01:00 GMT: 01:30 happens twice; the earlier is taken.
    ['2026-10-25 01:30', 'Europe/London', '2026-10-25T00:30:00.000Z'],
    ['2026-10-25 02:00', 'Europe/London', '2026-10-25T02:00:00.000Z'],
    // New York: 2027-03-14 02:30 does not exist; 2026-11-01 01:30 happens twice (EDT first).
    [
      '2027-03-14 02:30',
      'America/New_York',
      'does not exist in America/New_York (the clocks skip it when daylight saving time starts)',
    ],
    ['2026-11-01 01:30', 'America/New_York', '2026-11-01T05:30:00.000Z'],
  ])('DST edge: %s in %s → %s', (value, zone, expected) => {
    expect(iso(value, zone)).toBe(expected);
  });

  it.each([
    ['2026-12-01 09:00', undefined, /^has no zone: pass --timezone <IANA zone>/],
    ['2026-02-30 09:00', 'Europe/London', /^is not a valid date and time/],
    ['2026-12-01 24:00', 'Europe/London', /^is not a valid date and time/],
    ['01/12/2026 09:00', 'Europe/London', /^must be an ISO 8601 time with a zone/],
    ['tomorrow', undefined, /^must be an ISO 8601 time with a zone/],
    // A zoned time is checked as strictly as a local one: no date rolled over into the next month.
    ['2026-11-31T09:00:00Z', undefined, /^is not a valid time/],
    ['2026-02-30T09:00+01:00', undefined, /^is not a valid time/],
    ['2026-12-01T09:00:00+14:30', undefined, /^is not a valid time/],
    ['2026-12-01T09:00:00-12:30', undefined, /^is not a valid time/],
  ])('refuses %s (zone %s)', (value, zone, rule) => {
    expect(iso(value, zone)).toMatch(rule);
  });

  it('refuses an unknown zone before reading, naming where it came from', () => {
    expect(() => checkTimeZone('Mars/Olympus', '--timezone')).toThrow(
      '--timezone: "Mars/Olympus" is not an IANA time zone',
    );
    expect(checkTimeZone('Europe/Paris', '--timezone')).toBe('Europe/Paris');
  });
});

describe('scheduledTimeRule (checked again when the row is sent, against the clock then)', () => {
  const at = new Date('2026-12-01T09:00:00Z');
  it.each([
    ['an hour before', '2026-12-01T08:00:00Z', undefined],
    ['the same instant', '2026-12-01T09:00:00Z', undefined],
    ['a second after', '2026-12-01T09:00:01Z', 'must not be in the past'],
    ['90 days before', '2026-09-02T09:00:00Z', undefined],
    ['90 days and a minute before', '2026-09-02T08:59:00Z', 'must be at most 90 days ahead'],
  ])('a row due at 09:00 sent %s is %s', (_when, now, expected) => {
    expect(scheduledTimeRule(at, new Date(now))).toBe(expected);
  });
});
