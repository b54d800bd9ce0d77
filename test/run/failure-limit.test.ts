/** The failure limit's decision: when a run stops taking rows, from the answers its rows had. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FAILURES, type MaxFailures, PERCENT_SAMPLE, setting } from '../../src/config/settings.js';
import { dominant, FailureLimit, limitPassed, type Tally } from '../../src/run/failure-limit.js';
import type { RowResult } from '../../src/types.js';

const tally = (created: number, byCode: Record<string, number>): Tally => {
  const codes = new Map(Object.entries(byCode));
  let failed = 0;
  for (const n of codes.values()) failed += n;
  return { created, failed, byCode: codes };
};
const NOT_FOUND = 'ResourceNotFoundException';

describe('limitPassed', () => {
  it.each<[string, MaxFailures | undefined, Tally, boolean]>([
    // A count: stops at that many failed rows, created ones or not.
    ['a count, below it', 50, tally(0, { [NOT_FOUND]: 49 }), false],
    ['a count, reached', 50, tally(1_000, { [NOT_FOUND]: 30, InternalServiceException: 20 }), true],
    ['a count of 1, the first failed row', 1, tally(0, { InvalidParameterException: 1 }), true],
    ['a count of 1, no failure yet', 1, tally(10, {}), false],
    ['0: never, however many failed', 0, tally(0, { [NOT_FOUND]: 1_000_000 }), false],
    // A percentage: more than it of the rows answered, once enough are answered.
    ['5%, before the sample', '5%', tally(0, { [NOT_FOUND]: PERCENT_SAMPLE - 1 }), false],
    ['5%, at the sample, all failed', '5%', tally(0, { [NOT_FOUND]: PERCENT_SAMPLE }), true],
    ['5%, exactly 5% is tolerated', '5%', tally(95, { X: 5 }), false],
    ['5%, just past it', '5%', tally(94, { X: 6 }), true],
    ['10%, 10 of 100 is not more', '10%', tally(90, { X: 10 }), false],
    ['2.5%, 3 of 100', '2.5%', tally(97, { X: 3 }), true],
    ['100%: never, every row failed', '100%', tally(0, { X: 500 }), false],
    // The default (no --max-failures): a wrong target's signature only.
    ['default, one wrong-target code, at the limit', undefined, tally(0, { [NOT_FOUND]: DEFAULT_MAX_FAILURES }), true],
    [
      'default, one wrong-target code, one short',
      undefined,
      tally(0, { [NOT_FOUND]: DEFAULT_MAX_FAILURES - 1 }),
      false,
    ],
    ['default, InvalidParameterException', undefined, tally(0, { InvalidParameterException: 25 }), true],
    ['default, InvalidRequestException', undefined, tally(0, { InvalidRequestException: 25 }), true],
    ['default, AccessDeniedException as a refusal', undefined, tally(0, { AccessDeniedException: 25 }), true],
    ['default, off once a row was created', undefined, tally(1, { [NOT_FOUND]: 500 }), false],
    [
      'default, two codes: not one cause',
      undefined,
      tally(0, { [NOT_FOUND]: 30, InvalidParameterException: 1 }),
      false,
    ],
    ['default, a code outside the list (5xx exhausted)', undefined, tally(0, { InternalServiceException: 500 }), false],
    ['default, the active-task cap', undefined, tally(0, { ServiceQuotaExceededException: 500 }), false],
    ['default, nothing failed', undefined, tally(500, {}), false],
  ])('%s', (_name, limit, t, expected) => {
    expect(limitPassed(limit, t)).toBe(expected);
  });
});

describe('dominant', () => {
  it('the code most failed rows have; the first to get there on a tie', () => {
    expect(
      dominant(
        new Map([
          ['A', 2],
          ['B', 5],
          ['C', 5],
        ]),
      ),
    ).toEqual({ code: 'B', count: 5 });
    expect(dominant(new Map())).toEqual({ code: 'none', count: 0 });
  });
});

const created = (line: number): RowResult => ({ line, status: 'created', clientToken: 't', attempts: 1 });
const failed = (line: number, errorCode = NOT_FOUND): RowResult => ({
  line,
  status: 'failed',
  clientToken: 't',
  attempts: 1,
  errorCode,
});
const invalid = (line: number): RowResult => ({ line, status: 'invalid', attempts: 0, errorCode: 'InvalidRow' });

describe('FailureLimit', () => {
  it('says so once, for the row that passes the limit; later rows (in flight then) are still counted', () => {
    const limit = new FailureLimit(3);
    expect([1, 2, 3, 4, 5].map((n) => limit.answered(failed(n)))).toEqual([false, false, true, false, false]);
    expect(limit.stop()).toEqual({ limit: '3', sent: 5, failed: 5, dominant: { code: NOT_FOUND, count: 5 } });
  });

  it('counts neither invalid rows nor planned ones', () => {
    const limit = new FailureLimit(2);
    for (let n = 0; n < 100; n++) expect(limit.answered(invalid(n))).toBe(false);
    expect(limit.answered({ line: 1, status: 'planned', attempts: 0 })).toBe(false);
    expect(limit.answered(failed(1))).toBe(false);
    expect(limit.answered(failed(2))).toBe(true);
    expect(limit.stop()).toMatchObject({ sent: 2, failed: 2 });
  });

  it('the default: stops a run whose rows all fail alike, never one that created a row', () => {
    const wrongId = new FailureLimit(undefined);
    const verdicts = Array.from({ length: DEFAULT_MAX_FAILURES }, (_, i) => wrongId.answered(failed(i)));
    expect(verdicts.indexOf(true)).toBe(DEFAULT_MAX_FAILURES - 1);
    expect(wrongId.stop()).toMatchObject({ limit: 'default', failed: DEFAULT_MAX_FAILURES });

    const oneCreated = new FailureLimit(undefined);
    oneCreated.answered(created(1));
    for (let n = 2; n < 1_000; n++) expect(oneCreated.answered(failed(n))).toBe(false);
  });

  it('a percentage names the share given, and its dominant code', () => {
    const limit = new FailureLimit('5%');
    let fired = -1;
    for (let n = 1; n <= 200 && fired < 0; n++) {
      if (limit.answered(n % 10 === 0 ? failed(n, 'InvalidParameterException') : created(n))) fired = n;
    }
    expect(fired).toBe(PERCENT_SAMPLE);
    expect(limit.stop()).toEqual({
      limit: '5%',
      sent: PERCENT_SAMPLE,
      failed: 5,
      dominant: { code: 'InvalidParameterException', count: 5 },
    });
  });
});

describe('--max-failures values', () => {
  const parse = (v: string) => setting('maxFailures').parse(v);
  const check = (v: unknown) => setting('maxFailures').check!(v);
  it.each([
    ['50', 50],
    [' 7 ', 7],
    ['0', 0],
    ['5%', '5%'],
    ['2.5 %', '2.5%'],
    ['100%', '100%'],
    ['.5%', '0.5%'],
  ])('%j → %j', (text, value) => {
    expect(parse(text)).toBe(value);
  });
  it.each([
    ['-1', /a count of failed rows \(e\.g\. 50\), a percentage .*or 0 for no limit \(got "-1"\)/],
    ['2.5', /a count of failed rows.*\(got "2\.5"\)/],
    ['ten', /\(got "ten"\)/],
    ['', /\(got ""\)/],
    ['5%%', /\(got "5%%"\)/],
    ['101%', /at most 100% \(got "101%"\)/],
    ['0%', /0% would stop at the first failed row: write 1 for that, or 0 for no limit/],
    ['2000000000', /at most 1,000,000,000/],
  ])('%j is refused', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });
  it('a job file or a library caller gives a number or the same text', () => {
    expect(check(12)).toBe(12);
    expect(check('5%')).toBe('5%');
    expect(() => check(-3)).toThrow(/got -3/);
    expect(() => check(1.5)).toThrow(/got 1\.5/);
  });
});
