/**
 * The one way the tool builds an S3 client, and how an S3 failure is told to a person.
 *
 * - A custom endpoint (`--s3-endpoint`, AWS_ENDPOINT_URL_S3: MinIO, Ceph, moto, LocalStack…) is
 *   addressed path-style (no bucket-name DNS to set up) and gets checksums only where S3 requires
 *   them: the SDK's default trailing checksums on uploads corrupt streamed uploads on several
 *   S3-compatible servers.
 * - On AWS, a bucket in another Region than the run's is followed there (the SDK's region redirects),
 *   so the Connect instance's Region serves for the bucket too.
 * - Retries are the SDK's (standard mode): every call here is safe to repeat — reads, and writes that
 *   are conditional or whose repetition writes the same bytes (their callers tell an own earlier
 *   attempt from someone else's write).
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { CANNOT_CONNECT, EMULATOR_CREDENTIALS, EMULATOR_REGION, isLoopback, quietSdkNodeWarning } from '../aws.js';
import { describeErrno, type LoaderError, S3UnavailableError, UsageError } from '../errors.js';

export interface S3Target {
  /** An S3-compatible endpoint; absent: AWS's own for the Region. */
  endpoint?: string;
  /** Absent: the SDK's chain (AWS_REGION, the profile). */
  region?: string;
  profile?: string;
  /** Credentials are in the environment: a server on this machine is signed for with them, not placeholders. */
  envCredentials: boolean;
}

export function createS3Client(target: S3Target): S3Client {
  quietSdkNodeWarning();
  const { endpoint } = target;
  const agent = { keepAlive: true, maxSockets: 16 };
  return new S3Client({
    ...(endpoint
      ? {
          endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : { followRegionRedirects: true }),
    ...(target.region ? { region: target.region } : isLoopback(endpoint) ? { region: EMULATOR_REGION } : {}),
    ...(target.profile ? { profile: target.profile } : {}),
    // A server on this machine (moto, MinIO in a container) rarely checks who signed: as for the
    // emulator, placeholder credentials when none are configured.
    ...(isLoopback(endpoint) && !target.profile && !target.envCredentials ? { credentials: EMULATOR_CREDENTIALS } : {}),
    maxAttempts: 5,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agent),
      httpsAgent: new HttpsAgent(agent),
      connectionTimeout: 10_000,
      // Idle time on a socket, not the length of a transfer: a stalled download or upload fails and is retried.
      requestTimeout: 60_000,
      throwOnRequestTimeout: true,
    }),
  });
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** The HTTP status of an S3 failure, when the service answered. */
export function statusOf(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

export function isPreconditionFailed(err: unknown): boolean {
  return statusOf(err) === 412 || (err as SdkError | undefined)?.name === 'PreconditionFailed';
}

/** No such object; never a missing bucket (also a 404, which no object to read or write can cure). */
export function isNotFound(err: unknown): boolean {
  const name = (err as SdkError | undefined)?.name;
  if (name === 'NoSuchBucket') return false;
  return statusOf(err) === 404 || name === 'NoSuchKey' || name === 'NotFound';
}

/** Codes of a request that got no answer: it never reached S3, or the connection broke off. */
const NO_ANSWER = new Set([...CANNOT_CONNECT, 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENETDOWN']);

/**
 * S3 did not answer, or answered 5xx or a throttle through every attempt: the same call later may
 * succeed. A refusal (403, 404, 412…) or no credentials is never that.
 */
export function isUnavailable(err: unknown): boolean {
  const e = err as SdkError | undefined;
  if (!e || isPreconditionFailed(err)) return false;
  const status = statusOf(err);
  if (status !== undefined) return status >= 500 || status === 429;
  return NO_ANSWER.has(e.code ?? '') || e.name === 'TimeoutError';
}

/**
 * The error for a failed S3 call before anything was sent: S3UnavailableError (exit 3, try again)
 * when S3 did not answer or kept failing, else `Refusal` (exit 2).
 */
export function s3Failure(
  message: string,
  err: unknown,
  Refusal: new (message: string, options?: { cause?: unknown }) => LoaderError = UsageError,
): LoaderError {
  return isUnavailable(err)
    ? new S3UnavailableError(message, {
        cause: err,
        next: 'Nothing was sent: run the same command again once S3 answers',
      })
    : new Refusal(message, { cause: err });
}

/**
 * Why an S3 call failed, as a person reads it: the bucket missing, no such object, no permission
 * (naming the action), no credentials, the endpoint unreachable. `action` is the IAM action the
 * call needs (`s3:GetObject`).
 */
export function describeS3Error(err: unknown, action: string): string {
  const e = (err ?? {}) as SdkError;
  const status = statusOf(err);
  const name = e.name ?? e.Code ?? '';
  // An answer the SDK could not read as S3's: another server at that address, or a proxy's error page.
  if (status !== undefined && /Deserialization error|XML parse error/i.test(e.message ?? ''))
    return status >= 500
      ? `HTTP ${status} from something in front of S3 (its answer is not S3's)`
      : `HTTP ${status} in an answer that is not S3's: is the S3 endpoint (--s3-endpoint, AWS_ENDPOINT_URL_S3) ` +
          'an S3-compatible server?';
  if (name === 'NoSuchBucket') return 'the bucket does not exist (NoSuchBucket)';
  if (name === 'NoSuchKey' || (status === 404 && name !== 'NoSuchVersion')) return 'no such object (NoSuchKey)';
  if (name === 'NoSuchVersion') return 'that version of the object no longer exists (NoSuchVersion)';
  if (status === 403 || name === 'AccessDenied')
    return `access denied: the credentials in use may not ${action} there (AccessDenied)`;
  if (status === 301 || name === 'PermanentRedirect') return 'the bucket is in another Region: pass --region';
  if (name === 'CredentialsProviderError' || /credential/i.test(e.message ?? ''))
    return `no usable AWS credentials (${e.message ?? name})`;
  if (/region is missing/i.test(e.message ?? '')) return 'no AWS Region: pass --region or set AWS_REGION';
  if (status !== undefined)
    return `${name || 'error'} (HTTP ${status})${e.message ? `: ${e.message.replace(/\.$/, '')}` : ''}`;
  const code = e.code ?? (err as NodeJS.ErrnoException | undefined)?.code;
  if (code) return `cannot reach the S3 endpoint: ${describeErrno(err)}`;
  return e.message ?? String(err);
}
