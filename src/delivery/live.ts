/**
 * `validate --check-live`: read-only calls asking the instance whether the ids a file names exist,
 * so a nightly job fails before anything is sent instead of failing every row with 404. Each id is
 * asked once: DescribeInstance per instance, then DescribeContactFlow / GetTaskTemplate /
 * DescribeQuickConnect per routing id of an instance that exists.
 * IAM: connect:DescribeInstance, connect:DescribeContactFlow, connect:GetTaskTemplate, connect:DescribeQuickConnect.
 */
import {
  type ConnectClient,
  DescribeContactFlowCommand,
  DescribeInstanceCommand,
  DescribeQuickConnectCommand,
  GetTaskTemplateCommand,
} from '@aws-sdk/client-connect';
import { clientReady, createConnectClient } from './send.js';

/** The resources a file names, per instance, for `validate --check-live`. */
export interface NamedIds {
  instances: string[];
  /** [kind, instanceId, id] */
  resources: ['ContactFlowId' | 'TaskTemplateId' | 'QuickConnectId', string, string][];
}

export interface LiveResult {
  checked: number;
  /** What does not exist, e.g. `ContactFlowId 1234… in instance abcd…`. */
  missing: string[];
  /** Calls that could not tell (access denied, throttled, network), with the error code. */
  unknown: string[];
}

export interface LiveOptions {
  endpoint?: string;
  region?: string;
  profile?: string;
  envCredentials?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ARN = /^arn:aws[\w-]*:connect:[\w-]+:\d{12}:[\w/.:-]{1,200}$/;

/**
 * An id as it may be shown: an id in Connect's own shape (a UUID or an ARN) as it is; anything else
 * — a shifted column's e-mail address, a name — is a cell's content, shown by its length only.
 */
export function displayId(id: string): string {
  return UUID.test(id) || ARN.test(id) ? id : `<a value of ${[...id].length} characters that is not an id>`;
}

/** Refuses (exit 2) before anything is written when no Region or no credentials would let the check ask. */
export async function liveReady(options: LiveOptions): Promise<void> {
  const client = liveClient(options);
  try {
    await clientReady(client);
  } finally {
    client.destroy();
  }
}

function liveClient(options: LiveOptions): ConnectClient {
  // The SDK's standard retries (3 attempts) suit a handful of read-only calls.
  return createConnectClient({ ...options, maxSockets: 4, requestTimeoutMs: 15_000, maxAttempts: 3 });
}

/** Asks about every id in `named`; never throws for a service answer (it is part of the result). */
export async function checkLive(named: NamedIds, options: LiveOptions, client?: ConnectClient): Promise<LiveResult> {
  const own = client ?? liveClient(options);
  const result: LiveResult = { checked: 0, missing: [], unknown: [] };
  const absent = new Set<string>();
  try {
    // No Region or no credentials: said as run says it (exit 2), not as an id that could not be checked.
    await clientReady(own);
    for (const instance of named.instances) {
      const answer = await ask(() => own.send(new DescribeInstanceCommand({ InstanceId: instance })));
      result.checked++;
      if (answer === 'missing') {
        absent.add(instance);
        result.missing.push(`InstanceId ${displayId(instance)}`);
      } else if (answer !== 'found') result.unknown.push(`InstanceId ${displayId(instance)}: ${answer}`);
    }
    for (const [kind, instance, id] of named.resources) {
      if (absent.has(instance)) continue; // every id of a missing instance is missing with it: said once
      const answer = await ask(() => describe(own, kind, instance, id));
      result.checked++;
      if (answer === 'missing') result.missing.push(`${kind} ${displayId(id)} in instance ${displayId(instance)}`);
      else if (answer !== 'found')
        result.unknown.push(`${kind} ${displayId(id)} in instance ${displayId(instance)}: ${answer}`);
    }
  } finally {
    if (!client) own.destroy();
  }
  return result;
}

function describe(
  client: ConnectClient,
  kind: NamedIds['resources'][number][0],
  InstanceId: string,
  id: string,
): Promise<unknown> {
  if (kind === 'ContactFlowId') return client.send(new DescribeContactFlowCommand({ InstanceId, ContactFlowId: id }));
  if (kind === 'TaskTemplateId') return client.send(new GetTaskTemplateCommand({ InstanceId, TaskTemplateId: id }));
  return client.send(new DescribeQuickConnectCommand({ InstanceId, QuickConnectId: id }));
}

/** 'found', 'missing' (404 ResourceNotFoundException), or the error code that kept us from knowing. */
async function ask(call: () => Promise<unknown>): Promise<'found' | 'missing' | string> {
  try {
    await call();
    return 'found';
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    if (e.name === 'ResourceNotFoundException' || e.$metadata?.httpStatusCode === 404) return 'missing';
    // A flow that exists but was never published still exists: it is a routing problem of its own.
    if (e.name === 'ContactFlowNotPublishedException') return 'found';
    return e.name && e.name !== 'Error' ? e.name : 'no answer';
  }
}
