/**
 * An S3 object as a run's input (`run s3://bucket/key.csv`): found, pinned to the version it has now
 * (or, on `--resume`, to the version the run recorded), its checksum known, and handed to the reader
 * as a ByteSource whose every read returns those same bytes.
 *
 * The checksum (the default token namespace comes from it, as for a file) is the SHA-256 of the
 * object's bytes, never its ETag nor its VersionId: a multipart upload's ETag is no hash of the
 * content, and a VersionId changes when the same bytes are uploaded again — a re-uploaded identical
 * export must be the same input, and only identical bytes may be. It is known without reading the
 * object when S3 holds a whole-object SHA-256 for it (an upload with a SHA-256 checksum in one part),
 * or when the run that recorded this very version hashed it already; otherwise the object is read
 * once before the run (streamed: memory stays flat), which also checks gzip data whole before a
 * record is sent, as for a local .gz. So an input is read twice at most, once where S3 or the run's
 * record knows its checksum.
 */

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createGunzip } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { InputError, LoaderError, StoppedError } from '../errors.js';
import { describeS3Error, isNotFound, isPreconditionFailed, s3Failure } from '../s3/client.js';
import { headObject, type ObjectVersion, objectBytes, objectStream, type Pin } from '../s3/object.js';
import { parseS3Url, type S3Location } from '../s3/url.js';
import type { ByteSource } from '../types.js';
import { gzipDamage } from './csv/read.js';

export interface ObjectInput {
  source: ByteSource;
  sha256: string;
  version: ObjectVersion;
}

export interface ObjectInputOptions {
  /** Read this version (a resume): a pinned ETag that no longer matches is a refusal. */
  pin?: Pin;
  /** The checksum a run recorded for this version, if one did: then the object is not read for it. */
  knownSha256?: (version: ObjectVersion) => string | undefined;
  signal?: AbortSignal;
}

export async function openObjectInput(
  client: S3Client,
  url: string,
  options: ObjectInputOptions = {},
): Promise<ObjectInput> {
  const at = parseS3Url(url, 'the input');
  const stopped = (err: unknown) =>
    new StoppedError(`stopped while reading ${url}: nothing was sent; run the command again`, { cause: err });
  let version: ObjectVersion;
  try {
    version = await find(client, at, url, options.pin, options.signal);
  } catch (err) {
    throw options.signal?.aborted ? stopped(err) : err;
  }
  const read = (start: number, end?: number) =>
    objectBytes(client, at, version, { start, ...(end !== undefined ? { end } : {}), signal: options.signal });
  let sha256 = options.knownSha256?.(version);
  let gzip: boolean;
  try {
    gzip = await startsAsGzip(read);
    if (!sha256 && version.sha256 && !gzip) sha256 = version.sha256;
    if (!sha256) sha256 = await hashAndCheck(read, gzip, url);
  } catch (err) {
    if (options.signal?.aborted) throw stopped(err);
    throw err instanceof LoaderError ? err : readFailure(url, err, options.pin);
  }
  return {
    sha256,
    version,
    source: { name: url, size: version.size, gzip, open: () => objectStream(client, at, version) },
  };
}

async function find(
  client: S3Client,
  at: S3Location,
  url: string,
  pin: Pin | undefined,
  signal: AbortSignal | undefined,
): Promise<ObjectVersion> {
  try {
    return await headObject(client, at, pin, signal);
  } catch (err) {
    if (isNotFound(err) && !pin) throw readFailure(url, await whyMissing(client, at, err), pin);
    throw readFailure(url, err, pin);
  }
}

/** A HEAD's 404 does not say whether the bucket or the key is missing: a GET's error does. */
async function whyMissing(client: S3Client, at: S3Location, headError: unknown): Promise<unknown> {
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: at.bucket, Key: at.key, Range: 'bytes=0-0' }));
    (out.Body as NodeJS.ReadableStream & { destroy?: () => void })?.destroy?.();
    return headError;
  } catch (err) {
    return err;
  }
}

function readFailure(url: string, err: unknown, pin: Pin | undefined): LoaderError {
  if (pin && isPreconditionFailed(err))
    return new InputError(
      `${url} changed since the run started (ETag ${pin.etag}): --resume needs the same bytes. Restore that ` +
        'version of the object, or start a new run with another --results',
      { cause: err },
    );
  if (pin?.versionId && (err as { name?: string }).name === 'NoSuchVersion')
    return new InputError(
      `${url}: the version the run started with (${pin.versionId}) no longer exists: --resume needs the same ` +
        'bytes. Restore that version, or start a new run with another --results',
      { cause: err },
    );
  return s3Failure(`cannot read ${url}: ${describeS3Error(err, 's3:GetObject')}`, err, InputError);
}

type Read = (start: number, end?: number) => AsyncGenerator<Buffer>;

async function startsAsGzip(read: Read): Promise<boolean> {
  const head: Buffer[] = [];
  for await (const chunk of read(0, 1)) head.push(chunk);
  const bytes = Buffer.concat(head);
  return bytes.length === 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The SHA-256 of every byte, read once; gzip data is inflated on the way and must check out whole. */
async function hashAndCheck(read: Read, gzip: boolean, url: string): Promise<string> {
  const hash = createHash('sha256');
  const inflate = gzip ? createGunzip() : undefined;
  let lines = 0;
  let damage: unknown;
  inflate?.on('data', (text: Buffer) => {
    for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) lines++;
  });
  inflate?.on('error', (err) => (damage ??= err));
  const bytes = read(0);
  try {
    for await (const chunk of bytes) {
      if (damage) break;
      hash.update(chunk);
      if (inflate && !inflate.write(chunk)) await once(inflate, 'drain').catch(() => undefined);
    }
    if (inflate && !damage) {
      inflate.end();
      await once(inflate, 'end').catch(() => undefined);
    }
  } finally {
    await bytes.return(undefined);
    inflate?.destroy();
  }
  if (damage) throw gzipDamage(url, damage, lines);
  return hash.digest('hex');
}
