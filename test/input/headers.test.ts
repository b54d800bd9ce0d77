import { describe, expect, it } from 'vitest';
import {
  delimiterHint,
  editDistance,
  headerInMessage,
  looksLikeRecord,
  suspiciousHeaders,
} from '../../src/input/headers.js';

const warn = (column: string) => suspiciousHeaders([column], [false])[0];

describe('suspiciousHeaders', () => {
  it.each([
    ['Attribute.priority', 'Attributes.priority'],
    ['Attributes priority', 'Attributes.priority'],
    ['attributes.priority', 'Attributes.priority'],
    ['Atributes_priority', 'Attributes.priority'],
    ['Reference.ticket.URL', 'References.ticket.URL'],
    ['Reference.ticket', 'References.ticket.URL'],
    ['Segmentattributes.connect:Subtype', 'SegmentAttributes.connect:Subtype'],
    ['Descripton', 'Description'],
    ['Desciption', 'Description'],
    ['name', 'Name'],
    ['NAME', 'Name'],
    ['Name ', 'Name'],
    ['Scheduled Time', 'ScheduledTime'],
    ['scheduled_time', 'ScheduledTime'],
    ['ContactFlowID', 'ContactFlowId'],
    ['Instance Id', 'InstanceId'],
    ['PreviousContactID', 'PreviousContactId'],
    ['ClientTokn', 'ClientToken'],
  ])('%s looks like %s', (column, suggestion) => {
    expect(warn(column)?.suggestion).toBe(suggestion);
  });

  it.each([
    'Owner',
    'Notes',
    'Ticket ID',
    'Customer Name',
    'Due',
    'Priority',
    'Result.Status',
    'Date',
    'Type',
    'Agent Notes',
  ])('%s is an ordinary carried column', (column) => {
    expect(warn(column)).toBeUndefined();
  });

  it('says why and ignores columns the mapping uses', () => {
    expect(suspiciousHeaders(['name', 'Descripton'], [true, false])).toEqual([
      { column: 'Descripton', suggestion: 'Description', why: 'a near miss' },
    ]);
    expect(warn('name')!.why).toBe('headers are case-sensitive');
  });
});

describe('delimiterHint', () => {
  it.each([
    [['Name;Description;Attributes.x'], "looks like a ';'-delimited file: pass --delimiter ';'"],
    [['Name\tDescription'], 'looks like a tab-delimited file'],
    [['Name,Description'], 'looks like a comma-delimited file: drop --delimiter'], // --delimiter ';' on a comma file
    [['Name'], undefined],
    [['Name', 'a;b'], undefined],
  ])('%j', (header, hint) => {
    const h = delimiterHint(header);
    if (hint === undefined) expect(h).toBeUndefined();
    else expect(h).toContain(hint);
  });
});

describe('editDistance', () => {
  it.each([
    ['description', 'descripton', 1],
    ['description', 'descritpion', 1], // a transposition is one edit
    ['name', 'names', 1],
    ['name', 'notes', 3],
    ['', 'abc', 3],
  ])('%s ~ %s = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
  });
});

describe('looksLikeRecord: a first line that is a customer record is never listed in a message', () => {
  it.each([
    [['Ticket ID', 'Customer Name', 'Customer Email', 'Ticket Status'], false],
    [['Name', 'Description', 'Attributes.rowId', 'References.ticket.URL'], false],
    [['Q3 target', 'Top 10'], false],
    [['1', 'Quinn Example', 'quinn@example.com'], true],
    [['Quinn Example', '22-03-2021', 'Open'], true],
    [['Quinn Example', '42', 'Open'], true],
    [['Quinn Example', '+44 20 7946 0000'], true],
    [['Quinn', 'I have a problem\nwith my order'], true],
    [['Quinn', 'x'.repeat(65)], true],
  ])('%j → %s', (header, record) => {
    expect(looksLikeRecord(header)).toBe(record);
    const text = headerInMessage(header);
    if (record) for (const cell of header) expect(text).not.toContain(cell);
    else expect(text).toBe(`columns: ${header.join(', ')}`);
  });
});
