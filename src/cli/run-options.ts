/** The options that run, rerun and validate share, and how their flags become the library's RunOptions. */
import { Option, type Command } from 'commander';
import type { RunOptions } from '../run/options.js';
import { LOG_LEVELS } from './log.js';
import { parseShard, type Shard } from '../input/shard.js';
import type { OperatorFlags } from './operator.js';
import { nonNegative, positive, whole } from './parsers.js';

/** `sending` false (validate): only the options that decide what would be sent, and where to check it. */
export function addRunOptions(cmd: Command, sending = true): Command {
  cmd
    .option('--instance-id <id>', 'InstanceId for rows without an InstanceId value')
    .option('--contact-flow-id <id>', 'ContactFlowId for rows without a routing value')
    .option('--task-template-id <id>', 'TaskTemplateId for rows without a routing value')
    .option('--quick-connect-id <id>', 'QuickConnectId for rows without a routing value')
    .option('--job <file.json>', 'job file: column templates and defaults (flags win over it)')
    .option('--results <file>', 'results CSV (default: <input without extension>.results.csv beside the input)');
  if (sending) {
    cmd
      .option('--rate <n>', "ceiling of requests per second: the account's StartTaskContact quota, or auto: read it from Service Quotas (default: 2)", (v: string) => (v === 'auto' ? ('auto' as const) : positive('--rate')(v)))
      .option('--burst <n>', 'burst allowance of that quota (default: 5)', whole('--burst'))
      .option('--concurrency <n>', 'cap on requests in flight (default: automatic, the smallest window that carries the most, from 16 up to 256)', whole('--concurrency'))
      .option('--max-attempts <n>', 'attempts per row for 5xx, timeouts and resets; throttles do not count (default: 8)', whole('--max-attempts'))
      .option('--request-timeout <seconds>', 'time limit per request; no answer by then = unknown outcome, resent with the same token (default: 15)', positive('--request-timeout'))
      .option('--deadline <seconds>', 'stop taking new rows after this long, finish what is in flight, exit 3', positive('--deadline'));
  }
  cmd
    .option('--token-namespace <s>', "mixed into every ClientToken (default: the input file's name)")
    .option('--token-key <col[,col...]>', 'columns that identify a row for its ClientToken (default: the whole mapped request)', (v: string) => v.split(',').map((s) => s.trim()));
  if (sending) {
    cmd
      .option('--dry-run', 'validate and write the results file with what would be sent; send nothing')
      .option('--resume', 'continue an interrupted run: rows already final in --results are skipped, the rest sent with the same tokens');
  }
  cmd
    .option('--endpoint <url>', 'service endpoint (emulator, VPC endpoint); AWS_ENDPOINT_URL_CONNECT works too')
    .option('--region <region>', 'AWS Region (standard chain: AWS_REGION, profile)')
    .option('--profile <name>', 'AWS profile (standard credential chain otherwise)')
    .option('--encoding <enc>', 'input encoding: utf8, latin1, windows-1252, utf-16le… (default: utf8; invalid UTF-8 is an error)')
    .option('--delimiter <char>', 'field delimiter, e.g. ";" (default: ",")')
    .option('--timezone <zone>', 'IANA zone (Europe/London) for ScheduledTime values written without one, e.g. "2026-12-01 09:00"')
    .option('--strict-columns', 'a header that looks like a misspelt member (Descripton, name, Attribute.x) is a refusal (exit 2), not a warning')
    .option('--shard <i/n>', 'take shard i of n (1-based) of the input, by record; own results file (<input>.shard-i-of-n.results.csv) and lock', parseShard);
  if (sending) {
    cmd
      .addOption(new Option('--redis <url>', 'share one rate limit with every process using this Redis and limiter id (redis://[:password@]host:port)').env('CTL_REDIS_URL'))
      .option('--limiter-id <s>', 'what shares a quota (default: the AWS account and Region)')
      .option('--reserve <rps>', "requests/s of the quota left to the account's other callers (default: 0)", nonNegative('--reserve'));
  }
  return cmd;
}

export function addOperatorOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-level <level>', 'log detail').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log-format <format>', 'pretty on a terminal, json otherwise').choices(['json', 'pretty']))
    .option('--no-progress', 'no progress line on a terminal, no progress log lines off one')
    .option('--progress-interval <seconds>', 'off a terminal: seconds between JSON progress log lines (default: 30)', positive('--progress-interval'))
    .option('--summary-json <file>', 'also write the summary as JSON to this file');
}

/** The flags of run/validate as commander parses them (names camel-cased). */
export interface RunFlags extends OperatorFlags {
  instanceId?: string;
  contactFlowId?: string;
  taskTemplateId?: string;
  quickConnectId?: string;
  job?: string;
  results?: string;
  rate?: number | 'auto';
  burst?: number;
  concurrency?: number;
  maxAttempts?: number;
  requestTimeout?: number;
  deadline?: number;
  tokenNamespace?: string;
  tokenKey?: string[];
  dryRun?: boolean;
  resume?: boolean;
  includeInvalid?: boolean;
  endpoint?: string;
  region?: string;
  profile?: string;
  encoding?: string;
  delimiter?: string;
  timezone?: string;
  strictColumns?: boolean;
  checkLive?: boolean;
  redis?: string;
  limiterId?: string;
  reserve?: number;
  shard?: Shard;
}

export function toRunOptions(input: string, f: RunFlags): RunOptions {
  return {
    input,
    results: f.results,
    job: f.job,
    instanceId: f.instanceId,
    contactFlowId: f.contactFlowId,
    taskTemplateId: f.taskTemplateId,
    quickConnectId: f.quickConnectId,
    rate: f.rate,
    burst: f.burst,
    concurrency: f.concurrency,
    maxAttempts: f.maxAttempts,
    requestTimeoutMs: f.requestTimeout !== undefined ? f.requestTimeout * 1000 : undefined,
    deadlineSeconds: f.deadline,
    tokenNamespace: f.tokenNamespace,
    tokenKey: f.tokenKey,
    dryRun: f.dryRun,
    resume: f.resume,
    endpoint: f.endpoint,
    region: f.region,
    profile: f.profile,
    encoding: f.encoding,
    delimiter: f.delimiter,
    timezone: f.timezone,
    strictColumns: f.strictColumns,
    checkLive: f.checkLive,
    redis: f.redis,
    limiterId: f.limiterId,
    reserve: f.reserve,
    shard: f.shard,
  };
}

