import { describe, expect, it } from 'vitest';
import { checkTaskRequest } from '../../src/input/rules.js';
import type { TaskRequest } from '../../src/types.js';

const now = new Date('2026-11-24T12:00:00Z');
const ok: TaskRequest = { InstanceId: 'i', ContactFlowId: 'f', Name: 'n' };
const rules = (patch: Partial<TaskRequest>, drop: (keyof TaskRequest)[] = []) => {
  const req: TaskRequest = { ...ok, ...patch };
  for (const k of drop) delete req[k];
  return checkTaskRequest(req, now).map((v) => `${v.member}: ${v.rule}`);
};

describe('checkTaskRequest', () => {
  it.each<[string, Partial<TaskRequest>, (keyof TaskRequest)[], string[]]>([
    ['a minimal request', {}, [], []],
    ['missing InstanceId', {}, ['InstanceId'], ['InstanceId: is required']],
    ['missing Name', {}, ['Name'], ['Name: is required']],
    ['Name of 1024 characters', { Name: 'é'.repeat(1024) }, [], []],
    ['Name of 1025 characters', { Name: 'n'.repeat(1025) }, [], ['Name: must be at most 1024 characters (found 1025)']],
    ['Name counted in code points, not UTF-16 units', { Name: '😀'.repeat(1024) }, [], []],
    [
      'Description of 4097',
      { Description: 'd'.repeat(4097) },
      [],
      ['Description: must be at most 4096 characters (found 4097)'],
    ],
    [
      'InstanceId of 101',
      { InstanceId: 'i'.repeat(101) },
      [],
      ['InstanceId: must be at most 100 characters (found 101)'],
    ],
    [
      'ClientToken of 501',
      { ClientToken: 't'.repeat(501) },
      [],
      ['ClientToken: must be at most 500 characters (found 501)'],
    ],
    [
      'PreviousContactId empty',
      { PreviousContactId: '' },
      [],
      ['PreviousContactId: must be at least 1 characters (found 0)'],
    ],
    [
      'no routing',
      {},
      ['ContactFlowId'],
      ['ContactFlowId: exactly one of ContactFlowId, QuickConnectId, TaskTemplateId is required (found none)'],
    ],
    [
      'two routes',
      { TaskTemplateId: 't' },
      [],
      [
        'TaskTemplateId: exactly one of ContactFlowId, QuickConnectId, TaskTemplateId is required (found ' +
          'ContactFlowId and TaskTemplateId)',
      ],
    ],
    ['quick connect alone', { QuickConnectId: 'q' }, ['ContactFlowId'], []],
    [
      'attribute key with a space',
      { Attributes: { 'ticket id': '1' } },
      [],
      ['Attributes.ticket id: key may contain only letters, digits, "-" and "_"'],
    ],
    ['attributes at 32,768 bytes', { Attributes: { k: 'v'.repeat(32_767) } }, [], []],
    [
      'attributes over 32,768 bytes',
      { Attributes: { k: 'é'.repeat(16_384) } },
      [],
      ['Attributes: keys and values together must be at most 32768 UTF-8 bytes (found 32769)'],
    ],
    [
      'reference of a voice-only type',
      { References: { r: { Type: 'ATTACHMENT', Value: 'x' } } },
      [],
      ['References.r: Type must be one of URL, NUMBER, STRING, DATE, EMAIL for a task'],
    ],
    [
      'references over 4,096 bytes',
      { References: { a: { Type: 'URL', Value: 'u'.repeat(4000) }, b: { Type: 'URL', Value: 'u'.repeat(100) } } },
      [],
      ['References: names and values together must be at most 4096 UTF-8 bytes (found 4102)'],
    ],
    [
      'ScheduledTime in the past',
      { ScheduledTime: new Date('2026-11-24T11:59:59Z') },
      [],
      ['ScheduledTime: must not be in the past'],
    ],
    ['ScheduledTime in 90 days', { ScheduledTime: new Date('2027-02-22T12:00:00Z') }, [], []],
    [
      'ScheduledTime in 91 days',
      { ScheduledTime: new Date('2027-02-23T12:00:00Z') },
      [],
      ['ScheduledTime: must be at most 90 days ahead'],
    ],
    [
      'six attachments',
      { Attachments: Array.from({ length: 6 }, () => ({ FileName: 'a.pdf', S3Url: 'https://s3/x' })) },
      [],
      ['Attachments: must hold 1 to 5 items (found 6)'],
    ],
    [
      'attachment name with a control character',
      { Attachments: [{ FileName: 'a\u0007.pdf', S3Url: 'https://s3/x' }] },
      [],
      ['Attachments.1.FileName: must not contain control characters'],
    ],
    [
      'segment attribute with two values',
      { SegmentAttributes: { k: { ValueString: 'a', ValueInteger: 1 } } },
      [],
      ['SegmentAttributes.k: must hold exactly one of ValueString, ValueInteger, ValueMap, ValueList, ValueArn'],
    ],
    // Checked all the way down: a cell's JSON is sent as written or refused, never with a part dropped.
    [
      'segment ValueInteger not whole',
      { SegmentAttributes: { 'connect:ContactExpiry': { ValueMap: { ExpiryDuration: { ValueInteger: 1.5 } } } } },
      [],
      ['SegmentAttributes.connect:ContactExpiry.ValueMap[key 1]: ValueInteger must be a whole number within 32 bits'],
    ],
    [
      'segment ValueInteger too large',
      { SegmentAttributes: { k: { ValueInteger: 1e300 } } },
      [],
      ['SegmentAttributes.k: ValueInteger must be a whole number within 32 bits'],
    ],
    [
      'segment map entry of no kind',
      { SegmentAttributes: { k: { ValueMap: { K: { Bad: 1 } as never } } } },
      [],
      [
        'SegmentAttributes.k.ValueMap[key 1]: holds 1 key other than ValueString, ValueInteger, ValueMap, ' +
          'ValueList, ValueArn: a SegmentAttributeValue holds only one of them',
        'SegmentAttributes.k.ValueMap[key 1]: must hold exactly one of ValueString, ValueInteger, ValueMap, ' +
          'ValueList, ValueArn',
      ],
    ],
    [
      "a cell's keys are never quoted",
      { SegmentAttributes: { k: { 'Jane Doe SSN 123-45-6789': 'x' } as never } },
      [],
      [
        'SegmentAttributes.k: holds 1 key other than ValueString, ValueInteger, ValueMap, ValueList, ValueArn: a ' +
          'SegmentAttributeValue holds only one of them',
        'SegmentAttributes.k: must hold exactly one of ValueString, ValueInteger, ValueMap, ValueList, ValueArn',
      ],
    ],
    [
      'a long ValueMap key is named by its place',
      { SegmentAttributes: { k: { ValueMap: { ['Jane Doe '.repeat(20)]: { ValueString: 'x' } } } } },
      [],
      ['SegmentAttributes.k.ValueMap[key 1]: must be at most 128 characters (found 180)'],
    ],
    [
      'segment ValueString of another type',
      { SegmentAttributes: { k: { ValueString: { a: 1 } as never } } },
      [],
      ['SegmentAttributes.k: ValueString must be a string'],
    ],
    [
      'segment list item of another type',
      { SegmentAttributes: { k: { ValueList: [{ ValueString: 5 as never }] } } },
      [],
      ['SegmentAttributes.k[0]: ValueString must be a string'],
    ],
    [
      'segment map and list as the API takes them',
      {
        SegmentAttributes: {
          k: {
            ValueMap: { a: { ValueList: [{ ValueString: 'x' }, { ValueInteger: -3 }] }, b: { ValueArn: 'arn:aws:x' } },
          },
        },
      },
      [],
      [],
    ],
  ])('%s', (_name, patch, drop, expected) => {
    expect(rules(patch, drop)).toEqual(expected);
  });
});
