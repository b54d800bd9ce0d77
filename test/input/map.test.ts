import { describe, expect, it } from 'vitest';
import { compileMapping, mapRecord, parseTime } from '../../src/input/map.js';
import { describeViolations, validateRow } from '../../src/input/validate.js';

const now = new Date('2026-11-24T12:00:00Z');
const defaults = {
  defaults: { InstanceId: 'inst', ContactFlowId: 'flow' },
  defaultSources: { InstanceId: '--instance-id', ContactFlowId: '--contact-flow-id' },
};

function mapOne(header: string[], values: string[], task?: Record<string, unknown>) {
  const mapping = compileMapping(header, { task, ...defaults });
  return mapRecord(mapping, { line: 2, values });
}

describe('column convention', () => {
  it('maps member, attribute and reference columns; carries the rest; skips Result.* and empty cells', () => {
    const r = mapOne(
      [
        'Name',
        'Description',
        'Attributes.priority',
        'Attributes.empty',
        'References.crm ticket.URL',
        'Owner',
        'Result.Status',
        'PreviousContactId',
      ],
      ['Call back', 'Line 1\nLine 2', 'high', '', 'https://crm/1', 'team-a', 'created', ''],
    );
    expect(r.ok && r.row.request).toEqual({
      Name: 'Call back',
      Description: 'Line 1\nLine 2',
      Attributes: { priority: 'high' },
      References: { 'crm ticket': { Type: 'URL', Value: 'https://crm/1' } },
      InstanceId: 'inst',
      ContactFlowId: 'flow',
    });
  });

  it('prefers a row value over a flag, and a flag does not add a second route', () => {
    const r = mapOne(['Name', 'InstanceId', 'TaskTemplateId'], ['n', 'row-inst', 'tmpl']);
    expect(r.ok && r.row.request).toEqual({ Name: 'n', InstanceId: 'row-inst', TaskTemplateId: 'tmpl' });
  });

  it('uses the last dot-separated part as the reference type', () => {
    const r = mapOne(['Name', 'References.a.b.NUMBER'], ['n', '42']);
    expect(r.ok && r.row.request.References).toEqual({ 'a.b': { Type: 'NUMBER', Value: '42' } });
  });

  it.each([
    [['Name', 'Attributes.ticket id'], /attribute key "ticket id" may contain only letters/],
    [['Name', 'References.link.PHONE'], /reference type "PHONE" is not one a task accepts/],
    [['Name', 'References.noType'], /References.<name>.<TYPE>/],
    [['Name', 'Name'], /repeats the mapped column/],
  ])('refuses a bad header %j before anything is sent', (header, message) => {
    expect(() => compileMapping(header, defaults)).toThrow(message);
  });

  it('flags a record with the wrong number of fields', () => {
    const r = mapOne(['Name', 'Description'], ['only one']);
    expect(r.ok).toBe(false);
    expect(!r.ok && describeViolations(r.violations)).toBe(
      'record: has 1 fields but the header has 2 (a stray quote or delimiter?)',
    );
  });
});

describe('job file templates', () => {
  const header = ['Ticket ID', 'Ticket Subject', 'Ticket Description', 'Ticket Priority', 'Due'];
  const task = {
    Name: '{{Ticket Subject}} (#{{ Ticket ID }})',
    Description: '{{Ticket Description}}',
    ScheduledTime: '{{Due}}',
    Attributes: { ticketId: '{{Ticket ID}}', priority: '{{Ticket Priority}}', source: 'crm-export' },
    References: { ticket: { Type: 'URL', Value: 'https://crm.example.com/tickets/{{Ticket ID}}' } },
  };

  it('fills templates once: a cell holding {{x}} stays literal text', () => {
    const r = mapOne(
      header,
      ['17', 'Refund', 'Issue with the {{product_purchased}} and {product}', 'High', '2026-12-01T09:00:00Z'],
      task,
    );
    expect(r.ok && r.row.request).toMatchObject({
      Name: 'Refund (#17)',
      Description: 'Issue with the {{product_purchased}} and {product}',
      ScheduledTime: new Date('2026-12-01T09:00:00Z'),
      Attributes: { ticketId: '17', priority: 'High', source: 'crm-export' },
      References: { ticket: { Type: 'URL', Value: 'https://crm.example.com/tickets/17' } },
    });
  });

  it('treats a template whose columns are all empty as absent, and names the empty column', () => {
    const r = mapOne(header, ['', '', 'text', '', ''], task);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.row.request.Name).toBeUndefined();
    expect(r.row.request.Attributes).toEqual({ source: 'crm-export' });
    expect(describeViolations(validateRow(r.row, now))).toBe('column "Ticket Subject, Ticket ID" (Name): is required');
  });

  it('names the column of a broken rule', () => {
    const r = mapOne(header, ['1', 's'.repeat(1030), 'd', 'p', ''], task);
    expect(r.ok && describeViolations(validateRow(r.row, now))).toBe(
      'column "Ticket Subject, Ticket ID" (Name): must be at most 1024 characters (found 1035)',
    );
  });

  it('refuses an unknown column or member before anything is sent', () => {
    expect(() => compileMapping(header, { task: { Name: '{{Subject}}' } })).toThrow(/no column named "Subject"/);
    expect(() => compileMapping(header, { task: { Channel: 'x' } })).toThrow(
      /task.Channel is not a StartTaskContact member/,
    );
  });

  it('reports an unparseable ScheduledTime by column', () => {
    const r = mapOne(header, ['1', 's', 'd', 'p', '01-12-2026 09:00'], task);
    expect(!r.ok && describeViolations(r.violations)).toMatch(
      /^column "Due" \(ScheduledTime\): must be an ISO 8601 time with a zone \(2026-12-01T09:00:00Z, .*epoch seconds, or a local time \(2026-12-01 09:00\) with --timezone <IANA zone>$/,
    );
  });
});

describe('parseTime', () => {
  it.each([
    ['2026-12-01T09:00:00Z', '2026-12-01T09:00:00.000Z'],
    ['2026-12-01T10:00+01:00', '2026-12-01T09:00:00.000Z'],
    ['1796115600', '2026-12-01T09:00:00.000Z'],
    ['2026-12-01T09:00:00', undefined],
    ['2026-12-01', undefined],
    ['tomorrow', undefined],
  ])('%s', (input, expected) => {
    expect(parseTime(input)?.toISOString()).toBe(expected);
  });
});
