/**
 * What shares a quota: the limiter id. StartTaskContact's quota belongs to the AWS account and Region,
 * so by default the id is `<account>/<region>` from STS GetCallerIdentity (which needs no IAM
 * permission): two runs on different instances of one account still share. Where STS cannot answer
 * (an emulator or other loopback endpoint, no route to STS) the id is `<endpoint>/<region>`, so runs
 * against the same emulator still share; the run warns once.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { isLoopback, quietSdkNodeWarning } from '../aws.js';
import type { Logger } from '../types.js';

/** How long to wait for STS before falling back (ms): a run must not hang on a missing route. */
const STS_TIMEOUT_MS = 2_000;

export interface IdentityOptions {
  limiterId?: string;
  endpoint?: string;
  region?: string;
  profile?: string;
  log: Logger;
}

export async function resolveLimiterId(o: IdentityOptions): Promise<string> {
  if (o.limiterId) return o.limiterId;
  const { endpoint, region } = o;
  const fallback = (why: string) => {
    const id = `${endpoint ? new URL(endpoint).host : 'aws'}/${region ?? 'us-east-1'}`;
    o.log.warn(
      { limiterId: id, reason: why },
      'limiter id: the AWS account is unknown, sharing by endpoint and Region (pass --limiter-id to choose)',
    );
    return id;
  };
  // The emulator has no STS, and its placeholder credentials would be refused by the real one.
  if (isLoopback(endpoint)) return fallback('loopback endpoint');
  quietSdkNodeWarning();
  const sts = new STSClient({
    ...(o.region ? { region: o.region } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    maxAttempts: 1,
  });
  try {
    const [identity, stsRegion] = await Promise.all([
      sts.send(new GetCallerIdentityCommand({}), { abortSignal: AbortSignal.timeout(STS_TIMEOUT_MS) }),
      sts.config.region(),
    ]);
    if (!identity.Account) return fallback('STS named no account');
    return `${identity.Account}/${region ?? stsRegion}`;
  } catch (err) {
    return fallback(`STS: ${(err as Error).name}`);
  } finally {
    sts.destroy();
  }
}
