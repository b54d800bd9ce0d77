/**
 * ScheduledTime values as people write them: ISO 8601 with a zone, epoch seconds, or a local wall
 * time (`2026-12-01 09:00`) read in an IANA zone given by `--timezone` / the job file's `timezone`.
 * Pure; zone offsets come from Intl (the ICU data Node ships), so no time-zone library is needed.
 */
import { UsageError } from '../errors.js';

const ZONED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const EPOCH_SECONDS = /^\d{9,11}$/;
/** The documented local format: date, `T` or a space, hours and minutes, optional seconds. */
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?$/;

const TIME_FORMS =
  'an ISO 8601 time with a zone (2026-12-01T09:00:00Z, 2026-12-01T10:00+01:00), epoch seconds, or a local time ' +
  '(2026-12-01 09:00) with --timezone <IANA zone>';

export type TimeParse = { ok: true; date: Date } | { ok: false; rule: string };

/** Parses one ScheduledTime cell; `timeZone` (already checked by `checkTimeZone`) reads local times. */
export function parseScheduledTime(value: string, timeZone?: string): TimeParse {
  const text = value.trim();
  if (EPOCH_SECONDS.test(text)) return { ok: true, date: new Date(Number(text) * 1000) };
  if (ZONED.test(text)) {
    const date = new Date(text);
    // new Date() rolls 2026-11-31 over into December: a date or offset that does not exist is refused.
    return Number.isNaN(date.getTime()) || !realZoned(text)
      ? { ok: false, rule: `is not a valid time: must be ${TIME_FORMS}` }
      : { ok: true, date };
  }
  const m = LOCAL.exec(text);
  if (!m) return { ok: false, rule: `must be ${TIME_FORMS}` };
  if (!timeZone)
    return {
      ok: false,
      rule: `has no zone: pass --timezone <IANA zone> (or "timezone" in the job file), or write ${TIME_FORMS}`,
    };
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((p) => Number(p ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const wall = Date.UTC(y, mo - 1, d, h, mi, s, Number((m[7] ?? '0').padEnd(3, '0')));
  const back = new Date(wall);
  // Date.UTC rolls 2026-02-30 over into March: a date that does not exist is refused, not moved.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return { ok: false, rule: `is not a valid date and time: must be ${TIME_FORMS}` };
  }
  const date = zonedToUtc(wall, timeZone);
  if (!date)
    return { ok: false, rule: `does not exist in ${timeZone} (the clocks skip it when daylight saving time starts)` };
  return { ok: true, date };
}

/** The calendar date, clock time and offset of an ISO 8601 time exist (offsets run from -12:00 to +14:00). */
function realZoned(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?[^Z+-]*(?:Z|([+-])(\d{2}):?(\d{2}))$/i.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map((p) => Number(p ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59) return false;
  if (!m[7]) return true; // Z
  const offset = Number(m[8]) * 60 + Number(m[9]);
  return Number(m[9]) < 60 && offset <= (m[7] === '+' ? 14 * 60 : 12 * 60);
}

/**
 * The instant at which the wall clock in `timeZone` shows `wall` (given as if it were UTC ms).
 * A wall time that occurs twice (clocks going back) is the earlier instant; one that never occurs
 * (clocks going forward) is undefined. Assumes at most one offset change within a day either side.
 */
function zonedToUtc(wall: number, timeZone: string): Date | undefined {
  const DAY = 86_400_000;
  const offsets = new Set([offsetAt(wall - DAY, timeZone), offsetAt(wall + DAY, timeZone)]);
  const candidates = [...offsets].map((o) => wall - o).filter((t) => offsetAt(t, timeZone) === wall - t);
  if (candidates.length === 0) return undefined;
  return new Date(Math.min(...candidates));
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC in ms at instant `utc`. */
function offsetAt(utc: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(utc)).map((x) => [x.type, x.value]));
  const shown = Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!);
  return shown - Math.floor(utc / 1000) * 1000;
}

/** Refuses an unknown zone before anything is read, naming where it came from. */
export function checkTimeZone(timeZone: string | undefined, where: string): string | undefined {
  if (timeZone === undefined) return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new UsageError(`${where}: "${timeZone}" is not an IANA time zone (e.g. Europe/London, America/New_York)`);
  }
  return timeZone;
}
