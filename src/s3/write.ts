/**
 * Writing to S3 and listing it: whole small objects (conditional where two writers could meet), a
 * local file uploaded in parts, the keys under a prefix, and their removal. Bodies of answers are
 * read whole or destroyed, as everywhere in this folder.
 */
import { createReadStream } from 'node:fs';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { isNotFound } from './client.js';
import type { S3Location } from './url.js';

export interface Written {
  etag: string;
  versionId?: string;
}

/**
 * Writes `body` at `at`. `ifNoneMatch`: only if no object is there (create-only); `ifMatch`: only if
 * the object there still has this ETag. Either refused is the SDK's 412 (PreconditionFailed).
 * `contentType`: what S3 serves it as (else binary data, which a browser downloads). `signal` abandons it.
 */
export async function putObject(
  client: S3Client,
  at: S3Location,
  body: string | Buffer,
  condition: { ifNoneMatch?: true; ifMatch?: string; contentType?: string; signal?: AbortSignal } = {},
): Promise<Written> {
  const out = await client.send(
    new PutObjectCommand({
      Bucket: at.bucket,
      Key: at.key,
      Body: body,
      ...(condition.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      ...(condition.ifMatch ? { IfMatch: condition.ifMatch } : {}),
      ...(condition.contentType ? { ContentType: condition.contentType } : {}),
    }),
    { abortSignal: condition.signal },
  );
  return { etag: out.ETag ?? '', ...(out.VersionId ? { versionId: out.VersionId } : {}) };
}

export interface Fetched {
  body: Buffer;
  etag: string;
  lastModified?: Date;
  /** The server's clock when it answered (its Date header): to judge ages by one clock. */
  serverDate?: Date;
}

/** A small object whole, or undefined when there is none. `signal` abandons the request. */
export async function getObject(client: S3Client, at: S3Location, signal?: AbortSignal): Promise<Fetched | undefined> {
  const command = new GetObjectCommand({ Bucket: at.bucket, Key: at.key });
  let serverDate: Date | undefined;
  command.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const date = new Date((result.response as { headers?: Record<string, string> }).headers?.date ?? '');
      // One that is no date (absent, or two joined by a proxy) is no clock: the caller uses its own.
      if (!Number.isNaN(date.getTime())) serverDate = date;
      return result;
    },
    { step: 'deserialize', name: 'serverDate' },
  );
  try {
    const out = await client.send(command, { abortSignal: signal });
    const body = Buffer.from(await out.Body!.transformToByteArray());
    return {
      body,
      etag: out.ETag ?? '',
      ...(out.LastModified ? { lastModified: out.LastModified } : {}),
      ...(serverDate ? { serverDate } : {}),
    };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Every key under `prefix`, in key order. */
export async function listKeys(
  client: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
      { abortSignal: signal },
    );
    for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** Removes `keys` (a thousand per request); throws the first failure. */
export async function deleteKeys(client: S3Client, bucket: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const out = await client.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = out.Errors?.[0];
    if (failed) throw Object.assign(new Error(failed.Message ?? 'delete failed'), { name: failed.Code ?? 'Error' });
  }
}

/**
 * A local file uploaded to `at` in parts of 8 MiB, two at a time (memory: those parts), one plain PUT
 * when it is smaller. Aborting `signal` aborts the upload (its parts are removed); so does a failure.
 */
export async function uploadFile(client: S3Client, at: S3Location, path: string, signal?: AbortSignal): Promise<void> {
  const body = createReadStream(path, { highWaterMark: 1 << 20 });
  const upload = new Upload({
    client,
    params: { Bucket: at.bucket, Key: at.key, Body: body },
    partSize: 8 * 1024 * 1024,
    queueSize: 2,
    leavePartsOnError: false,
  });
  const abort = () => void upload.abort().catch(() => undefined);
  signal?.addEventListener('abort', abort, { once: true });
  try {
    if (signal?.aborted) throw signal.reason;
    await upload.done();
  } finally {
    signal?.removeEventListener('abort', abort);
    body.destroy();
  }
}
