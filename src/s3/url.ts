/**
 * `s3://bucket/key` locations. A key is taken as typed — spaces, unicode, `+` and `%` included — as the
 * AWS CLI takes it: nothing is percent-decoded, so the key in a message is the key in the bucket.
 */
import { UsageError } from '../errors.js';

export interface S3Location {
  bucket: string;
  key: string;
}

export function isS3Url(text: string | undefined): text is string {
  return typeof text === 'string' && /^s3:\/\//i.test(text);
}

/** Bucket names as S3 allows them (3–63 lower-case letters, digits, dots and hyphens). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * `s3://bucket/key` → its bucket and key. `prefix`: a key ending in `/` (or none: the whole bucket)
 * names a "folder"; without it the key must name an object.
 */
export function parseS3Url(url: string, what: string, { prefix = false } = {}): S3Location {
  const rest = url.replace(/^s3:\/\//i, '');
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const key = slash === -1 ? '' : rest.slice(slash + 1);
  if (!BUCKET.test(bucket))
    throw new UsageError(
      `${what} ${url}: "${bucket}" is not an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens); ` +
        'write it as s3://bucket/key',
    );
  if (!prefix && (key === '' || key.endsWith('/')))
    throw new UsageError(`${what} ${url} names a folder, not an object: write it as s3://${bucket}/path/name.csv`);
  return { bucket, key };
}

export function s3Url(location: S3Location): string {
  return `s3://${location.bucket}/${location.key}`;
}

/** The last part of a key: `s3://b/exports/x.csv` → `x.csv`. */
export function keyName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** The key's folder, with its trailing slash (`exports/`), or `` at the bucket's top. */
export function keyFolder(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}
