import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, decide } from '../../src/delivery/retry.js';
import { atActiveTaskLimit, classifyError } from '../../src/delivery/send.js';
import type { SendOutcome } from '../../src/types.js';

const policy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 };
const transient: SendOutcome = { kind: 'transient', code: 'InternalServiceException', message: 'x', answered: true };

describe('decide', () => {
  it.each<[string, SendOutcome, number, ReturnType<typeof decide>]>([
    ['created is final', { kind: 'created', contactId: 'c' }, 1, { action: 'done' }],
    [
      'a refusal is final',
      { kind: 'refused', code: 'ResourceNotFoundException', message: 'x', status: 404 },
      1,
      { action: 'done' },
    ],
    [
      'a 402 refusal is final (12 tasks per PreviousContactId never clears)',
      { kind: 'refused', code: 'ServiceQuotaExceededException', message: 'x', status: 402 },
      1,
      { action: 'done' },
    ],
    [
      'a 402 at the active-task limit holds the row, uncharged, whatever its attempts',
      { kind: 'capacity', code: 'ServiceQuotaExceededException', message: 'x' },
      99,
      { action: 'hold' },
    ],
    [
      'a throttle is resent at once and not charged',
      { kind: 'throttled', code: 'ThrottlingException', message: 'x' },
      99,
      { action: 'retry', delayMs: 0, charge: false },
    ],
    [
      'a first transient failure backs off up to the base',
      transient,
      1,
      { action: 'retry', delayMs: 99, charge: true },
    ],
    ['the second up to twice the base', transient, 2, { action: 'retry', delayMs: 199, charge: true }],
    ['out of attempts', transient, 3, { action: 'done' }],
  ])('%s', (_name, outcome, attempts, expected) => {
    expect(decide(outcome, attempts, policy, () => 0.999)).toEqual(expected);
  });

  it('caps the backoff', () => {
    expect(decide(transient, 7, DEFAULT_RETRY, () => 0.999)).toEqual({
      action: 'retry',
      delayMs: 15_984,
      charge: true,
    });
    expect(decide(transient, 7, { ...DEFAULT_RETRY, maxAttempts: 20 }, () => 0.9999).action).toBe('retry');
  });
});

describe('classifyError', () => {
  const sdkError = (name: string, status?: number, extra: object = {}) =>
    Object.assign(new Error('m'), { name, $metadata: status ? { httpStatusCode: status } : {}, ...extra });
  it.each<[string, unknown, SendOutcome['kind'], boolean?]>([
    ['429', sdkError('ThrottlingException', 429), 'throttled'],
    ['500', sdkError('InternalServiceException', 500), 'transient', true],
    ['503 without a modelled name', sdkError('ServiceUnavailable', 503), 'transient', true],
    ['400', sdkError('InvalidParameterException', 400), 'refused'],
    ['402 saying nothing of active tasks', sdkError('ServiceQuotaExceededException', 402), 'refused'],
    [
      '402 with the Reason ACTIVE_TASKS',
      sdkError('ServiceQuotaExceededException', 402, { Reason: 'ACTIVE_TASKS' }),
      'capacity',
    ],
    [
      '402 with the Reason PREVIOUS_CONTACT_CHAIN',
      sdkError('ServiceQuotaExceededException', 402, { Reason: 'PREVIOUS_CONTACT_CHAIN' }),
      'refused',
    ],
    ['404', sdkError('ResourceNotFoundException', 404), 'refused'],
    ['403', sdkError('AccessDeniedException', 403), 'fatal'],
    ['no credentials', sdkError('CredentialsProviderError'), 'fatal'],
    ['a reset', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'transient', false],
    ['a timeout', sdkError('TimeoutError'), 'transient', false],
  ])('%s', (_name, err, kind, answered) => {
    const outcome = classifyError(err);
    expect(outcome.kind).toBe(kind);
    if (answered !== undefined) expect(outcome.kind === 'transient' && outcome.answered).toBe(answered);
  });

  it.each([
    [503, 'transient'],
    [504, 'transient'],
    [429, 'throttled'],
    [403, 'fatal'],
  ] as const)("an HTML %i (not the service's JSON) is named by its status: %s", (status, kind) => {
    // What the SDK raises when the body does not parse (seen with a proxy's HTML page).
    const parseFailure = Object.assign(
      new SyntaxError('Unexpected token \'<\', "<html><bod"... is not valid JSON\n  Deserialization error: …'),
      { $metadata: { httpStatusCode: status } },
    );
    const outcome = classifyError(parseFailure);
    expect(outcome.kind).toBe(kind);
    if (outcome.kind === 'created') throw new Error('a parse failure is no task');
    expect(outcome.code).toBe(`HTTP ${status} (not a service answer)`);
    expect(outcome.message).not.toContain('<html>');
  });
});

describe('atActiveTaskLimit: which 402 waits (the instance is full) and which fails its row', () => {
  it.each<[string, unknown, string, boolean]>([
    ["the emulator's Reason", 'ACTIVE_TASKS', 'anything', true],
    ['a Reason naming concurrent tasks', 'CONCURRENT_TASKS_EXCEEDED', '', true],
    ['the chain Reason, whatever the message says', 'PREVIOUS_CONTACT_CHAIN', 'active tasks', false],
    [
      "the model's attachment Reason (a union)",
      { AttachedFileServiceQuotaExceededExceptionReason: 'TOTAL_FILE_COUNT_EXCEEDED' },
      'The maximum number of active tasks',
      false,
    ],
    ['an unknown Reason', 'SOMETHING_ELSE', 'concurrent active tasks', false],
    [
      "no Reason: the emulator's message",
      undefined,
      'The maximum number of concurrent active tasks for this instance has been reached',
      true,
    ],
    ['no Reason: active contacts', undefined, 'Maximum active contacts reached for instance', true],
    ['no Reason: the chain message', undefined, 'At most 12 tasks can be linked to one PreviousContactId', false],
    ['no Reason: a generic message', undefined, 'Service quota exceeded', false],
    ['no Reason: tasks without "active"', undefined, 'Too many tasks', false],
    ['no Reason: active, of attachments', undefined, 'Too many active attachment files for this task', false],
    ['an empty Reason is no Reason', '', 'concurrent active tasks limit', true],
  ])('%s', (_name, reason, message, expected) => {
    expect(atActiveTaskLimit(reason, message)).toBe(expected);
  });
});
