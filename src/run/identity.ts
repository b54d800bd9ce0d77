/**
 * The identity of a run (see ledger/state.ts): built from this run's settings, and compared with
 * the identity a results file's run recorded. Any difference means the results file is the record
 * of another run: trusting it would send rows elsewhere, skip rows never sent there, or give rows
 * that may already exist a new ClientToken.
 */
import { createHash } from 'node:crypto';
import type { JobFile } from '../config/job.js';
import type { RunConfig } from '../config/resolve.js';
import type { SettingKey } from '../config/settings.js';
import { type Condition, describeCondition } from '../input/filter.js';
import { canonical } from '../input/token.js';
import { encodingName, type RunIdentity, type RunState } from '../ledger/state.js';

/**
 * The identity of the run these settings describe; `inputSha` is the input's checksum (none for stdin),
 * `inputObject` the version of an S3 input.
 */
export function runIdentity(
  config: RunConfig,
  inputSha: string | undefined,
  inputObject?: RunIdentity['inputObject'],
): RunIdentity {
  const endpoint = config.get('endpoint');
  const jobPath = config.get('job');
  const sha = jobSha256(config.job);
  const shard = config.shard;
  const timeZone = config.get('timezone');
  return {
    inputSha256: inputSha,
    ...(inputObject ? { inputObject } : {}),
    endpoint: endpoint === undefined ? undefined : normaliseUrl(endpoint),
    region: config.get('region'),
    instanceId: config.get('instanceId'),
    contactFlowId: config.get('contactFlowId'),
    taskTemplateId: config.get('taskTemplateId'),
    quickConnectId: config.get('quickConnectId'),
    ...(jobPath || sha ? { job: jobPath ?? '(given as an object)', jobSha256: sha } : {}),
    tokenNamespace: config.get('tokenNamespace')!,
    tokenKey: config.get('tokenKey'),
    encoding: encodingName(config.get('encoding')),
    delimiter: config.get('delimiter') ?? ',',
    ...(timeZone ? { timeZone } : {}),
    ...(shard ? { shard: `${shard.index}/${shard.count}` } : {}),
    ...(config.job.where?.length ? { where: canonical(config.job.where) as Condition[] } : {}),
  };
}

/**
 * Job-file keys outside the job's checksum: those that only pace or describe a run (they may change
 * between runs), and `where`, compared as a field of its own so that a refusal can show it.
 */
const NOT_DECISIVE = new Set(['rate', 'burst', 'maxFailures', 'description', '$schema', 'where']);

/** SHA-256 of what in a job file decides a request (its canonical JSON); undefined without one. */
function jobSha256(job: JobFile): string | undefined {
  const decisive = Object.fromEntries(Object.entries(job).filter(([k]) => !NOT_DECISIVE.has(k)));
  if (Object.keys(decisive).length === 0) return undefined;
  return createHash('sha256')
    .update(JSON.stringify(canonical(decisive)))
    .digest('hex');
}

/** How each field is named in a refusal, and how its value is shown (never row content). */
const FIELDS: Record<
  keyof RunIdentity,
  { label: string; show: (v: RunIdentity) => string; compared?: false; setting?: SettingKey }
> = {
  inputSha256: {
    label: 'the input',
    show: (v) => (v.inputSha256 ? `content with checksum ${v.inputSha256.slice(0, 16)}` : 'standard input'),
  },
  inputObject: {
    label: 'the input object',
    show: (v) =>
      v.inputObject?.versionId
        ? `version ${v.inputObject.versionId}`
        : v.inputObject
          ? `ETag ${v.inputObject.etag}`
          : 'not an S3 object',
    compared: false,
  },
  endpoint: {
    label: '--endpoint',
    show: (v) => v.endpoint ?? `AWS${v.region ? ` ${v.region}` : ''}`,
    setting: 'endpoint',
  },
  region: { label: '--region', show: (v) => v.region ?? 'no Region configured', setting: 'region' },
  instanceId: { label: '--instance-id', show: (v) => v.instanceId ?? 'none', setting: 'instanceId' },
  contactFlowId: { label: '--contact-flow-id', show: (v) => v.contactFlowId ?? 'none', setting: 'contactFlowId' },
  taskTemplateId: { label: '--task-template-id', show: (v) => v.taskTemplateId ?? 'none', setting: 'taskTemplateId' },
  quickConnectId: { label: '--quick-connect-id', show: (v) => v.quickConnectId ?? 'none', setting: 'quickConnectId' },
  // The path is shown, not compared: the same job file moved elsewhere is the same job.
  job: { label: '--job', show: (v) => v.job ?? 'no job file', compared: false },
  jobSha256: {
    label: 'the job file',
    show: (v) => (v.jobSha256 ? `${v.job ?? ''} with content checksum ${v.jobSha256.slice(0, 16)}` : 'no job file'),
    setting: 'job',
  },
  tokenNamespace: { label: '--token-namespace', show: (v) => `"${v.tokenNamespace}"`, setting: 'tokenNamespace' },
  tokenKey: {
    label: '--token-key',
    show: (v) => (v.tokenKey ? v.tokenKey.join(',') : 'the whole request'),
    setting: 'tokenKey',
  },
  encoding: { label: '--encoding', show: (v) => v.encoding, setting: 'encoding' },
  delimiter: { label: '--delimiter', show: (v) => JSON.stringify(v.delimiter), setting: 'delimiter' },
  timeZone: { label: '--timezone', show: (v) => v.timeZone ?? 'none', setting: 'timezone' },
  shard: { label: '--shard', show: (v) => v.shard ?? 'the whole input', setting: 'shard' },
  where: {
    label: 'the job file\'s "where" (which records are sent)',
    show: (v) => (v.where ? v.where.map((c, i) => `where[${i + 1}]: ${describeCondition(c)}`).join('; ') : 'none'),
    setting: 'job',
  },
};

export interface Difference {
  field: keyof RunIdentity;
  label: string;
  was: string;
  now: string;
  /** The environment variable that gave the new value, when one did: a printed flag cannot unset it. */
  variable?: string;
}

/**
 * The fields in which `current` differs from what `recorded` ran with, less `skip` and what it never
 * recorded. With `config`, each difference says where the new value came from when no flag gave it.
 */
export function differences(
  recorded: RunState,
  current: RunIdentity,
  skip: (keyof RunIdentity)[] = [],
  config?: RunConfig,
): Difference[] {
  const ignored = new Set([...skip, ...(recorded.unrecorded ?? [])]);
  const out: Difference[] = [];
  for (const field of Object.keys(FIELDS) as (keyof RunIdentity)[]) {
    const spec = FIELDS[field];
    if (spec.compared === false || ignored.has(field)) continue;
    if (JSON.stringify(recorded.identity[field] ?? null) === JSON.stringify(current[field] ?? null)) continue;
    const origin = spec.setting && config?.origin(spec.setting);
    const from =
      origin && origin.kind !== 'flag' && origin.kind !== 'default' ? ` (from ${config!.from(spec.setting!)})` : '';
    out.push({
      field,
      label: spec.label,
      was: spec.show(recorded.identity),
      now: `${spec.show(current)}${from}`,
      ...(origin && origin.kind === 'env' ? { variable: origin.name } : {}),
    });
  }
  return out;
}

/** What a rerun may not change from the run it sends again (it reads a results file, not the input). */
export const RERUN_SKIPS: (keyof RunIdentity)[] = ['inputSha256', 'encoding', 'delimiter'];
/** Where a run sent: a dry run sent nowhere, so a rerun of one may send anywhere. */
export const TARGET_FIELDS: (keyof RunIdentity)[] = ['endpoint', 'region'];

export function normaliseUrl(url: string): string {
  try {
    return new URL(url).href.replace(/\/$/, '');
  } catch {
    return url;
  }
}
