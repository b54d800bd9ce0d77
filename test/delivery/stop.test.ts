/** What StopContact's answers mean for a stop: the answers for a task already ended are not failures. */
import { describe, expect, it } from 'vitest';
import { lineRanges } from '../../src/config/settings.js';
import { classifyStopError } from '../../src/delivery/stop.js';
import { ranges } from '../../src/run/stop.js';

const sdkError = (name: string, status: number, message: string) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

describe('classifyStopError', () => {
  it.each([
    ['ContactNotFoundException', 410, 'Contact not found', 'already-ended'],
    ['InvalidRequestException', 400, 'Contact is not active: it has already ended', 'already-ended'],
    ['InvalidRequestException', 400, 'The contact has ended', 'already-ended'],
    ['InvalidRequestException', 400, 'DisconnectReason is only for outbound campaigns', 'refused'],
    ['ResourceNotFoundException', 404, 'Instance not found', 'refused'],
    ['InvalidParameterException', 400, 'bad ContactId', 'refused'],
    ['ThrottlingException', 429, 'Rate exceeded', 'throttled'],
    ['InternalServiceException', 500, 'oops', 'transient'],
    ['AccessDeniedException', 403, 'not allowed', 'fatal'],
  ])('%s %i "%s" → %s', (name, status, message, kind) => {
    expect(classifyStopError(sdkError(name, status, message)).kind).toBe(kind);
  });
});

describe('line ranges', () => {
  it.each([
    [
      '2-100,250',
      [
        [2, 100],
        [250, 250],
      ],
    ],
    [' 7 ', [[7, 7]]],
    ['3-3', [[3, 3]]],
  ])('%s', (text, expected) => expect(lineRanges(text)).toEqual(expected));

  it.each(['', '0', '5-2', 'a-b', '2,,3', '1-'])('refuses %j', (text) => expect(() => lineRanges(text)).toThrow());

  it('turns lines into ranges', () => {
    expect(ranges([10, 2, 3, 4, 8, 3])).toEqual([
      [2, 4],
      [8, 8],
      [10, 10],
    ]);
  });
});
