/**
 * SegmentAttributes and Attachments, from columns and from job files, through the real SDK to the
 * emulator and read back from `/__emulator/tasks`; the two sample job files imported end to end.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { runImport } from '../../src/run/run.js';
import { readResults, ROUTE as route, tempDir, writeCsv } from '../helpers.js';

const SAMPLES = resolve(import.meta.dirname, '../../samples');

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ rate: 1000, burst: 100 });
});
afterAll(() => emulator.close());

interface WireTask {
  Name: string;
  ScheduledTime?: string;
  Attributes?: Record<string, string>;
  References?: Record<string, { Type: string; Value: string }>;
  SegmentAttributes?: Record<string, unknown>;
  Attachments?: { FileName: string; S3Url: string }[];
}

/** What the emulator stored, as its control route serves it (JSON over HTTP). */
async function tasksNamed(prefix: string): Promise<WireTask[]> {
  const all = (await (await fetch(`${emulator.url}/__emulator/tasks`)).json()) as WireTask[];
  return all.filter((t) => t.Name.startsWith(prefix));
}

describe('new members through the real SDK', () => {
  it(
    'maps SegmentAttributes.<key> (JSON ValueMap/ValueInteger, ' + 'plain text) and Attachments.<n>.* columns',
    async () => {
      const expiry = '{"ValueMap":{"ExpiryDuration":{"ValueInteger":135}}}';
      const input = writeCsv([
        [
          'Name',
          'SegmentAttributes.connect:ContactExpiry',
          'SegmentAttributes.connect:CreatedByUser',
          'Attachments.1.FileName',
          'Attachments.1.S3Url',
          'Attachments.2.FileName',
          'Attachments.2.S3Url',
        ],
        [
          'Seg A',
          expiry,
          'arn:aws:connect:us-east-1:123456789012:instance/x/agent/y',
          'a.pdf',
          'https://b.s3.amazonaws.com/a.pdf?sig=1',
          'b.png',
          'https://b.s3.amazonaws.com/b.png?sig=2',
        ],
        ['Seg B', '', 'plain text', '', '', '', ''],
        ['Seg C', '', '', 'lonely.pdf', '', '', ''],
        ['Seg D', '{not json', '', '', '', '', ''],
      ]);
      const summary = await runImport({ input, endpoint: emulator.url, rate: 1000, burst: 100, ...route });
      expect(summary.rows).toMatchObject({ total: 4, created: 2, invalid: 2 });

      const [a] = await tasksNamed('Seg A');
      expect(a!.SegmentAttributes).toEqual({
        'connect:ContactExpiry': { ValueMap: { ExpiryDuration: { ValueInteger: 135 } } },
        'connect:CreatedByUser': { ValueString: 'arn:aws:connect:us-east-1:123456789012:instance/x/agent/y' },
      });
      expect(a!.Attachments).toEqual([
        { FileName: 'a.pdf', S3Url: 'https://b.s3.amazonaws.com/a.pdf?sig=1' },
        { FileName: 'b.png', S3Url: 'https://b.s3.amazonaws.com/b.png?sig=2' },
      ]);
      const [b] = await tasksNamed('Seg B');
      expect(b!.SegmentAttributes).toEqual({ 'connect:CreatedByUser': { ValueString: 'plain text' } });
      expect(b!.Attachments).toBeUndefined();

      const byLine = new Map(readResults(summary.results).map((r) => [r['Result.Line'], r]));
      expect(byLine.get('4')!['Result.ErrorMessage']).toBe(
        'column "Attachments.1.S3Url": is empty while Attachments.1.FileName is set: an attachment needs both',
      );
      expect(byLine.get('5')!['Result.ErrorMessage']).toMatch(
        /^column "SegmentAttributes.connect:ContactExpiry": starts with "\{" but is not valid JSON/,
      );
    },
  );

  it('keys named like object internals (__proto__, constructor) reach the service as keys', async () => {
    const input = writeCsv([
      [
        'Name',
        'Attributes.__proto__',
        'Attributes.constructor',
        'Attributes.ok',
        'References.__proto__.URL',
        'SegmentAttributes.__proto__',
      ],
      ['Proto A', 'p', 'c', '1', 'https://crm/1', 'seg'],
    ]);
    const summary = await runImport({ input, endpoint: emulator.url, rate: 1000, burst: 100, ...route });
    expect(summary.rows).toMatchObject({ total: 1, created: 1 });
    const [a] = await tasksNamed('Proto A');
    expect(Object.entries(a!.Attributes!)).toEqual([
      ['__proto__', 'p'],
      ['constructor', 'c'],
      ['ok', '1'],
    ]);
    expect(Object.entries(a!.References!)).toEqual([['__proto__', { Type: 'URL', Value: 'https://crm/1' }]]);
    expect(Object.entries(a!.SegmentAttributes!)).toEqual([['__proto__', { ValueString: 'seg' }]]);
  });

  it(
    'imports samples/case-attachments.csv with its job file: structured SegmentAttributes, two attachments, ' +
      'a rename',
    async () => {
      const dir = tempDir();
      const input = join(dir, 'cases.csv');
      writeFileSync(input, readFileSync(join(SAMPLES, 'case-attachments.csv')));
      const summary = await runImport({
        input,
        job: join(SAMPLES, 'case-attachments.job.json'),
        endpoint: emulator.url,
        rate: 1000,
        burst: 100,
        ...route,
      });
      expect(summary.rows).toMatchObject({ total: 4, created: 3, invalid: 1 });

      const [claim] = await tasksNamed('Damaged parcel claim');
      expect(claim!.SegmentAttributes).toEqual({
        'connect:ContactExpiry': { ValueMap: { ExpiryDuration: { ValueInteger: 1440 } } },
        'connect:Subtype': { ValueString: 'connect:Claims' },
      });
      expect(claim!.Attachments!.map((x) => x.FileName)).toEqual(['photo-1.jpg', 'courier-note.pdf']);
      expect(claim!.Attributes).toEqual({ owner: 'team-claims', caseId: 'C-501' });
      const [renewal] = await tasksNamed('Contract renewal');
      expect(renewal!.Attachments).toHaveLength(1);
      const [address] = await tasksNamed('Address change');
      expect(address!.SegmentAttributes).toBeUndefined();
      expect(address!.Attachments).toBeUndefined();
      const refund = readResults(summary.results).find((r) => r.Case === 'C-504')!;
      expect(refund['Result.ErrorMessage']).toBe(
        'column "Doc 2 Link" (Attachments.2.S3Url): is empty while Attachments.2.FileName is set: an attachment ' +
          'needs both',
      );
    },
  );

  it(
    'imports samples/scheduled-callbacks.csv with ' + '--timezone: local wall times become the right instants',
    async () => {
      // The sample's dates are moved to the coming days (ScheduledTime must be ahead, ≤ 90 days).
      const rows = parse(readFileSync(join(SAMPLES, 'scheduled-callbacks.csv')), { columns: true }) as Record<
        string,
        string
      >[];
      const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
      rows.forEach((r, i) => {
        r['Callback At'] = `${day(2 + (i % 2))} ${r['Callback At']!.slice(11)}`;
      });
      const input = join(tempDir(), 'callbacks.csv');
      writeFileSync(input, stringify(rows, { header: true }));

      const summary = await runImport({
        input,
        job: join(SAMPLES, 'scheduled-callbacks.job.json'),
        timezone: 'America/New_York',
        endpoint: emulator.url,
        rate: 1000,
        burst: 100,
        ...route,
      });
      expect(summary.rows).toMatchObject({ total: 5, created: 5 });
      const [ada] = await tasksNamed('Call back Ada Lovelace');
      const expected = new Date(`${day(2)}T09:30:00${newYorkOffset(`${day(2)}T12:00:00Z`)}`);
      expect(new Date(ada!.ScheduledTime!).toISOString()).toBe(expected.toISOString());
      expect(ada!.Attributes).toEqual({ channel: 'web', language: 'en' });
      expect(ada!.References).toEqual({ booking: { Type: 'URL', Value: 'https://bookings.example.com/BK-1001' } });
    },
  );

  it('without --timezone, a local ScheduledTime is an invalid row naming the column and the rule', async () => {
    const input = writeCsv([
      ['Name', 'When'],
      ['Local', '2027-01-12 09:30'],
    ]);
    const summary = await runImport({
      input,
      job: { columns: { When: 'ScheduledTime' } },
      endpoint: emulator.url,
      ...route,
    });
    expect(summary.rows).toMatchObject({ invalid: 1 });
    expect(readResults(summary.results)[0]!['Result.ErrorMessage']).toMatch(
      /^column "When" \(ScheduledTime\): has no zone: pass --timezone <IANA zone>/,
    );
  });
});

/** "-05:00" or "-04:00": New York's offset at that instant, by Intl, written for an ISO string. */
function newYorkOffset(at: string): string {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', timeZoneName: 'longOffset' })
    .formatToParts(new Date(at))
    .find((p) => p.type === 'timeZoneName')!.value;
  return name.replace('GMT', '') || 'Z';
}
