import { describe, expect, it } from 'vitest';
import { describeS3Error } from '../../src/s3/client.js';
import { isS3Url, keyFolder, keyName, parseS3Url } from '../../src/s3/url.js';

describe('s3:// locations', () => {
  it.each([
    ['s3://crm-exports/tickets/2026-12-04.csv', 'crm-exports', 'tickets/2026-12-04.csv'],
    ['S3://crm-exports/x.csv', 'crm-exports', 'x.csv'],
    ['s3://my.bucket-1/a b/é+%20.csv', 'my.bucket-1', 'a b/é+%20.csv'],
  ])('%s → bucket %s, key %s (taken as typed)', (url, bucket, key) => {
    expect(parseS3Url(url, 'the input')).toEqual({ bucket, key });
    expect(isS3Url(url)).toBe(true);
  });

  it.each([
    ['s3://ab/x.csv', 'is not an S3 bucket name'],
    ['s3://Upper/x.csv', 'is not an S3 bucket name'],
    ['s3://bucket', 'names a folder, not an object'],
    ['s3://bucket/exports/', 'names a folder, not an object'],
  ])('refuses %s', (url, why) => {
    expect(() => parseS3Url(url, '--results')).toThrow(why);
  });

  it('takes a prefix where one is asked for', () => {
    expect(parseS3Url('s3://bucket/shards/', 'merge', { prefix: true })).toEqual({ bucket: 'bucket', key: 'shards/' });
    expect(parseS3Url('s3://bucket', 'merge', { prefix: true })).toEqual({ bucket: 'bucket', key: '' });
  });

  it('names a key and its folder', () => {
    expect([keyName('a/b/c.csv'), keyFolder('a/b/c.csv')]).toEqual(['c.csv', 'a/b/']);
    expect([keyName('c.csv'), keyFolder('c.csv')]).toEqual(['c.csv', '']);
    expect(isS3Url('./s3:/x.csv')).toBe(false);
  });
});

describe('S3 failures as a person reads them', () => {
  const answered = (name: string, status: number, message = '') =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
  it.each([
    [answered('NoSuchBucket', 404), 'the bucket does not exist (NoSuchBucket)'],
    [answered('NoSuchKey', 404), 'no such object (NoSuchKey)'],
    [answered('NotFound', 404), 'no such object (NoSuchKey)'],
    [answered('AccessDenied', 403), 'access denied: the credentials in use may not s3:GetObject there (AccessDenied)'],
    [answered('Forbidden', 403), 'access denied: the credentials in use may not s3:GetObject there (AccessDenied)'],
    [
      answered('InternalError', 500, 'We encountered an internal error.'),
      'InternalError (HTTP 500): We encountered an internal error',
    ],
    [
      answered(
        'Error',
        404,
        '@aws-sdk XML parse error: unexpected content.\n  Deserialization error: to see the raw response…',
      ),
      "HTTP 404 in an answer that is not S3's: is the S3 endpoint (--s3-endpoint, AWS_ENDPOINT_URL_S3) an S3-compatible server?",
    ],
    [
      answered(
        'Error',
        502,
        '@aws-sdk XML parse error: unexpected content.\n  Deserialization error: to see the raw response…',
      ),
      "HTTP 502 from something in front of S3 (its answer is not S3's)",
    ],
    [
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      'cannot reach the S3 endpoint: ECONNREFUSED',
    ],
  ])('%s', (err, text) => {
    expect(describeS3Error(err, 's3:GetObject')).toBe(text);
  });
});
