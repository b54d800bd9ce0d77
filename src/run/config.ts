/**
 * Settings of one run: flags win over a stored run's options (resume, rerun), which win over the job
 * file, which wins over built-in defaults.
 */
import { basename } from 'node:path';
import { UsageError } from '../errors.js';
import type { JobFile } from '../input/job.js';
import type { Defaults, Mapping } from '../input/map.js';
import { DEFAULT_RETRY } from '../delivery/retry.js';
import { checkTimeZone } from '../input/time.js';
import { codePoints } from '../input/rules.js';
import type { StoredOptions } from '../ledger/state.js';

/** The options of `run` that decide what is sent (a subset of RunOptions). */
export interface MappingFlags extends Omit<StoredOptions, 'job'> {
  input: string;
  tokenNamespace?: string;
  maxAttempts?: number;
  concurrency?: number;
  dryRun?: boolean;
  strictColumns?: boolean;
}

export type Settings = ReturnType<typeof resolveSettings>;

export function resolveSettings(flags: MappingFlags, job: JobFile, stored: StoredOptions = {}) {
  const pick = <K extends keyof StoredOptions & keyof JobFile>(k: K) => flags[k] ?? stored[k] ?? job[k];
  const defaults: Defaults = {
    InstanceId: pick('instanceId'),
    ContactFlowId: pick('contactFlowId'),
    TaskTemplateId: pick('taskTemplateId'),
    QuickConnectId: pick('quickConnectId'),
  };
  const from = (k: 'instanceId' | 'contactFlowId' | 'taskTemplateId' | 'quickConnectId', flag: string) => (flags[k] !== undefined ? `--${flag}` : stored[k] !== undefined ? 'the earlier run' : 'job file');
  const defaultSources = {
    InstanceId: from('instanceId', 'instance-id'),
    ContactFlowId: from('contactFlowId', 'contact-flow-id'),
    TaskTemplateId: from('taskTemplateId', 'task-template-id'),
    QuickConnectId: from('quickConnectId', 'quick-connect-id'),
  };
  const settings = {
    defaults: { defaults, defaultSources },
    rate: pick('rate') ?? 2,
    burst: pick('burst') ?? 5,
    maxAttempts: flags.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
    tokenKey: pick('tokenKey'),
    encoding: pick('encoding'),
    delimiter: pick('delimiter'),
    endpoint: flags.endpoint ?? stored.endpoint,
    region: flags.region ?? stored.region,
    profile: flags.profile ?? stored.profile,
    dryRun: flags.dryRun ?? false,
    timeZone: checkTimeZone(pick('timezone'), flags.timezone !== undefined ? '--timezone' : 'job file: timezone'),
    strictColumns: flags.strictColumns ?? job.strictColumns ?? false,
  };
  if (!(settings.rate > 0)) throw new UsageError('--rate must be a number above 0');
  if (!(settings.burst >= 1)) throw new UsageError('--burst must be at least 1');
  if (!(settings.maxAttempts >= 1)) throw new UsageError('--max-attempts must be at least 1');
  if (flags.concurrency !== undefined && !(flags.concurrency >= 1)) throw new UsageError('--concurrency must be at least 1');
  const d = settings.delimiter;
  if (d !== undefined && (codePoints(d) !== 1 || d === '"' || d === '\n' || d === '\r')) {
    throw new UsageError(`--delimiter must be one character other than a quote or a line break, not ${JSON.stringify(d)} (a tab: --delimiter $'\\t' in bash)`);
  }
  return settings;
}

/**
 * The default token namespace: the input's file name and the first 16 hex digits of its checksum.
 * A rerun of the same file reuses every token (nothing twice); the next night's file — even under
 * the same name, even repeating yesterday's rows — is a new batch of tasks.
 */
export function defaultNamespace(input: string, sha256: string | undefined): string {
  return `${input === '-' ? 'stdin' : basename(input)}@${sha256 ? sha256.slice(0, 16) : 'unknown'}`;
}

/** What a resumed or rerun run must keep from the run it continues. */
export function storedOptions(jobPath: string | undefined, settings: Settings): StoredOptions {
  return {
    job: jobPath,
    instanceId: settings.defaults.defaults.InstanceId,
    contactFlowId: settings.defaults.defaults.ContactFlowId,
    taskTemplateId: settings.defaults.defaults.TaskTemplateId,
    quickConnectId: settings.defaults.defaults.QuickConnectId,
    tokenKey: settings.tokenKey,
    encoding: settings.encoding,
    delimiter: settings.delimiter,
    endpoint: settings.endpoint,
    region: settings.region,
    profile: settings.profile,
    rate: settings.rate,
    burst: settings.burst,
    timezone: settings.timeZone,
  };
}

/**
 * Fail before sending anything when no row could ever be complete. A dry run (validate) goes on
 * without an instance or routing id and returns what a real run would need instead. `hints` (header
 * near-misses, a wrong delimiter) say why a column seems to be missing.
 */
export function checkRequiredColumns(mapping: Mapping, options: { dryRun?: boolean; hints?: string[] } = {}): string[] {
  const mapped = new Set(mapping.fields.map((f) => (f.target.kind === 'member' ? f.target.member : f.target.kind)));
  const has = (m: keyof Defaults) => mapped.has(m) || mapping.defaults[m] !== undefined;
  const why = (member: string) => {
    const hint = options.hints?.find((h) => h.includes(`"${member}"`) || h.includes('delimited'));
    return hint ? ` (${hint})` : '';
  };
  if (!mapped.has('Name')) throw new UsageError(`no Name: add a Name column, or map task.Name in a job file${why('Name')}`);
  const needs: string[] = [];
  if (!has('InstanceId')) {
    if (!options.dryRun) throw new UsageError(`no InstanceId: pass --instance-id, set instanceId in the job file, or add an InstanceId column${why('InstanceId')}`);
    needs.push('--instance-id (or an InstanceId column)');
  }
  if (!has('ContactFlowId') && !has('TaskTemplateId') && !has('QuickConnectId')) {
    if (!options.dryRun) throw new UsageError('no routing: pass --contact-flow-id (or --task-template-id / --quick-connect-id), or add such a column');
    needs.push('--contact-flow-id, --task-template-id or --quick-connect-id (or such a column)');
  }
  return needs;
}
