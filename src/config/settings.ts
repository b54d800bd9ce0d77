/**
 * The table of settings: every option of run, rerun, validate, report, merge and stop, declared once.
 * Commander's options and their help, the environment variables, the job file's keys and schema,
 * what a run records and compares (its identity), what a resumed or rerun run keeps, and what the
 * printed commands carry are all read from here (cli/options.ts, config/resolve.ts,
 * config/job.ts, config/command-line.ts, run/identity.ts). A new setting is one entry below.
 *
 * Precedence, the same for every setting: flag > environment > the earlier run (resume, rerun) >
 * job file > default.
 */

import { type AutoShard, isAutoShard, type Shard } from '../input/shard.js';

/** Environment variables, as process.env holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

export type CommandName = 'run' | 'rerun' | 'validate' | 'report' | 'merge' | 'stop';

/** A bad value: the message completes "<where the value came from> …", e.g. "must be a number above 0". */
export class SettingValueError extends Error {}

export interface Setting<T> {
  /** The long flag; `--no-x` for a boolean that is on by default. */
  flag: string;
  /** The flag's value placeholder (`<n>`); absent for a boolean flag. */
  arg?: string;
  /** Environment variables, first found wins: ours (`CTL_` + the flag), then the AWS SDK's own. */
  env: readonly string[];
  /** The job file may set it (under the setting's own key). */
  job?: true;
  /** Text (a flag's argument, an environment variable, a job file's string) → value; throws SettingValueError. */
  parse(text: string): T;
  /** A value that is not text (a library caller's, a job file's number or list): checked; text values are parsed. */
  check?(value: T): T;
  /** The value as a printed command writes it (default: as text). */
  print?(value: T): string;
  /** The built-in default, if one applies to every run. */
  default?: T;
  /** How `--help` states the default when it is not a plain value. */
  defaultHelp?: string;
  choices?: readonly string[];
  commands: readonly CommandName[];
  /** Part of the run's identity: recorded, and compared before a resume, a rerun or "already done". */
  identity?: true;
  /** A resumed or rerun run takes it from the earlier run when neither a flag nor the environment gives it. */
  kept?: true;
  /**
   * Printed commands (Next lines, the way on in refusals) carry it: `run` commands each such
   * setting; `rerun` commands only those marked 'always' (a rerun takes the rest from its run).
   */
  printed?: 'run' | 'always';
  /** Never printed or logged (a Redis URL may hold a password). */
  secret?: true;
  /**
   * Keeps a command that does not take it from sending while its variable holds a value for which
   * this is true: CTL_DRY_RUN=1 in the shell of a `rerun` must not be silently ignored.
   */
  guards?: (value: T) => boolean;
  /** Help text, per command where it differs. */
  help: string | (Partial<Record<CommandName, string>> & { default: string });
  /** The job file schema's type for this key (JSON Schema). */
  schema?: Record<string, unknown>;
}

const fail = (message: string): never => {
  throw new SettingValueError(message);
};

const text = (value: string): string => (value.trim() === '' ? fail('must not be empty') : value);

/** Decimal numbers only (`1.5`, `2e3`): Number() alone would take `0x10` as 16. */
const DECIMAL = /^\s*[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

const number =
  (check: (n: number) => boolean, rule: string) =>
  (value: string | number): number => {
    const n = typeof value === 'number' ? value : DECIMAL.test(value) ? Number(value) : NaN;
    return Number.isFinite(n) && check(n) ? n : fail(rule);
  };

const positive = number((n) => n > 0, 'must be a number above 0');
const wholeNumber = number((n) => Number.isInteger(n) && n >= 1, 'must be a whole number of at least 1');
const nonNegative = number((n) => n >= 0, 'must be a number of at least 0');

/**
 * A bound above every sane value: past it a typo (`--concurrency 1000000000`) would exhaust memory,
 * or overflow a timer into firing at once, instead of being refused.
 */
const atMost =
  <T extends number | string>(parse: (v: T) => number, max: number) =>
  (v: T): number => {
    const n = parse(v);
    return n <= max ? n : fail(`must be at most ${max.toLocaleString('en-US')}`);
  };
const RATE_MAX = 100_000;
/** One request a minute: slower, the pause between two sends overflows a timer. */
const RATE_MIN = 1 / 60;
const rate = atMost(
  number((n) => n >= RATE_MIN, 'must be auto or a number above 0, at least 0.0167 (one request a minute)'),
  RATE_MAX,
);
const burst = atMost(wholeNumber, 1_000_000);
const concurrency = atMost(wholeNumber, 4_096);
const attempts = atMost(wholeNumber, 100);
/** One hour: a request no answer has come to by then is lost. */
const timeoutSeconds = atMost(positive, 3_600);
const interval = atMost(positive, 86_400);
const reserve = atMost(nonNegative, RATE_MAX);

/** Node's timers take whole milliseconds up to 2^31 - 1 (24.8 days); a longer one would fire at once. */
const seconds = (v: string | number): number => {
  const s = positive(v);
  return Math.ceil(s * 1000) <= 2 ** 31 - 1 ? s : fail('must be between 0.001 seconds and 24 days (2147483 seconds)');
};

/**
 * A duration: seconds (`90`, `1.5`), or whole parts with units (`2s`, `30m`, `3h`, `1h30m`); 0 allowed.
 * At most what a timer holds (24 days).
 */
function duration(value: string | number): number {
  const rule = 'must be a duration such as 90s, 30m, 3h or 1h30m (or seconds), at most 24 days';
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  let s = typeof value === 'number' ? value : DECIMAL.test(text) ? Number(text) : Number.NaN;
  if (/^(\d+(\.\d+)?[hms])+$/.test(text)) {
    s = 0;
    for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)([hms])/g)) s += Number(n) * UNIT_SECONDS[unit!]!;
  }
  return Number.isFinite(s) && s >= 0 && Math.ceil(s * 1000) <= 2 ** 31 - 1 ? s : fail(rule);
}

const UNIT_SECONDS: Record<string, number> = { h: 3600, m: 60, s: 1 };

/** Seconds as a duration reads: 3h, 1h30m, 45s, 0s. */
export function durationText(seconds: number): string {
  const s = Math.round(seconds);
  const parts = [
    s >= 3600 ? `${Math.floor(s / 3600)}h` : '',
    s % 3600 >= 60 ? `${Math.floor((s % 3600) / 60)}m` : '',
    s % 60 || s === 0 ? `${s % 60}s` : '',
  ];
  return parts.join('');
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off', '']);
const boolean = (value: string): boolean =>
  TRUE.has(value.trim().toLowerCase())
    ? true
    : FALSE.has(value.trim().toLowerCase())
      ? false
      : fail('must be true or false (1 or 0)');

const list = (value: string): string[] => {
  const parts = value.split(',').map((s) => s.trim());
  return parts.some((p) => p === '') ? fail('must be column names separated by commas') : parts;
};

/** One character; `\t` and `tab`, as typed in a shell or a job file, mean the tab character. */
function delimiter(value: string): string {
  const d = value === '\\t' || value.toLowerCase() === 'tab' ? '\t' : value;
  if ([...d].length !== 1 || d === '"' || d === '\n' || d === '\r') {
    fail(
      `must be one character other than a quote or a line break, not ${JSON.stringify(value)} (a tab: --delimiter tab)`,
    );
  }
  return d;
}

/** An encoding label the decoder knows (WHATWG names: utf8, latin1, windows-1252, utf-16le…). */
function encoding(value: string): string {
  try {
    new TextDecoder(value.trim(), { fatal: true });
  } catch {
    fail(`"${value}" is not an encoding this tool reads (try utf8, latin1, windows-1252, utf-16le)`);
  }
  return value.trim();
}

function timeZone(value: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
  } catch {
    fail(`"${value}" is not an IANA time zone (e.g. Europe/London, America/New_York)`);
  }
  return value;
}

/** `i/n` (1-based), or `auto/n`: the index from the scheduler's variable, read when the settings are resolved. */
export function shard(value: string): Shard | AutoShard {
  const auto = /^auto\/(\d+)$/.exec(value.trim());
  if (auto && Number(auto[1]) >= 1) return { index: 'auto', count: Number(auto[1]) };
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || !(count >= 1) || !(index >= 1 && index <= count))
    fail(`must be i/n with 1 ≤ i ≤ n, e.g. 2/3, or auto/n (got "${value}")`);
  return { index, count };
}

/**
 * `--max-failures`, kept as a user writes it (a job file and a library caller write it so too): a
 * count of failed rows (`50`), or a share of the rows answered (`5%`); 0 turns every limit off.
 */
export type MaxFailures = number | `${number}%`;

/**
 * The failure limit of a run given no --max-failures: a wrong id (a flow not deployed, an instance in
 * another Region) fails every row alike, and at the default quota a 100,000-row file takes 14 hours
 * to say so. 20 rows failed alike with none created is past doubt, and costs the operator 10 s.
 */
export const DEFAULT_MAX_FAILURES = 20;
/** A percentage is judged only from this many rows answered on: a share of the first few says nothing. */
export const PERCENT_SAMPLE = 50;
const MAX_FAILURES_COUNT = 1_000_000_000;

function maxFailures(value: string | number): MaxFailures {
  const given = JSON.stringify(value);
  const count = (n: number): number => {
    if (!Number.isInteger(n) || n < 0)
      fail(
        `must be a count of failed rows (e.g. 50), a percentage of the rows answered (e.g. 5%), or 0 for no ` +
          `limit (got ${given})`,
      );
    return n <= MAX_FAILURES_COUNT ? n : fail(`must be at most ${MAX_FAILURES_COUNT.toLocaleString('en-US')}`);
  };
  if (typeof value === 'number') return count(value);
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(%?)\s*$/.exec(value);
  if (!m) return count(NaN);
  const n = Number(m[1]);
  if (!m[2]) return count(n);
  if (n > 100) return fail(`must be a percentage of at most 100% (got ${given})`);
  if (n === 0) return fail(`0% would stop at the first failed row: write 1 for that, or 0 for no limit`);
  return `${n}%`;
}

/**
 * A run id given by a scheduler (systemd's INVOCATION_ID, a Kubernetes job name, an Airflow run id):
 * it goes into log lines, label values and file names people type, so it is kept to characters
 * that need no quoting anywhere.
 */
const runId = (value: string): string =>
  /^[A-Za-z0-9][A-Za-z0-9._:+@=/-]{0,127}$/.test(value)
    ? value
    : fail(
        'must be 1 to 128 letters, digits and . _ : + @ = / - (starting with a letter or digit), e.g. ' +
          '$INVOCATION_ID or a job name',
      );

const url = (value: string): string => {
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.hostname) {
    fail(
      `${JSON.stringify(value)} is not an http(s) URL: write it as https://host or http://127.0.0.1:4566 (the ` +
        `emulator)`,
    );
  }
  // It would be recorded in the run state and printed in every command shown; the SDK signs with the
  // AWS credentials, never with these.
  if (parsed?.username || parsed?.password)
    fail(
      'carries a user name or password (not shown): an endpoint takes none. Credentials come from the AWS ' +
        'credential chain (--profile, AWS_ACCESS_KEY_ID…)',
    );
  return value;
};

/** Inclusive ranges of input line numbers. */
export type LineRange = [number, number];

/** `2-100,250`: whole numbers of at least 1, each alone or as first-last. */
export function lineRanges(value: string): LineRange[] {
  const rule = 'must be input line numbers or ranges of them, such as 2-100,250';
  const ranges: LineRange[] = [];
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) return fail(rule);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (first < 1 || last < first || !Number.isSafeInteger(last))
      return fail(`${rule} (each from its first to its last)`);
    ranges.push([first, last]);
  }
  return ranges;
}

const choice =
  <C extends string>(choices: readonly C[]) =>
  (value: string): C =>
    (choices as readonly string[]).includes(value) ? (value as C) : fail(`must be one of ${choices.join(', ')}`);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;

const SENDING: CommandName[] = ['run', 'rerun'];
/** `stop` sends StopContact, paced and retried as a run sends StartTaskContact. */
const PACED: CommandName[] = [...SENDING, 'stop'];
const IMPORTING: CommandName[] = ['run', 'rerun', 'validate'];
const READING_INPUT: CommandName[] = ['run', 'validate'];

const ROUTING_SCHEMA = { type: 'string', minLength: 1, maxLength: 500 };

/** Every setting, in the order `--help` lists them. */
const SETTINGS = {
  job: {
    flag: '--job',
    arg: '<file.json>',
    env: ['CTL_JOB'],
    parse: text,
    commands: IMPORTING,
    kept: true,
    printed: 'run',
    help: 'job file: column templates and defaults (flags and the environment win over it)',
  } satisfies Setting<string>,
  instanceId: {
    flag: '--instance-id',
    arg: '<id>',
    env: ['CTL_INSTANCE_ID'],
    job: true,
    parse: text,
    commands: [...IMPORTING, 'stop'],
    identity: true,
    kept: true,
    printed: 'run',
    help: {
      default: 'InstanceId for rows without an InstanceId value',
      stop: "the instance the run sent to (default: the run's; another one is refused)",
    },
    schema: { type: 'string', minLength: 1, maxLength: 100 },
  } satisfies Setting<string>,
  contactFlowId: {
    flag: '--contact-flow-id',
    arg: '<id>',
    env: ['CTL_CONTACT_FLOW_ID'],
    job: true,
    parse: text,
    commands: IMPORTING,
    identity: true,
    kept: true,
    printed: 'run',
    help: 'ContactFlowId for rows without a routing value',
    schema: ROUTING_SCHEMA,
  } satisfies Setting<string>,
  taskTemplateId: {
    flag: '--task-template-id',
    arg: '<id>',
    env: ['CTL_TASK_TEMPLATE_ID'],
    job: true,
    parse: text,
    commands: IMPORTING,
    identity: true,
    kept: true,
    printed: 'run',
    help: 'TaskTemplateId for rows without a routing value',
    schema: ROUTING_SCHEMA,
  } satisfies Setting<string>,
  quickConnectId: {
    flag: '--quick-connect-id',
    arg: '<id>',
    env: ['CTL_QUICK_CONNECT_ID'],
    job: true,
    parse: text,
    commands: IMPORTING,
    identity: true,
    kept: true,
    printed: 'run',
    help: 'QuickConnectId for rows without a routing value',
    schema: { type: 'string', minLength: 1 },
  } satisfies Setting<string>,
  results: {
    flag: '--results',
    arg: '<file>',
    env: ['CTL_RESULTS'],
    parse: text,
    commands: [...IMPORTING, 'merge', 'stop'],
    defaultHelp: '<input without extension>.results.csv beside the input',
    help: {
      default: 'results CSV; a folder or s3:// prefix ending in / holds it under its default name',
      rerun: 'results CSV of this rerun (default: <results>.rerun-1.csv beside it; of a .rerun-1.csv: .rerun-2.csv)',
      merge: 'the merged results file (required; it must not exist yet)',
      stop: 'the results of the stops, a file or s3:// object (default: <results>.stop.csv beside the results file, in S3 for s3:// results)',
    },
  } satisfies Setting<string>,
  endpoint: {
    flag: '--endpoint',
    arg: '<url>',
    env: ['CTL_ENDPOINT', 'AWS_ENDPOINT_URL_CONNECT', 'AWS_ENDPOINT_URL'],
    parse: url,
    defaultHelp: "the Region's AWS endpoint",
    commands: [...IMPORTING, 'stop'],
    identity: true,
    kept: true,
    printed: 'always',
    help: {
      default: 'service endpoint (emulator, VPC endpoint)',
      stop: "service endpoint (default: the run's; another one is refused)",
    },
  } satisfies Setting<string>,
  region: {
    flag: '--region',
    arg: '<region>',
    env: ['CTL_REGION', 'AWS_REGION'],
    parse: text,
    defaultHelp: "the profile's region; us-east-1 for an emulator on this machine",
    commands: [...IMPORTING, 'stop'],
    identity: true,
    kept: true,
    printed: 'always',
    help: { default: 'AWS Region', stop: "AWS Region (default: the run's; another one is refused)" },
  } satisfies Setting<string>,
  profile: {
    flag: '--profile',
    arg: '<name>',
    env: ['CTL_PROFILE', 'AWS_PROFILE'],
    parse: text,
    defaultHelp: 'the standard credential chain',
    commands: [...IMPORTING, 'stop'],
    kept: true,
    printed: 'always',
    help: 'AWS profile',
  } satisfies Setting<string>,
  s3Endpoint: {
    flag: '--s3-endpoint',
    arg: '<url>',
    env: ['CTL_S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'],
    parse: url,
    defaultHelp: "the Region's AWS endpoint",
    commands: [...IMPORTING, 'report', 'merge', 'stop'],
    kept: true,
    printed: 'always',
    help: 'S3-compatible endpoint for s3:// inputs and results (MinIO, moto…): path-style, checksums only where required',
  } satisfies Setting<string>,
  tokenKey: {
    flag: '--token-key',
    arg: '<col[,col...]>',
    env: ['CTL_TOKEN_KEY'],
    job: true,
    parse: list,
    check: (v: string[]) => list(v.join(',')),
    print: (v: string[]) => v.join(','),
    defaultHelp: 'the whole mapped request',
    commands: IMPORTING,
    identity: true,
    kept: true,
    printed: 'run',
    help: 'columns that identify a row for its ClientToken',
    schema: { type: 'array', items: { type: 'string' }, minItems: 1 },
  } satisfies Setting<string[]>,
  tokenNamespace: {
    flag: '--token-namespace',
    arg: '<s>',
    env: ['CTL_TOKEN_NAMESPACE'],
    job: true,
    parse: text,
    defaultHelp: "the input file's name and the first 16 hex digits of its SHA-256",
    commands: IMPORTING,
    identity: true,
    kept: true,
    printed: 'run',
    help: 'mixed into every ClientToken',
    schema: { type: 'string', minLength: 1 },
  } satisfies Setting<string>,
  encoding: {
    flag: '--encoding',
    arg: '<enc>',
    env: ['CTL_ENCODING'],
    job: true,
    parse: encoding,
    defaultHelp: 'utf8; invalid UTF-8 is an error',
    commands: READING_INPUT,
    identity: true,
    kept: true,
    printed: 'run',
    help: 'input encoding: utf8, latin1, windows-1252, utf-16le…',
    schema: { type: 'string', minLength: 1 },
  } satisfies Setting<string>,
  delimiter: {
    flag: '--delimiter',
    arg: '<char>',
    env: ['CTL_DELIMITER'],
    job: true,
    parse: delimiter,
    print: (v: string) => (v === '\t' ? 'tab' : v),
    defaultHelp: '","',
    commands: READING_INPUT,
    identity: true,
    kept: true,
    printed: 'run',
    help: 'field delimiter, e.g. ";" or tab',
    schema: { type: 'string', minLength: 1 },
  } satisfies Setting<string>,
  timezone: {
    flag: '--timezone',
    arg: '<zone>',
    env: ['CTL_TIMEZONE'],
    job: true,
    parse: timeZone,
    defaultHelp: 'none: such values are invalid',
    commands: IMPORTING,
    identity: true,
    kept: true,
    printed: 'run',
    help: 'IANA zone (Europe/London) for ScheduledTime values written without one, e.g. "2026-12-01 09:00"',
    schema: { type: 'string', minLength: 1 },
  } satisfies Setting<string>,
  shard: {
    flag: '--shard',
    arg: '<i/n|auto/n>',
    env: ['CTL_SHARD'],
    parse: shard,
    check: (v: Shard | AutoShard) => shard(`${v.index}/${v.count}`),
    print: (v: Shard | AutoShard) => `${v.index}/${v.count}`,
    commands: READING_INPUT,
    identity: true,
    kept: true,
    printed: 'run',
    // A rerun reads one results file and keeps the shard of its run: in every worker of an array it
    // would rerun that same file.
    guards: isAutoShard,
    help:
      'take shard i of n (1-based) of the input, by record; own results file (<input without ' +
      "extension>.shard-i-of-n.results.csv) and lock. auto/n: i is this worker's index + 1, from " +
      'JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job), both 0-based',
  } satisfies Setting<Shard | AutoShard>,
  rate: {
    flag: '--rate',
    arg: '<n>',
    env: ['CTL_RATE'],
    job: true,
    parse: (v: string) => (v.trim() === 'auto' ? 'auto' : rate(v)),
    check: (v: number | 'auto') => (v === 'auto' ? v : rate(v)),
    default: 2,
    commands: PACED,
    kept: true,
    printed: 'run',
    help: {
      default:
        "ceiling of requests per second: the account's StartTaskContact quota, or auto: read it from Service Quotas",
      stop: "ceiling of StopContact requests per second: the account's StopContact quota, or auto: read it from Service Quotas",
    },
    schema: { type: 'number', exclusiveMinimum: 0, maximum: RATE_MAX },
  } satisfies Setting<number | 'auto'>,
  burst: {
    flag: '--burst',
    arg: '<n>',
    env: ['CTL_BURST'],
    job: true,
    parse: burst,
    check: burst,
    default: 5,
    defaultHelp: "5; with --rate auto, the quota's",
    commands: PACED,
    kept: true,
    printed: 'run',
    help: 'burst allowance of that quota',
    schema: { type: 'integer', minimum: 1, maximum: 1_000_000 },
  } satisfies Setting<number>,
  concurrency: {
    flag: '--concurrency',
    arg: '<n>',
    env: ['CTL_CONCURRENCY'],
    parse: concurrency,
    check: concurrency,
    defaultHelp: 'automatic, the smallest window that carries the most, from 16 up to 256',
    commands: PACED,
    help: 'cap on requests in flight',
  } satisfies Setting<number>,
  maxAttempts: {
    flag: '--max-attempts',
    arg: '<n>',
    env: ['CTL_MAX_ATTEMPTS'],
    parse: attempts,
    check: attempts,
    default: 8,
    commands: PACED,
    help: 'attempts per row for 5xx, timeouts and resets; throttles do not count',
  } satisfies Setting<number>,
  requestTimeoutMs: {
    flag: '--request-timeout',
    arg: '<seconds>',
    env: ['CTL_REQUEST_TIMEOUT'],
    parse: (v: string) => timeoutSeconds(v) * 1000,
    check: (ms: number) => timeoutSeconds(ms / 1000) * 1000,
    print: (ms: number) => String(ms / 1000),
    default: 15_000,
    defaultHelp: '15',
    commands: PACED,
    help: 'time limit per request; no answer by then = unknown outcome, resent with the same token',
  } satisfies Setting<number>,
  deadlineSeconds: {
    flag: '--deadline',
    arg: '<seconds>',
    env: ['CTL_DEADLINE'],
    parse: seconds,
    check: seconds,
    commands: SENDING,
    help: 'stop taking new rows after this long, finish what is in flight, exit 3',
  } satisfies Setting<number>,
  maxFailures: {
    flag: '--max-failures',
    arg: '<n|p%>',
    env: ['CTL_MAX_FAILURES'],
    job: true,
    parse: maxFailures,
    check: maxFailures,
    defaultHelp:
      `${DEFAULT_MAX_FAILURES} rows failing alike with ResourceNotFound, InvalidParameter or InvalidRequest ` +
      `before any is created`,
    commands: SENDING,
    kept: true,
    printed: 'run',
    help:
      `stop taking rows once this many have failed (50), or more than this share of the rows answered (5%, ` +
      `from the ${PERCENT_SAMPLE}th on); exit 3, the rest left to --resume; 0: no limit`,
    schema: {
      oneOf: [
        { type: 'integer', minimum: 0, maximum: MAX_FAILURES_COUNT },
        { type: 'string', pattern: '^\\s*(\\d+(\\.\\d+)?|\\.\\d+)\\s*%?\\s*$' },
      ],
    },
  } satisfies Setting<MaxFailures>,
  maxWait: {
    flag: '--max-wait',
    arg: '<duration>',
    env: ['CTL_MAX_WAIT'],
    job: true,
    parse: duration,
    check: duration,
    print: durationText,
    default: 10_800,
    defaultHelp: '3h',
    commands: SENDING,
    help:
      "how long to wait at the instance's active-task limit (402) in one stretch, probing, before stopping " +
      '(exit 3, --resume sends the rest); 0: stop at once',
    schema: {
      anyOf: [
        { type: 'number', minimum: 0, maximum: 2_147_483 },
        { type: 'string', pattern: '^\\s*(\\d+(\\.\\d+)?|(\\d+(\\.\\d+)?[hmsHMS])+)\\s*$' },
      ],
    },
  } satisfies Setting<number>,
  checkpointSeconds: {
    flag: '--checkpoint-interval',
    arg: '<seconds>',
    env: ['CTL_CHECKPOINT_INTERVAL'],
    parse: interval,
    check: interval,
    default: 10,
    commands: [...IMPORTING, 'stop'],
    help: {
      default:
        'with --results s3://…: seconds between checkpoints of the results to S3 (a run that dies sends at most ' +
        'this long of rows again, with the same ClientTokens)',
      stop:
        'with the stop file in S3: seconds between checkpoints of it to S3 (a stop that dies sends at most this ' +
        'long of stops again; they only find the tasks ended)',
    },
  } satisfies Setting<number>,
  dryRun: {
    flag: '--dry-run',
    env: ['CTL_DRY_RUN'],
    parse: boolean,
    commands: ['run', 'stop'],
    guards: (on: boolean) => on,
    help: {
      default: 'validate and write the results file with what would be sent; send nothing',
      stop: 'list what would be stopped (counts and input lines); send nothing, write nothing',
    },
  } satisfies Setting<boolean>,
  resume: {
    flag: '--resume',
    env: ['CTL_RESUME'],
    parse: boolean,
    commands: PACED,
    help: {
      default:
        'continue an interrupted run: rows already final in --results are skipped, the rest sent with the same tokens',
      rerun: 'continue an interrupted rerun: rows already final in its results are skipped',
      stop: 'continue an interrupted stop: rows already stopped or found ended are not sent again',
    },
  } satisfies Setting<boolean>,
  includeInvalid: {
    flag: '--include-invalid',
    env: ['CTL_INCLUDE_INVALID'],
    parse: boolean,
    commands: ['rerun'],
    help: 'also send invalid rows (after correcting them in the results file)',
  } satisfies Setting<boolean>,
  checkLive: {
    flag: '--check-live',
    env: ['CTL_CHECK_LIVE'],
    parse: boolean,
    commands: ['validate'],
    help:
      'ask the instance (read-only) whether the InstanceId and every ContactFlowId, TaskTemplateId and ' +
      'QuickConnectId named exist; exit 2 if any is missing',
  } satisfies Setting<boolean>,
  strictColumns: {
    flag: '--strict-columns',
    env: ['CTL_STRICT_COLUMNS'],
    job: true,
    parse: boolean,
    commands: IMPORTING,
    help:
      'a header that looks like a misspelt member (Descripton, name, Attribute.x) is a refusal (exit 2), not ' +
      'a warning',
    schema: { type: 'boolean' },
  } satisfies Setting<boolean>,
  redis: {
    flag: '--redis',
    arg: '<url>',
    env: ['CTL_REDIS', 'CTL_REDIS_URL'],
    parse: text,
    commands: SENDING,
    secret: true,
    help: 'share one rate limit with every process using this Redis and limiter id (redis://[:password@]host:port)',
  } satisfies Setting<string>,
  limiterId: {
    flag: '--limiter-id',
    arg: '<s>',
    env: ['CTL_LIMITER_ID'],
    parse: text,
    defaultHelp: 'the AWS account and Region',
    commands: SENDING,
    help: 'what shares a quota',
  } satisfies Setting<string>,
  reserve: {
    flag: '--reserve',
    arg: '<rps>',
    env: ['CTL_RESERVE'],
    parse: reserve,
    check: reserve,
    default: 0,
    commands: SENDING,
    help: "requests/s of the quota left to the account's other callers",
  } satisfies Setting<number>,
  logLevel: {
    flag: '--log-level',
    arg: '<level>',
    env: ['CTL_LOG_LEVEL'],
    parse: choice(LOG_LEVELS),
    choices: LOG_LEVELS,
    default: 'info',
    commands: [...IMPORTING, 'stop'],
    help: 'log detail',
  } satisfies Setting<(typeof LOG_LEVELS)[number]>,
  logFormat: {
    flag: '--log-format',
    arg: '<format>',
    env: ['CTL_LOG_FORMAT'],
    parse: choice(LOG_FORMATS),
    choices: LOG_FORMATS,
    defaultHelp: 'pretty on a terminal, json otherwise',
    commands: [...IMPORTING, 'stop'],
    help: 'log format',
  } satisfies Setting<(typeof LOG_FORMATS)[number]>,
  progress: {
    flag: '--no-progress',
    env: ['CTL_NO_PROGRESS'],
    parse: (v: string) => !boolean(v),
    default: true,
    commands: IMPORTING,
    help: 'no progress line on a terminal, no progress log lines off one',
  } satisfies Setting<boolean>,
  progressInterval: {
    flag: '--progress-interval',
    arg: '<seconds>',
    env: ['CTL_PROGRESS_INTERVAL'],
    parse: interval,
    check: interval,
    default: 30,
    commands: IMPORTING,
    help: 'off a terminal: seconds between JSON progress log lines',
  } satisfies Setting<number>,
  summaryJson: {
    flag: '--summary-json',
    arg: '<file>',
    env: ['CTL_SUMMARY_JSON'],
    parse: text,
    commands: IMPORTING,
    help: 'also write the summary as JSON to this file',
  } satisfies Setting<string>,
  runId: {
    flag: '--run-id',
    arg: '<id>',
    env: ['CTL_RUN_ID'],
    parse: runId,
    defaultHelp: 'a new one per run: its start time and 8 random hex digits, 20261204T021500Z-3f9a1c2e',
    commands: IMPORTING,
    help:
      "this run's id, in every JSON log line, the run state, the summary, the report and the metrics (e.g. " +
      "systemd's $INVOCATION_ID, a Kubernetes job's name)",
  } satisfies Setting<string>,
  metricsFile: {
    flag: '--metrics-file',
    arg: '<file.prom>',
    env: ['CTL_METRICS_FILE'],
    parse: text,
    commands: SENDING,
    help:
      "write the run's figures to this file in Prometheus text format (for node_exporter's textfile " +
      'collector): every second while it runs, and at the end',
  } satisfies Setting<string>,
  lines: {
    flag: '--lines',
    arg: '<ranges>',
    env: ['CTL_LINES'],
    parse: lineRanges,
    print: (ranges: LineRange[]) => ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(','),
    commands: ['stop'],
    help: "only rows of these input lines, as the results file's Result.Line records them: 2-100,250",
  } satisfies Setting<LineRange[]>,
  where: {
    flag: '--where',
    arg: '<json>',
    env: ['CTL_WHERE'],
    parse: text,
    commands: ['stop'],
    help:
      "only rows whose results-file columns meet these conditions (the job file's where syntax): JSON text, " +
      'or @file.json',
  } satisfies Setting<string>,
  json: {
    flag: '--json',
    env: ['CTL_JSON'],
    parse: boolean,
    commands: ['report'],
    help: 'print the report as JSON',
  } satisfies Setting<boolean>,
  html: {
    flag: '--html',
    arg: '<file>',
    env: ['CTL_HTML'],
    parse: text,
    commands: ['report'],
    help: 'also write a self-contained HTML report (charts, tables) to this file, owner-only',
  } satisfies Setting<string>,
};

export type SettingKey = keyof typeof SETTINGS;
/** The value type of each setting. */
export type Values = { [K in SettingKey]: ReturnType<(typeof SETTINGS)[K]['parse']> };
/** The settings a resumed or rerun run keeps from the run it continues (what a run state records). */
export type KeptKey = { [K in SettingKey]: (typeof SETTINGS)[K] extends { kept: true } ? K : never }[SettingKey];
/** The settings a job file may hold. */
export type JobSettingKey = { [K in SettingKey]: (typeof SETTINGS)[K] extends { job: true } ? K : never }[SettingKey];

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

export function setting(key: SettingKey): Setting<unknown> {
  return SETTINGS[key] as Setting<unknown>;
}

/** The settings a command takes, in table order. */
export function settingsOf(command: CommandName): SettingKey[] {
  return SETTING_KEYS.filter((k) => setting(k).commands.includes(command));
}

export function helpOf(key: SettingKey, command: CommandName): string {
  const h = setting(key).help;
  return typeof h === 'string' ? h : (h[command] ?? h.default);
}

/** The settings a run records for a resume or rerun, and those printed commands may carry. */
export const KEPT_KEYS = SETTING_KEYS.filter((k) => setting(k).kept);
export const PRINTED_KEYS = SETTING_KEYS.filter((k) => setting(k).printed);
export const JOB_SETTING_KEYS = SETTING_KEYS.filter((k) => setting(k).job);
