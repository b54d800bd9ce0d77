/**
 * `--rate auto`: the applied quota of the account and Region for the operation sent (StartTaskContact
 * for `run`, StopContact for `stop`), from Service Quotas (`servicequotas:ListServiceQuotas`,
 * read-only). ServiceCode `connect`; the quotas are found by name — "Rate of StartTaskContact API
 * requests" and the one whose name also says "burst" — since their quota codes are not all published
 * (StopContact's rate is L-650BD10F, also matched by code). Not allowed or not found: the default 2/5
 * with one warning.
 */
import type { ServiceQuota } from '@aws-sdk/client-service-quotas';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION, isLoopback, quietSdkNodeWarning } from '../aws.js';
import type { Logger } from '../types.js';

const DEFAULT_QUOTA = { rate: 2, burst: 5 };
const TIMEOUT_MS = 5_000;

export interface QuotaSource {
  endpoint?: string;
  region?: string;
  profile?: string;
  log: Logger;
  /** The operation whose quota is read; StartTaskContact unless told. */
  operation?: 'StartTaskContact' | 'StopContact';
}

/** Quota codes known for an operation's rate, matched besides the name. */
const RATE_CODES: Record<string, string> = { StopContact: 'L-650BD10F' };

export async function readQuota(o: QuotaSource): Promise<{ rate: number; burst: number }> {
  const { endpoint } = o;
  // The emulator answers Service Quotas on its own address; real AWS on Service Quotas' endpoint.
  const local = isLoopback(endpoint);
  quietSdkNodeWarning();
  // Loaded only for --rate auto: a run told its rate does not pay for this client's start-up.
  const { ListServiceQuotasCommand, ServiceQuotasClient } = await import('@aws-sdk/client-service-quotas');
  const client = new ServiceQuotasClient({
    ...(local
      ? { endpoint, credentials: EMULATOR_CREDENTIALS, region: o.region ?? EMULATOR_REGION }
      : o.region
        ? { region: o.region }
        : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    maxAttempts: 2,
  });
  try {
    const quotas: ServiceQuota[] = [];
    let next: string | undefined;
    do {
      const page = await client.send(
        new ListServiceQuotasCommand({ ServiceCode: 'connect', NextToken: next, MaxResults: 100 }),
        { abortSignal: AbortSignal.timeout(TIMEOUT_MS) },
      );
      quotas.push(...(page.Quotas ?? []));
      next = page.NextToken;
    } while (next);
    const operation = o.operation ?? 'StartTaskContact';
    const named = quotas.filter(
      (q) =>
        (q.QuotaName ?? '').toLowerCase().includes(operation.toLowerCase()) || q.QuotaCode === RATE_CODES[operation],
    );
    const rate = named.find((q) => !/burst/i.test(q.QuotaName ?? ''))?.Value;
    const burst = named.find((q) => /burst/i.test(q.QuotaName ?? ''))?.Value;
    if (!(rate && rate > 0)) throw new Error(`no ${operation} rate quota listed`);
    const found = { rate, burst: burst && burst >= 1 ? Math.floor(burst) : Math.max(1, Math.ceil(rate)) };
    o.log.info({ ...found, quotaCode: named[0]?.QuotaCode }, `--rate auto: the applied ${operation} quota`);
    return found;
  } catch (err) {
    o.log.warn(
      { reason: `${(err as Error).name}: ${(err as Error).message}` },
      '--rate auto: cannot read the quota from Service Quotas; using the default 2 requests/s, burst 5',
    );
    return DEFAULT_QUOTA;
  } finally {
    client.destroy();
  }
}
