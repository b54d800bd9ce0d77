/**
 * One run per S3 results object, as lock.ts is one run per local results file: a lease object
 * `<results>.lease` beside it, which says who holds it (pid, host, since, a random id) and for how
 * long (`ttlSeconds`, counted from the object's last write by the server's clock).
 *
 * Every change of hands is one conditional write, which S3 applies atomically:
 * - take: create it only if no object is there (`If-None-Match: *`);
 * - renew (every 5 s) and release: overwrite it only if it still has the ETag of our last write
 *   (`If-Match`); a release marks it released, so the next run takes it at once (no delete needed);
 * - take over an expired (or released) lease: overwrite it only if it still has the ETag we judged
 *   expired. Of several runs that judged it so, exactly one write succeeds; the others then find a
 *   live holder and are refused (exit 4).
 *
 * Expired means: not renewed for its TTL (60 s) by the server's clock — the lease's Last-Modified
 * against the Date of the answer that showed it, so no two machines' clocks are compared — or
 * recorded by a process of this host that is gone (taken at once, as the local lock does). "This
 * host" is the same host name, kernel boot and pid namespace, as for the lock: the pods of one index
 * of an Indexed Job share a host name and are all pid 1, and one cannot see the other's processes.
 *
 * The holder stops writing before anyone may take over: it counts its lease valid for the TTL less
 * 10 s from the moment it sent its last successful renewal (by its own monotonic clock), and every
 * results write checks that (`assertHeld`). A renewal refused with 412 means another run took the
 * lease over: the run stops like one that lost its local lock (exit 4). A renewal that fails
 * otherwise (the network) is tried again at the next beat until that validity runs out.
 */
import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { LockedError, LockLostError } from '../errors.js';
import { describeS3Error, isPreconditionFailed, s3Failure } from '../s3/client.js';
import { type S3Location, s3Url } from '../s3/url.js';
import { getObject, putObject } from '../s3/write.js';
import { goneFromThisHost, thisHolder } from './lock.js';

const TTL_SECONDS = 60;
const RENEW_MS = 5_000;
/** A holder counts its lease this much shorter than anyone else does. */
const MARGIN_MS = 10_000;
const ATTEMPTS = 6;

interface LeaseRecord {
  id: string;
  pid?: number;
  host?: string;
  started?: number;
  /** The kernel boot and pid namespace its pid belongs to: another container of the same host name has another. */
  pidSpace?: string;
  since?: string;
  ttlSeconds?: number;
  /** How many times the holder renewed it (tells its own earlier write from another's after a lost answer). */
  renewal?: number;
  released?: boolean;
}

export interface Lease {
  url: string;
  /** Aborted, with a LockLostError as its reason, once the lease is lost or may have run out. */
  signal: AbortSignal;
  /** Throws LockLostError unless this run still holds the lease (and will for a while). */
  assertHeld(): void;
  /** Stops renewing and marks the lease released (if it is still ours). */
  release(): Promise<void>;
}

const leaseLocation = (results: S3Location): S3Location => ({
  bucket: results.bucket,
  key: `${results.key}.lease`,
});

/**
 * Takes the lease of the results object at `results`; LockedError (exit 4) while another run holds
 * it. `signal` abandons the attempt (the caller tells why).
 */
export async function acquireLease(client: S3Client, results: S3Location, signal?: AbortSignal): Promise<Lease> {
  const at = leaseLocation(results);
  const resultsUrl = s3Url(results);
  const mine: LeaseRecord = {
    id: `${process.pid}-${randomBytes(6).toString('hex')}`,
    ...thisHolder(),
    since: new Date().toISOString(),
    ttlSeconds: TTL_SECONDS,
    renewal: 0,
  };
  const body = (record: LeaseRecord) => `${JSON.stringify(record)}\n`;
  const fail = (err: unknown) =>
    s3Failure(`cannot use --results ${resultsUrl}: ${describeS3Error(err, 's3:PutObject')}`, err);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const sent = performance.now();
    try {
      const written = await putObject(client, at, body(mine), { ifNoneMatch: true, signal });
      return held(client, at, resultsUrl, mine, written.etag, sent);
    } catch (err) {
      if (!isPreconditionFailed(err)) throw fail(err);
    }
    const found = await getObject(client, at, signal).catch((err: unknown) => {
      throw fail(err);
    });
    if (!found) continue; // released and removed just now: try again
    const record = parse(found.body);
    // Our own first write, whose answer was lost and retried into a 412.
    if (record?.id === mine.id) return held(client, at, resultsUrl, mine, found.etag, sent);
    // An unreadable lease is judged by its age alone, as an unreadable lock holder is.
    if (!expired(record ?? { id: '' }, found.lastModified, found.serverDate)) {
      const who = record?.pid
        ? `pid ${record.pid} on ${record.host}${record.since ? `, since ${record.since}` : ''}`
        : 'a holder whose record is unreadable';
      const until = found.lastModified
        ? new Date(found.lastModified.getTime() + (record?.ttlSeconds ?? TTL_SECONDS) * 1000).toISOString()
        : 'a minute after its last renewal';
      throw new LockedError(
        `another run holds ${resultsUrl} (${who}); if that run is gone, its lease ${s3Url(at)} expires at ${until} ` +
          '(or delete it)',
      );
    }
    try {
      const written = await putObject(client, at, body(mine), { ifMatch: found.etag, signal });
      return held(client, at, resultsUrl, mine, written.etag, sent);
    } catch (err) {
      if (!isPreconditionFailed(err)) throw fail(err);
      // Another run took it over first: look again.
    }
  }
  throw new LockedError(`could not take the lease ${s3Url(at)}: other runs keep taking it`);
}

function parse(body: Buffer): LeaseRecord | undefined {
  try {
    const record = JSON.parse(body.toString('utf8')) as LeaseRecord;
    return typeof record === 'object' && record && typeof record.id === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Released, its holder a process of this host that is gone, or not renewed for its TTL by the server's clock. */
function expired(record: LeaseRecord, lastModified: Date | undefined, serverDate: Date | undefined): boolean {
  if (record.released || goneFromThisHost(record)) return true;
  if (!lastModified) return false;
  const now = serverDate?.getTime() ?? Date.now();
  return now - lastModified.getTime() > (record.ttlSeconds ?? TTL_SECONDS) * 1000;
}

function held(
  client: S3Client,
  at: S3Location,
  resultsUrl: string,
  record: LeaseRecord,
  firstEtag: string,
  sentAt: number,
): Lease {
  let etag = firstEtag;
  let validUntil = sentAt + TTL_SECONDS * 1000 - MARGIN_MS;
  const lost = new AbortController();
  const lose = (why: string) => {
    if (lost.signal.aborted) return;
    clearInterval(timer);
    lost.abort(
      new LockLostError(
        `lost the lease on ${resultsUrl}: ${why}. This run stopped without writing anything more; the run ` +
          'holding the lease now (or a later one with --resume) records the remaining rows, with the same ClientTokens.',
      ),
    );
  };
  let renewing = false;
  const renew = async () => {
    if (renewing || lost.signal.aborted) return;
    renewing = true;
    const next = { ...record, renewal: (record.renewal ?? 0) + 1 };
    const sent = performance.now();
    try {
      etag = (await putObject(client, at, `${JSON.stringify(next)}\n`, { ifMatch: etag })).etag;
      record = next;
      validUntil = sent + TTL_SECONDS * 1000 - MARGIN_MS;
    } catch (err) {
      if (isPreconditionFailed(err)) {
        // Our own renewal whose answer was lost, retried into a 412? Then the lease says so.
        const found = await getObject(client, at).catch(() => undefined);
        const now = found && parse(found.body);
        if (found && now?.id === record.id && now.renewal === next.renewal) {
          etag = found.etag;
          record = next;
          validUntil = sent + TTL_SECONDS * 1000 - MARGIN_MS;
        } else lose('another run took it over while this one did not renew it (frozen, suspended or cut off)');
      }
      // Anything else (the network, a 5xx): tried again at the next beat, while the lease is still valid.
    } finally {
      renewing = false;
    }
  };
  const timer = setInterval(() => {
    if (performance.now() > validUntil)
      lose(`it could not be renewed for ${(TTL_SECONDS * 1000 - MARGIN_MS) / 1000} s, and may be taken over`);
    else void renew();
  }, RENEW_MS);
  timer.unref();
  return {
    url: s3Url(at),
    signal: lost.signal,
    assertHeld() {
      if (!lost.signal.aborted && performance.now() > validUntil)
        lose(`it could not be renewed for ${(TTL_SECONDS * 1000 - MARGIN_MS) / 1000} s, and may be taken over`);
      if (lost.signal.aborted) throw lost.signal.reason;
    },
    async release() {
      clearInterval(timer);
      if (lost.signal.aborted) return;
      while (renewing) await new Promise((r) => setTimeout(r, 20));
      await putObject(client, at, `${JSON.stringify({ ...record, released: true })}\n`, { ifMatch: etag }).catch(
        () => undefined, // taken over, or unreachable: it expires on its own
      );
    },
  };
}
