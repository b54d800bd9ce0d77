/**
 * Stage 5 — send. Builds the Connect client and turns one StartTaskContact call into a SendOutcome,
 * classifying every failure by what it means for a retry.
 */

import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ConnectClient, StartTaskContactCommand, type StartTaskContactCommandInput } from '@aws-sdk/client-connect';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION, isLoopback, quietSdkNodeWarning } from '../aws.js';
import { UsageError } from '../errors.js';
import type { SendOutcome, TaskRequest } from '../types.js';

export interface ClientOptions {
  endpoint?: string;
  region?: string;
  profile?: string;
  /** Credentials are in the environment: an emulator endpoint is signed for with them, not placeholders. */
  envCredentials?: boolean;
  /** Sockets per host: at least the number of requests in flight, or requests queue in the agent. */
  maxSockets: number;
  /** Per-request time limit; an answer that has not come by then is an unknown outcome. */
  requestTimeoutMs: number;
  /** SDK attempts per call; 1 (our own retry layer) unless a caller wants the SDK's (read-only calls). */
  maxAttempts?: number;
}

/** The seam between the pipeline and the SDK: tests of the retry logic may inject their own. */
export interface TaskSender {
  startTask(request: TaskRequest): Promise<SendOutcome>;
  destroy(): void;
  /** Throws a UsageError when no request could succeed (no Region, no credentials); run before any file is made. */
  ready?(): Promise<void>;
}

/** How long resolving credentials may take before the run refuses (the instance metadata service can hang). */
const CREDENTIALS_TIMEOUT_MS = 10_000;

export function createConnectClient(options: ClientOptions): ConnectClient {
  quietSdkNodeWarning();
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
  const { endpoint } = options;
  return new ConnectClient({
    ...(endpoint ? { endpoint } : {}),
    // A run passes the Region it resolved; a program's own client for the emulator needs none.
    ...(options.region ? { region: options.region } : isLoopback(endpoint) ? { region: EMULATOR_REGION } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    // The emulator checks that requests are signed, not by whom: with no credentials configured,
    // sign with placeholder ones so a rehearsal needs no AWS account.
    ...(isLoopback(endpoint) && !options.profile && !options.envCredentials
      ? { credentials: EMULATOR_CREDENTIALS }
      : {}),
    // Our own retry layer owns retries: the SDK's shared retry budget runs dry under a throttling
    // storm and then fails rows (api-facts.md).
    maxAttempts: options.maxAttempts ?? 1,
    // The SDK's own throughput setting (v3.649): resolve the middleware stack once per command class,
    // not once per request. We add no per-command middleware. Per request it was a fifth of the
    // SDK's garbage (bench scenario 4).
    cacheMiddleware: true,
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      connectionTimeout: Math.min(options.requestTimeoutMs, 10_000),
      requestTimeout: options.requestTimeoutMs,
      throwOnRequestTimeout: true,
    }),
  });
}

export class ConnectSender implements TaskSender {
  constructor(private readonly client: ConnectClient) {}

  async startTask(request: TaskRequest): Promise<SendOutcome> {
    try {
      const out = await this.client.send(new StartTaskContactCommand(request as StartTaskContactCommandInput));
      if (!out.ContactId)
        return { kind: 'transient', code: 'EmptyResponse', message: 'the response held no ContactId', answered: true };
      return { kind: 'created', contactId: out.ContactId };
    } catch (err) {
      return classifyError(err);
    }
  }

  destroy(): void {
    this.client.destroy();
  }

  /**
   * Resolves the Region and the credentials once, before the run writes anything. The client keeps
   * the resolved credentials (and refreshes them when they expire), so this costs no second lookup.
   */
  ready(timeoutMs = CREDENTIALS_TIMEOUT_MS): Promise<void> {
    return clientReady(this.client, timeoutMs);
  }
}

/**
 * Resolves the client's Region and credentials once, before anything is written or sent: a missing
 * one is a refusal that says what to set up, never a failed row or a bare error name. The client
 * keeps the resolved credentials (and refreshes them when they expire), so this costs no second lookup.
 */
export async function clientReady(client: ConnectClient, timeoutMs = CREDENTIALS_TIMEOUT_MS): Promise<void> {
  try {
    await client.config.region();
  } catch {
    throw new UsageError('no AWS Region: pass --region, or set AWS_REGION or a region in your AWS profile');
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
  try {
    const found = await Promise.race([client.config.credentials(), late]);
    if (found === 'late') {
      throw new UsageError(
        `no AWS credentials after ${timeoutMs / 1000} s (a source in the credential chain, such as the instance ` +
          `metadata service, did not answer): check the machine's role, or pass --profile`,
      );
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      `no usable AWS credentials (${(err as Error).message}): set them up as for the AWS CLI (environment ` +
        `variables, --profile, aws sso login, an instance or container role)`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}

/** Errors raised before a request leaves, or auth refusals: every other row would meet them too. */
const FATAL_CODES = new Set([
  'CredentialsProviderError',
  'TokenProviderError',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'AccessDeniedException',
  'InvalidClientTokenId',
]);

/** Maps an SDK or network error to a SendOutcome. Exported for table tests. */
export function classifyError(err: unknown): SendOutcome {
  const e = err as Error & { $metadata?: { httpStatusCode?: number }; code?: string; $fault?: string };
  const status = e.$metadata?.httpStatusCode;
  // An answer whose body is not the service's JSON (an HTML 503 from a proxy or load balancer): the
  // SDK's parser fails on it, and its exception would name the parser, not what happened.
  if (status !== undefined && (e.name === 'SyntaxError' || /Deserialization error/.test(String(e.message)))) {
    return classifyError(
      Object.assign(new Error(`HTTP ${status}: the answer's body was not the service's JSON (a proxy in between?)`), {
        name: `HTTP ${status} (not a service answer)`,
        $metadata: e.$metadata,
      }),
    );
  }
  // An answer that parsed but named no error (no x-amzn-ErrorType, no type in the body): an empty 503,
  // or a gateway's own JSON such as {"message":"Endpoint request timed out"}. The service names every
  // error it sends; the SDK calls such an answer "Unknown", which says nothing of what happened.
  if (status !== undefined && e.name === 'Unknown') {
    return classifyError(
      Object.assign(
        new Error(`HTTP ${status}: the answer named no error of the service (an empty body, or a proxy's own)`),
        { name: `HTTP ${status} (not a service answer)`, $metadata: e.$metadata },
      ),
    );
  }
  const code = e.name && e.name !== 'Error' ? e.name : (e.code ?? 'Error');
  const message = String(e.message ?? err);
  if (status === 429 || code === 'ThrottlingException' || code === 'TooManyRequestsException') {
    return { kind: 'throttled', code, message };
  }
  if (status !== undefined && status >= 500) return { kind: 'transient', code, message, answered: true };
  if (status === 401 || status === 403 || FATAL_CODES.has(code) || /region is missing/i.test(message)) {
    return { kind: 'fatal', code, message };
  }
  if (status === 402 && atActiveTaskLimit((e as { Reason?: unknown }).Reason, message)) {
    return { kind: 'capacity', code, message };
  }
  if (status !== undefined && status >= 400) return { kind: 'refused', code, message, status };
  // No HTTP answer: a reset, a refused connection or a timeout. The task may or may not exist.
  return { kind: 'transient', code: e.code ?? code, message, answered: false };
}

/**
 * Whether a 402 ServiceQuotaExceededException is the instance's active-task limit (it clears as agents
 * close tasks: the run waits) rather than a cap that never clears for this request (12 tasks per
 * PreviousContactId, attachments): that one fails the row. Exported for table tests.
 *
 * A `Reason` decides when there is one: it must name active or concurrent tasks (the emulator's
 * `ACTIVE_TASKS`); any other reason is a refusal. Without one, the message decides, conservatively:
 * it must speak of active or concurrent tasks or contacts and of nothing a request carries
 * (a previous contact, a link, an attachment, a file). A 402 that says neither fails its row, as
 * every 402 did before: waiting on a cap that never clears would hold the whole run for --max-wait.
 */
export function atActiveTaskLimit(reason: unknown, message: string): boolean {
  if (reason !== undefined && reason !== null && reason !== '') {
    const text = typeof reason === 'string' ? reason : JSON.stringify(reason);
    return /active|concurrent/i.test(text) && !PER_REQUEST_CAP.test(text);
  }
  return (
    /\b(active|concurrent)\b/i.test(message) &&
    /\b(tasks?|contacts?)\b/i.test(message) &&
    !PER_REQUEST_CAP.test(message)
  );
}

/** Words of a 402 about what one request carries: a cap waiting cannot clear. */
const PER_REQUEST_CAP = /previous|linked|chain|attach|file|reference/i;
