import { describe, expect, it } from 'vitest';
import { DuplicateTokens } from '../../src/input/duplicates.js';
import { compileMapping, mapRecord } from '../../src/input/map.js';
import { makePreparer } from '../../src/input/prepare.js';
import { describeViolations, PreviousContactChains } from '../../src/input/validate.js';

const defaults = {
  defaults: { InstanceId: 'inst', ContactFlowId: 'flow' },
  defaultSources: { InstanceId: '--instance-id', ContactFlowId: '--contact-flow-id' },
};
const silent = { warn() {} };

describe('job file renames and attributesFrom', () => {
  const header = ['Subject', 'Prio', 'attr_tier', 'attr_secret', 'Owner', 'Due', 'Result.Status'];

  it('renames columns to convention headers and takes attributes by prefix', () => {
    const mapping = compileMapping(header, {
      columns: { Subject: 'Name', Prio: 'Attributes.priority', Due: 'ScheduledTime' },
      attributesFrom: { prefix: 'attr_', except: ['attr_secret'] },
      timeZone: 'Europe/London',
      ...defaults,
    });
    const r = mapRecord(mapping, {
      line: 2,
      values: ['Call', 'high', 'gold', 's3cret', 'team-a', '2026-12-01 09:00', 'created'],
    });
    expect(r.ok && r.row.request).toEqual({
      Name: 'Call',
      Attributes: { priority: 'high', tier: 'gold' },
      ScheduledTime: new Date('2026-12-01T09:00:00Z'),
      InstanceId: 'inst',
      ContactFlowId: 'flow',
    });
    expect(mapping.used).toEqual([true, true, true, false, false, true, false]);
  });

  it('takes every unused column with unmapped, and says how to fix a column that cannot be a key', () => {
    const mapping = compileMapping(['Name', 'Owner', 'tier'], { attributesFrom: { unmapped: true }, ...defaults });
    expect(mapRecord(mapping, { line: 2, values: ['n', 'a', 'b'] })).toMatchObject({
      ok: true,
      row: { request: { Attributes: { Owner: 'a', tier: 'b' } } },
    });
    expect(() => compileMapping(['Name', 'Case Owner'], { attributesFrom: { unmapped: true } })).toThrow(
      'attributesFrom: column "Case Owner": attribute key "Case Owner" may contain only letters, digits, "-" and ' +
        '"_": rename it in "columns" (e.g. "Case Owner": "Attributes.Case_Owner") or list it in ' +
        'attributesFrom.except',
    );
  });

  it.each([
    [{ columns: { Nope: 'Name' } }, 'columns."Nope": no column named "Nope"'],
    [{ columns: { Subject: 'Title' } }, 'columns."Subject": "Title" is not a column the convention maps'],
    [{ columns: { Subject: 'Name', Prio: 'Name' } }, 'both map to Name'],
    [{ attributesFrom: { unmapped: true, except: ['Nope'] } }, 'attributesFrom.except names "Nope"'],
  ])('refuses %j before anything is sent', (options, message) => {
    expect(() => compileMapping(['Subject', 'Prio'], options)).toThrow(message);
  });

  it('refuses a header that maps only one half of an attachment', () => {
    expect(() => compileMapping(['Name', 'Attachments.1.FileName'])).toThrow(
      'maps Attachments.1.FileName but not Attachments.1.S3Url',
    );
    expect(() => compileMapping(['Name', 'Attachments.6.FileName'])).toThrow('n = 1 to 5');
  });

  it('renders a structured SegmentAttributes template; a ValueInteger must be whole', () => {
    const task = {
      Name: '{{N}}',
      SegmentAttributes: { 'connect:ContactExpiry': { ValueMap: { ExpiryDuration: { ValueInteger: '{{Min}}' } } } },
    };
    const mapping = compileMapping(['N', 'Min'], { task, ...defaults });
    expect(mapRecord(mapping, { line: 2, values: ['n', '90'] })).toMatchObject({
      ok: true,
      row: {
        request: {
          SegmentAttributes: { 'connect:ContactExpiry': { ValueMap: { ExpiryDuration: { ValueInteger: 90 } } } },
        },
      },
    });
    expect(mapRecord(mapping, { line: 2, values: ['n', ''] })).toMatchObject({
      ok: true,
      row: { request: { Name: 'n' } },
    });
    const bad = mapRecord(mapping, { line: 2, values: ['n', 'soon'] });
    expect(!bad.ok && describeViolations(bad.violations)).toBe(
      'column "Min" (SegmentAttributes.connect:ContactExpiry): ValueInteger must be a whole number',
    );
  });
});

describe('rules across rows and at send time', () => {
  const prepare = (header: string[], options: Partial<Parameters<typeof makePreparer>[0]> = {}) =>
    makePreparer({
      mapping: compileMapping(header, defaults),
      tokenNamespace: 'ns',
      duplicates: new DuplicateTokens(silent),
      ...options,
    });

  it.each([
    // distinct chains, rows per chain
    [1, 20],
    [3_000, 13], // past the table's first doublings
    [200_000, 1],
  ])(
    'PreviousContactId chains kept by fingerprint: %i chains of %i rows, the 13th and later of each invalid',
    (chains, per) => {
      const c = new PreviousContactChains();
      const row = (id: string) =>
        ({ request: { PreviousContactId: id }, sources: new Map([['PreviousContactId', ['Prev']]]) }) as never;
      const bad: string[] = [];
      let line = 2;
      for (let round = 0; round < per; round++) {
        for (let i = 0; i < chains; i++, line++) {
          const v = c.check(row(`contact-${i}`), line);
          if (v) bad.push(`${i}:${v.rule.replace(/^.*would be number (\d+); the first is line (\d+)\)$/, '$1@$2')}`);
        }
      }
      const expected = [];
      for (let round = 12; round < per; round++)
        for (let i = 0; i < chains; i++) expected.push(`${i}:${round + 1}@${i + 2}`);
      expect(bad).toEqual(expected);
    },
  );

  it('makes the 13th row sharing a PreviousContactId invalid, naming its line and the first', () => {
    const p = prepare(['Name', 'PreviousContactId']);
    const jobs = Array.from({ length: 14 }, (_, i) =>
      p({ line: i + 2, values: [`t${i}`, i === 5 ? 'other' : 'prev-1'] }),
    );
    expect(jobs.filter((j) => j.result).map((j) => j.record.line)).toEqual([15]);
    expect(jobs[13]!.result!.errorMessage).toBe(
      'column "PreviousContactId": at most 12 tasks may share one PreviousContactId in a file (line 15 would be ' +
        'number 13; the first is line 2)',
    );
  });

  it('checks ScheduledTime again when the row is about to be sent, against the clock then', () => {
    let now = new Date('2026-12-01T08:59:00Z');
    const p = prepare(['Name', 'ScheduledTime'], { clock: () => now });
    const job = p({ line: 2, values: ['n', '2026-12-01T09:00:00Z'] });
    expect(job.result).toBeUndefined();
    expect(job.lateCheck!()).toBeUndefined();
    now = new Date('2026-12-01T09:00:01Z');
    expect(job.lateCheck!()).toBe(
      'column "ScheduledTime": must not be in the past (checked when the row was about to be sent)',
    );
  });

  it('waives the missing instance and routing per row when the caller reports them once (validate)', () => {
    const p = makePreparer({
      mapping: compileMapping(['Name']),
      tokenNamespace: 'ns',
      duplicates: new DuplicateTokens(silent),
      waive: { instance: true, routing: true },
    });
    expect(p({ line: 2, values: ['n'] }).result).toBeUndefined();
    expect(p({ line: 3, values: [''] }).result!.errorMessage).toBe('column "Name": is required');
  });
});
