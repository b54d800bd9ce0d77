/**
 * What a caller of the library passes to a run, and the small interfaces (logger, progress) a run
 * reports through. Its own module so that every stage can name them without importing the run.
 */
import type { JobFile } from '../input/job.js';
import type { TaskSender } from '../delivery/send.js';
import type { Shard } from '../input/shard.js';
import type { RunStats } from './stats.js';
import type { Logger } from '../types.js';

export type { Logger };

export interface Progress {
  stats: RunStats;
  rate: number;
  concurrency: number;
  /** Input bytes up to the furthest finished record, and the input's size when known. */
  bytesDone: number;
  totalBytes: number | undefined;
  /** The --rate ceiling, requests/s (`rate` is the pace the rate control is at). */
  ceiling: number;
  /** Records read and input bytes read so far; once `readDone`, `rowsRead` is the input's row count. */
  rowsRead: number;
  readBytes: number;
  readDone: boolean;
  dryRun: boolean;
}

export interface RunOptions {
  /** A CSV path, `-` for standard input, or a `.gz` file. */
  input: string;
  results?: string;
  /** A job file path or its parsed content. Flags given here win over it. */
  job?: string | JobFile;
  instanceId?: string;
  contactFlowId?: string;
  taskTemplateId?: string;
  quickConnectId?: string;
  /** Ceiling of requests per second (the account's StartTaskContact quota), or `auto`: read it from Service Quotas. Default 2. */
  rate?: number | 'auto';
  /** Burst allowance of that quota. Default 5. */
  burst?: number;
  /** Cap on requests in flight; default automatic: sized by measured throughput (delivery/concurrency.ts). */
  concurrency?: number;
  /** Attempts per row for transient failures; throttles do not use them up. Default 8. */
  maxAttempts?: number;
  /** Per-request time limit in ms. Default 15,000. */
  requestTimeoutMs?: number;
  /** Stop taking new rows after this many seconds, drain, and report the run as interrupted. */
  deadlineSeconds?: number;
  /** Mixed into every ClientToken. Default: the input file's name (see token.ts). */
  tokenNamespace?: string;
  /** Columns that identify a row for its ClientToken; default the whole mapped request. */
  tokenKey?: string[];
  dryRun?: boolean;
  /** Continue an interrupted run: rows already final in the results file are skipped. */
  resume?: boolean;
  endpoint?: string;
  region?: string;
  profile?: string;
  encoding?: string;
  delimiter?: string;
  /** IANA zone for ScheduledTime values written without one (`2026-12-01 09:00`). */
  timezone?: string;
  /** A header that looks like a misspelt member is a refusal (UsageError), not a warning. */
  strictColumns?: boolean;
  /** Dry run only: ask the instance whether every InstanceId and routing id named exists (read-only calls). */
  checkLive?: boolean;
  /** Share one rate limit with every process on this Redis and limiter id (`redis://[:password@]host:port`). Never printed. */
  redis?: string;
  /** What shares a quota; default the AWS account and Region (STS), or the endpoint and Region. */
  limiterId?: string;
  /** Requests/s of the quota left to the account's other callers. Default 0. */
  reserve?: number;
  /** Take only shard `index` of `count` of the input's records (see run/shard.ts). */
  shard?: Shard;
  /** Inject a sender (e.g. `new ConnectSender(yourConnectClient)`); default: one built from the options. */
  sender?: TaskSender;
  logger?: Logger;
  onProgress?: (p: Progress) => void;
  /** Aborting stops reading; requests in flight finish and are recorded; the summary says interrupted. */
  signal?: AbortSignal;
}

export const silent: Logger = { info() {}, warn() {}, debug() {} };

/** Sends again the rows of a results file that did not succeed; see `rerunImport`. */
export interface RerunOptions extends RunOptions {
  /** Also send `invalid` rows (corrected in the results file since). */
  includeInvalid?: boolean;
}

