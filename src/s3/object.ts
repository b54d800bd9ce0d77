/**
 * Reading one S3 object, always the same bytes: every request after the first names the version it
 * found (its VersionId, or `If-Match` on its ETag in a bucket without versioning, which fails with
 * 412 once the object is replaced). A download that breaks off is taken up again where it stopped
 * (a ranged GET of the same version), so a dropped connection in a long read costs a request, not
 * the run. Every response body is read to its end or destroyed, on every path: an unread body keeps
 * its socket.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isNotFound, isPreconditionFailed, statusOf } from './client.js';
import type { S3Location } from './url.js';

/** One version of an object: what later reads are pinned to. */
export interface ObjectVersion {
  /** Absent in a bucket without versioning. */
  versionId?: string;
  etag: string;
  size: number;
  /**
   * The SHA-256 of the whole object (hex), when S3 holds one for it (an upload that sent a SHA-256
   * checksum in one part); a multipart upload's composite checksum is not a hash of the bytes and is
   * never taken for one.
   */
  sha256?: string;
}

/** A version to read: the VersionId when the bucket keeps versions, else the ETag the object must still have. */
export type Pin = Pick<ObjectVersion, 'versionId' | 'etag'>;

function pinParams(pin: Pin | undefined): { VersionId?: string; IfMatch?: string } {
  if (!pin) return {};
  return pin.versionId ? { VersionId: pin.versionId } : { IfMatch: pin.etag };
}

/**
 * The object's current version (or the pinned one); throws the SDK's error (412 when a pinned ETag
 * changed). `signal` abandons the request (an AbortError).
 */
export async function headObject(
  client: S3Client,
  at: S3Location,
  pin?: Pin,
  signal?: AbortSignal,
): Promise<ObjectVersion> {
  const out = await client.send(
    new HeadObjectCommand({ Bucket: at.bucket, Key: at.key, ChecksumMode: 'ENABLED', ...pinParams(pin) }),
    { abortSignal: signal },
  );
  const whole =
    out.ChecksumSHA256 && !out.ChecksumSHA256.includes('-') && (out.ChecksumType ?? 'FULL_OBJECT') === 'FULL_OBJECT';
  return {
    ...(out.VersionId && out.VersionId !== 'null' ? { versionId: out.VersionId } : {}),
    etag: out.ETag ?? '',
    size: out.ContentLength ?? 0,
    ...(whole ? { sha256: Buffer.from(out.ChecksumSHA256!, 'base64').toString('hex') } : {}),
  };
}

/** The object's version, or undefined when there is none (404). */
export async function headIfAny(
  client: S3Client,
  at: S3Location,
  signal?: AbortSignal,
): Promise<ObjectVersion | undefined> {
  try {
    return await headObject(client, at, undefined, signal);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Failures worth taking a download up again for: the connection, a timeout, a 5xx or a throttle. */
function resumable(err: unknown): boolean {
  if (isPreconditionFailed(err)) return false;
  const status = statusOf(err);
  return status === undefined || status >= 500 || status === 429 || status === 503;
}

const TAKE_UPS = 5;

/**
 * The bytes of `version` from `start` (to `end`, inclusive, if given). A failure mid-way is taken up
 * from the next byte, up to 5 times in a row; a pinned version that is gone (412, NoSuchVersion) is
 * thrown at once. Stopping early (return, destroy) destroys the response body.
 */
export async function* objectBytes(
  client: S3Client,
  at: S3Location,
  version: ObjectVersion,
  { start = 0, end, signal }: { start?: number; end?: number; signal?: AbortSignal } = {},
): AsyncGenerator<Buffer> {
  const last = Math.min(end ?? version.size - 1, version.size - 1);
  let offset = start;
  let failures = 0;
  while (offset <= last) {
    let body: Readable | undefined;
    try {
      const ranged = offset > 0 || last < version.size - 1;
      const out = await client.send(
        new GetObjectCommand({
          Bucket: at.bucket,
          Key: at.key,
          ...pinParams(version),
          ...(ranged ? { Range: `bytes=${offset}-${last}` } : {}),
        }),
        { abortSignal: signal },
      );
      body = out.Body as Readable;
      for await (const chunk of body) {
        offset += (chunk as Buffer).length;
        failures = 0;
        yield chunk as Buffer;
      }
      body = undefined;
      // A body that ended short of its length without an error: take it up from where it stopped.
      if (offset <= last && ++failures > TAKE_UPS) throw new Error(`the download of ${at.key} keeps ending early`);
    } catch (err) {
      if (signal?.aborted || !resumable(err) || ++failures > TAKE_UPS) throw err;
      await sleep(Math.min(100 * 2 ** failures, 3_000));
    } finally {
      body?.destroy();
    }
  }
}

/** The same, as a stream (destroying it ends the download). */
export function objectStream(
  client: S3Client,
  at: S3Location,
  version: ObjectVersion,
  options: { start?: number; end?: number; signal?: AbortSignal } = {},
): Readable {
  return Readable.from(objectBytes(client, at, version, options), { objectMode: false, highWaterMark: 64 * 1024 });
}
