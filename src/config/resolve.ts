/**
 * One function turns the flags, the environment, the earlier run (resume, rerun), the job file and
 * the defaults into one immutable RunConfig, which knows where each value came from. The Region,
 * endpoint and profile the AWS SDK would pick up from the environment or a profile file are
 * resolved here too, explicitly, so that they are recorded with the run and carried by the commands
 * it prints. Nothing downstream reads process.env or raw flags.
 */
import { basename, resolve as resolvePath } from 'node:path';
import { EMULATOR_REGION, isLoopback } from '../aws.js';
import { UsageError } from '../errors.js';
import { isAutoShard, type Shard, schedulerShard } from '../input/shard.js';
import { type JobFile, loadJobFile } from './job.js';
import { profileSettings } from './profile.js';
import {
  type CommandName,
  type Env,
  SETTING_KEYS,
  type SettingKey,
  SettingValueError,
  setting,
  settingsOf,
  type Values,
} from './settings.js';

export type { Env };

export type Origin =
  | { kind: 'flag'; name: string }
  | { kind: 'env'; name: string }
  | { kind: 'earlier run' }
  | { kind: 'job file'; name: string }
  | { kind: 'default' }
  /** Worked out from other settings or the machine: `name` says from what. */
  | { kind: 'derived'; name: string };

export type Settings = { [K in SettingKey]?: Values[K] };

export interface ConfigInput {
  command: CommandName;
  /** The input file (for rerun: the results file it reads), `-` for standard input. */
  input: string;
  /** What the command line (or a library caller) gave. */
  flags: Settings;
  env: Env;
  /** A job file given as an object by a library caller, instead of a path. */
  job?: JobFile;
}

export interface ConfigFacts {
  /** The earlier run's recorded settings, once flags and environment say where it is (resume, rerun). */
  earlier?: (partial: RunConfig) => Promise<Settings | undefined>;
  /**
   * SHA-256 of the input's bytes, for the default token namespace; a function for an input found only
   * once the settings say where (an S3 object, read with the run's endpoint and Region).
   */
  inputSha256?: string | ((partial: RunConfig) => Promise<string | undefined>);
  /** `--rate auto`: the account's applied quota. */
  readQuota?: (partial: RunConfig) => Promise<{ rate: number; burst: number }>;
}

export class RunConfig {
  private constructor(
    readonly command: CommandName,
    readonly input: string,
    private readonly values: Settings,
    private readonly origins: Partial<Record<SettingKey, Origin>>,
    /** The job file's content ({} without one). */
    readonly job: JobFile,
    /** Credentials are in the environment (AWS_ACCESS_KEY_ID): the emulator is then signed for with them. */
    readonly envCredentials: boolean,
  ) {
    Object.freeze(values);
    Object.freeze(origins);
    Object.freeze(this);
  }

  /** The value, or the table's default where one applies (also to a setting this command does not take). */
  get<K extends SettingKey>(key: K): Values[K] | undefined {
    return (this.values[key] ?? setting(key).default) as Values[K] | undefined;
  }

  origin(key: SettingKey): Origin | undefined {
    return this.origins[key] ?? (setting(key).default !== undefined ? { kind: 'default' } : undefined);
  }

  /** validate, or run --dry-run: nothing is sent. */
  get dryRun(): boolean {
    return this.command === 'validate' || this.get('dryRun') === true;
  }

  /** The --rate ceiling, requests/s (`auto` is resolved into a number before anyone asks). */
  get rate(): number {
    const rate = this.get('rate')!;
    if (rate === 'auto') throw new Error('--rate auto read before it was resolved');
    return rate;
  }

  /** The shard this worker takes (`auto/n` is resolved into one before anyone asks). */
  get shard(): Shard | undefined {
    const shard = this.get('shard');
    if (isAutoShard(shard)) throw new Error('--shard auto read before it was resolved');
    return shard;
  }

  /** Where a value came from, for messages: "--endpoint", "AWS_ENDPOINT_URL_CONNECT", "the earlier run"… */
  from(key: SettingKey): string {
    const o = this.origins[key];
    if (!o) return setting(key).flag;
    if (o.kind === 'flag' || o.kind === 'env' || o.kind === 'derived') return o.name;
    if (o.kind === 'job file') return `job file ${o.name}`;
    return o.kind === 'default' ? 'the default' : 'the earlier run';
  }

  /** Every value, for the record and the printed commands (a copy). */
  all(): Settings {
    return { ...this.values };
  }

  /** A copy with some values replaced: for a library caller's injected parts and the tests. */
  with(changes: Settings, origin: Origin): RunConfig {
    const origins = { ...this.origins };
    for (const k of Object.keys(changes) as SettingKey[]) origins[k] = origin;
    return new RunConfig(
      this.command,
      this.input,
      { ...this.values, ...changes },
      origins,
      this.job,
      this.envCredentials,
    );
  }

  static layered(
    input: ConfigInput,
    job: JobFile,
    jobPath: string | undefined,
    earlier: Settings | undefined,
  ): RunConfig {
    const values: Settings = {};
    const origins: Partial<Record<SettingKey, Origin>> = {};
    const put = (key: SettingKey, value: unknown, origin: Origin) => {
      (values as Record<string, unknown>)[key] = value;
      origins[key] = origin;
    };
    for (const key of settingsOf(input.command)) {
      const s = setting(key);
      const flag = input.flags[key];
      if (flag !== undefined) {
        put(key, checkOrRefuse(key, flag, s.flag), { kind: 'flag', name: s.flag });
        continue;
      }
      const env = s.env.find((name) => input.env[name] !== undefined && input.env[name] !== '');
      if (env !== undefined) {
        put(key, parseOrRefuse(key, input.env[env]!, env), { kind: 'env', name: env });
        continue;
      }
      if (s.kept && earlier?.[key] !== undefined) {
        put(key, earlier[key], { kind: 'earlier run' });
        continue;
      }
      const fromJob = s.job ? (job as Record<string, unknown>)[key] : undefined;
      if (fromJob !== undefined) {
        const where = `${jobPath ?? 'job file'}: ${key}`;
        put(
          key,
          typeof fromJob === 'string' ? parseOrRefuse(key, fromJob, where) : checkOrRefuse(key, fromJob, where),
          { kind: 'job file', name: jobPath ?? '(given as an object)' },
        );
        continue;
      }
      if (s.default !== undefined) put(key, s.default, { kind: 'default' });
    }
    for (const key of SETTING_KEYS) {
      const s = setting(key);
      if (
        !s.guards ||
        settingsOf(input.command).includes(key) ||
        !(input.command === 'run' || input.command === 'rerun')
      )
        continue;
      const env = s.env.find((name) => input.env[name] !== undefined && input.env[name] !== '');
      if (env !== undefined && s.guards(parseOrRefuse(key, input.env[env]!, env))) {
        throw new UsageError(
          `${env} is set, but ${input.command} does not take ${s.flag}: it would not be what you asked. Unset ` +
            `it (unset ${env}) and run again`,
        );
      }
    }
    const shard = values.shard;
    if (isAutoShard(shard)) {
      // Only a flag or the environment can say auto (a run records the shard it resolved to).
      const asked =
        origins.shard?.kind === 'env'
          ? `${origins.shard.name}=auto/${shard.count}`
          : `${setting('shard').flag} auto/${shard.count}`;
      const { shard: resolved, variable } = schedulerShard(shard, input.env, asked);
      put('shard', resolved, { kind: 'derived', name: `${variable}=${resolved.index - 1} with ${asked}` });
    }
    // The job file's path as the run records it: absolute, so a command printed elsewhere finds it.
    if (jobPath !== undefined) values.job = jobPath;
    return new RunConfig(input.command, input.input, values, origins, job, Boolean(input.env.AWS_ACCESS_KEY_ID));
  }
}

function parseOrRefuse(key: SettingKey, text: string, where: string): unknown {
  try {
    return setting(key).parse(text);
  } catch (err) {
    throw valueError(err, where);
  }
}

function checkOrRefuse(key: SettingKey, value: unknown, where: string): unknown {
  const s = setting(key);
  try {
    return s.check ? s.check(value) : typeof value === 'string' ? s.parse(value) : value;
  } catch (err) {
    throw valueError(err, where);
  }
}

function valueError(err: unknown, where: string): unknown {
  if (!(err instanceof SettingValueError)) return err;
  return new UsageError(`${where}${/^(must|")/.test(err.message) ? ' ' : ': '}${err.message}`);
}

/**
 * The run's settings: flag > environment > the earlier run (resume, rerun) > job file > default,
 * then what is worked out from them — the Region of the profile (or the emulator's), the default
 * token namespace, `--rate auto`'s quota.
 */
export async function resolveConfig(input: ConfigInput, facts: ConfigFacts = {}): Promise<RunConfig> {
  const first = RunConfig.layered(input, {}, undefined, undefined);
  const earlier = facts.earlier ? await facts.earlier(first) : undefined;
  const jobPath = input.flags.job ?? first.get('job') ?? earlier?.job;
  const absoluteJob = jobPath === undefined ? undefined : resolvePath(jobPath);
  const job = input.job ?? (absoluteJob ? await loadJobFile(absoluteJob) : {});
  let config = RunConfig.layered(input, job, absoluteJob, earlier);

  if (settingsOf(input.command).includes('region')) {
    const profile = config.get('profile');
    const named = await profileSettings(profile, input.env);
    const origin = { kind: 'derived', name: `the AWS profile "${profile ?? 'default'}"` } as const;
    // The SDK would send to a profile's endpoint_url: it is resolved here, so it is recorded and compared.
    if (config.get('endpoint') === undefined && named.endpoint)
      config = config.with(
        { endpoint: parseOrRefuse('endpoint', named.endpoint, `endpoint_url of ${origin.name}`) as string },
        origin,
      );
    if (config.get('region') === undefined) {
      if (named.region) config = config.with({ region: named.region }, origin);
      else if (isLoopback(config.get('endpoint')))
        config = config.with({ region: EMULATOR_REGION }, { kind: 'derived', name: 'the emulator on this machine' });
    }
  }
  const sha = typeof facts.inputSha256 === 'function' ? await facts.inputSha256(config) : facts.inputSha256;
  if (config.get('tokenNamespace') === undefined && settingsOf(input.command).includes('tokenNamespace')) {
    config = config.with(
      { tokenNamespace: defaultNamespace(input.input, sha) },
      { kind: 'derived', name: "the input's name and checksum" },
    );
  }
  if (config.get('rate') === 'auto') {
    if (!facts.readQuota) throw new UsageError('--rate auto needs Service Quotas, which this caller did not provide');
    const quota = await facts.readQuota(config);
    const burstGiven = config.origin('burst')?.kind !== 'default';
    config = config.with(
      { rate: quota.rate, ...(burstGiven ? {} : { burst: quota.burst }) },
      { kind: 'derived', name: 'Service Quotas (--rate auto)' },
    );
  }
  return config;
}

/**
 * The default token namespace: the input's file name and the first 16 hex digits of its checksum.
 * A rerun of the same file reuses every token (nothing twice); the next night's file — even under
 * the same name, even repeating yesterday's rows — is a new batch of tasks.
 */
function defaultNamespace(input: string, sha256: string | undefined): string {
  // An S3 object's name is the last part of its key, as a file's is the last part of its path.
  return `${input === '-' ? 'stdin' : basename(input)}@${sha256 ? sha256.slice(0, 16) : 'unknown'}`;
}
