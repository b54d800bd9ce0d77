/**
 * The pipeline: read → map → validate → token → dispatch → record. Every record read ends as exactly
 * one results row; rows are worked on by a fixed pool of workers pulling from one stream of jobs,
 * so memory is bounded by the pool, never by the file.
 */
import { setMaxListeners } from 'node:events';
import { basename } from 'node:path';
import { setInterval as every } from 'node:timers';
import { Dispatcher } from './dispatch.js';
import { InputError, UsageError } from './errors.js';
import { loadJobFile, type JobFile } from './job.js';
import { compileMapping, mapRecord, type Defaults, type Mapping } from './map.js';
import { AdaptiveRate } from './rate.js';
import { openCsv, type CsvInput } from './read.js';
import { defaultResultsPath, ResultsWriter } from './results.js';
import { DEFAULT_RETRY } from './retry.js';
import { ConnectSender, createConnectClient, type SendOutcome, type TaskSender } from './send.js';
import { RunStats, summarize, type Summary } from './stats.js';
import { clientToken } from './token.js';
import type { InputRecord, RowResult, TaskRequest } from './types.js';
import { describeViolations, validateRow } from './validate.js';

/** The minimal logger the pipeline needs; a pino logger fits. Messages never carry row content. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface Progress {
  stats: RunStats;
  rate: number;
  concurrency: number;
  bytesRead: number;
  totalBytes: number | undefined;
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
  /** Ceiling of requests per second (the account's StartTaskContact quota). Default 2. */
  rate?: number;
  /** Burst allowance of that quota. Default 5. */
  burst?: number;
  /** Cap on requests in flight; default automatic from observed latency (Little's law). */
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
  endpoint?: string;
  region?: string;
  profile?: string;
  encoding?: string;
  delimiter?: string;
  /** Inject a sender (e.g. `new ConnectSender(yourConnectClient)`); default: one built from the options. */
  sender?: TaskSender;
  logger?: Logger;
  onProgress?: (p: Progress) => void;
  /** Aborting stops reading; requests in flight finish and are recorded; the summary says interrupted. */
  signal?: AbortSignal;
}

/** Automatic concurrency never goes past this; requests beyond it wait for a slot. */
const MAX_AUTO_CONCURRENCY = 512;
/** Extra row workers beyond the in-flight cap, so rows backing off do not starve the pipe. */
const ROW_HEADROOM = 64;

const silent: Logger = { info() {}, warn() {}, debug() {} };

interface Job {
  record: InputRecord;
  result?: RowResult;
  request?: TaskRequest;
  token?: string;
}

export async function runImport(options: RunOptions): Promise<Summary> {
  const log = options.logger ?? silent;
  const job = typeof options.job === 'string' ? await loadJobFile(options.job) : (options.job ?? {});
  const settings = resolveSettings(options, job);
  const resultsPath = options.results ?? defaultResultsPath(options.input);

  const csv = await openCsv(options.input, { encoding: settings.encoding, delimiter: settings.delimiter });
  const mapping = compileMapping(csv.header, { task: job.task, ...settings.defaults });
  checkRequiredColumns(mapping);
  const tokenKey = settings.tokenKey?.map((name) => {
    const i = csv.header.indexOf(name);
    if (i === -1) throw new UsageError(`--token-key: no column named "${name}" in the input header`);
    return i;
  });

  const results = ResultsWriter.create(resultsPath, csv.header);
  const stats = new RunStats();
  const rate = new AdaptiveRate({ rate: settings.rate, burst: settings.burst });
  const autoConcurrency = options.concurrency === undefined;
  const concurrencyCap = options.concurrency ?? MAX_AUTO_CONCURRENCY;
  let concurrency = options.concurrency ?? initialConcurrency(settings.rate, settings.burst);
  const sender = settings.dryRun
    ? undefined
    : (options.sender ??
      new ConnectSender(
          createConnectClient({
            endpoint: options.endpoint,
            region: options.region,
            profile: options.profile,
            maxSockets: concurrencyCap,
            requestTimeoutMs: options.requestTimeoutMs ?? 15_000,
          }),
        ));

  // The run stops taking rows on the caller's signal, at the deadline, or on a fatal error of its own.
  const stop = new AbortController();
  const signals = [stop.signal, options.signal, options.deadlineSeconds ? AbortSignal.timeout(options.deadlineSeconds * 1000) : undefined];
  const signal = AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
  // Every row waiting for a slot or a token listens on it; hundreds of listeners are expected.
  setMaxListeners(0, signal);
  const dispatcher = sender && new Dispatcher(sender, rate, { ...DEFAULT_RETRY, maxAttempts: settings.maxAttempts }, stats, concurrency, signal);
  const now = new Date();

  log.info(
    { input: options.input, results: resultsPath, rate: settings.rate, burst: settings.burst, dryRun: settings.dryRun, tokenNamespace: settings.tokenNamespace },
    'run started',
  );

  function prepare(record: InputRecord): Job {
    const mapped = mapRecord(mapping, record);
    const violations = mapped.ok ? validateRow(mapped.row, now) : mapped.violations;
    if (!mapped.ok || violations.length) {
      return { record, result: { line: record.line, status: 'invalid', attempts: 0, errorCode: 'InvalidRow', errorMessage: describeViolations(violations) } };
    }
    const request = mapped.row.request;
    const token = request.ClientToken ?? clientToken(settings.tokenNamespace, tokenKey ? tokenKey.map((i) => record.values[i]!) : request);
    return { record, request: { ...request, ClientToken: token }, token };
  }

  async function* jobs(): AsyncGenerator<Job> {
    for await (const record of csv.records) {
      if (signal.aborted) return;
      yield prepare(record);
    }
  }

  const record = (job: Job, result: RowResult) => {
    results.write(job.record.values, result);
    stats.rows[result.status]++;
    if (result.status !== 'created' && result.status !== 'planned') {
      log.info({ line: result.line, status: result.status, code: result.errorCode }, 'row not created');
      log.debug({ line: result.line, message: result.errorMessage }, 'row error detail');
    }
  };

  let inputError: Error | undefined;
  let fatal: Extract<SendOutcome, { kind: 'fatal' }> | undefined;
  const source = jobs();
  async function worker(): Promise<void> {
    for (;;) {
      let next: IteratorResult<Job>;
      try {
        next = await source.next();
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        inputError ??= err;
        return;
      }
      if (next.done) return;
      const job = next.value;
      if (job.result) {
        record(job, job.result);
      } else if (!dispatcher) {
        record(job, { line: job.record.line, status: 'planned', clientToken: job.token, attempts: 0 });
      } else {
        let delivery;
        try {
          delivery = await dispatcher.deliver(job.request!);
        } catch (err) {
          if (signal.aborted) return; // not sent yet: no row, so --resume sends it
          throw err;
        }
        if (delivery.outcome.kind === 'fatal') {
          // Credentials or signing: every row would fail the same way. Leave this row unrecorded so
          // --resume sends it once the configuration is fixed, and stop.
          fatal ??= delivery.outcome;
          stop.abort(new Error(delivery.outcome.code));
          return;
        }
        record(job, toResult(job, delivery.outcome, delivery.requests));
      }
    }
  }

  const ticker = every(() => {
    if (autoConcurrency && dispatcher) {
      concurrency = tuneConcurrency(rate.currentRate, settings.burst, stats.latency(99), concurrencyCap);
      dispatcher.concurrency = concurrency;
    }
    options.onProgress?.(progress());
  }, 250);
  const progress = (): Progress => ({ stats, rate: rate.currentRate, concurrency, bytesRead: csv.bytesRead(), totalBytes: csv.totalBytes });

  try {
    const workers = dispatcher ? concurrencyCap + ROW_HEADROOM : 1;
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    clearInterval(ticker);
    results.close();
    sender?.destroy();
    options.onProgress?.(progress());
  }

  const summary = summarize(stats, {
    input: options.input,
    results: resultsPath,
    targetRate: settings.rate,
    finalRate: rate.currentRate,
    interrupted: signal.aborted,
    dryRun: settings.dryRun,
  });
  if (inputError) summary.inputError = inputError.message;
  if (fatal) {
    summary.fatalError = `${fatal.code}: ${fatal.message}`;
    log.warn({ code: fatal.code }, 'stopped: the service refused our credentials or signature');
  }
  log.info({ summary }, 'run finished');
  return summary;
}

function toResult(job: Job, outcome: SendOutcome, requests: number): RowResult {
  const base = { line: job.record.line, clientToken: job.token, attempts: requests };
  if (outcome.kind === 'created') return { ...base, status: 'created', contactId: outcome.contactId };
  return { ...base, status: 'failed', errorCode: outcome.code, errorMessage: outcome.message };
}

/** Flags win over the job file; the job file over built-in defaults. */
function resolveSettings(o: RunOptions, job: JobFile) {
  const defaults: Defaults = {
    InstanceId: o.instanceId ?? job.instanceId,
    ContactFlowId: o.contactFlowId ?? job.contactFlowId,
    TaskTemplateId: o.taskTemplateId ?? job.taskTemplateId,
    QuickConnectId: o.quickConnectId ?? job.quickConnectId,
  };
  const from = (flag: string | undefined, name: string) => (flag !== undefined ? `--${name}` : 'job file');
  const defaultSources = {
    InstanceId: from(o.instanceId, 'instance-id'),
    ContactFlowId: from(o.contactFlowId, 'contact-flow-id'),
    TaskTemplateId: from(o.taskTemplateId, 'task-template-id'),
    QuickConnectId: from(o.quickConnectId, 'quick-connect-id'),
  };
  const settings = {
    defaults: { defaults, defaultSources },
    rate: o.rate ?? job.rate ?? 2,
    burst: o.burst ?? job.burst ?? 5,
    maxAttempts: o.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
    tokenNamespace: o.tokenNamespace ?? job.tokenNamespace ?? (o.input === '-' ? 'stdin' : basename(o.input)),
    tokenKey: o.tokenKey ?? job.tokenKey,
    encoding: o.encoding ?? job.encoding,
    delimiter: o.delimiter ?? job.delimiter,
    dryRun: o.dryRun ?? false,
  };
  if (!(settings.rate > 0)) throw new UsageError('--rate must be a number above 0');
  if (!(settings.burst >= 1)) throw new UsageError('--burst must be at least 1');
  if (!(settings.maxAttempts >= 1)) throw new UsageError('--max-attempts must be at least 1');
  if (o.concurrency !== undefined && !(o.concurrency >= 1)) throw new UsageError('--concurrency must be at least 1');
  return settings;
}

/** Fail before sending anything when no row could ever be complete. */
function checkRequiredColumns(mapping: Mapping): void {
  const mapped = new Set(mapping.fields.map((f) => (f.target.kind === 'member' ? f.target.member : f.target.kind)));
  const has = (m: keyof Defaults) => mapped.has(m) || mapping.defaults[m] !== undefined;
  if (!has('InstanceId')) throw new UsageError('no InstanceId: pass --instance-id, set instanceId in the job file, or add an InstanceId column');
  if (!mapped.has('Name')) throw new UsageError('no Name: add a Name column, or map task.Name in a job file');
  if (!has('ContactFlowId') && !has('TaskTemplateId') && !has('QuickConnectId')) {
    throw new UsageError('no routing: pass --contact-flow-id (or --task-template-id / --quick-connect-id), or add such a column');
  }
}

/** Before any latency is seen, assume up to a second per request. */
function initialConcurrency(rate: number, burst: number): number {
  return Math.min(MAX_AUTO_CONCURRENCY, Math.max(4, Math.ceil(rate) + burst));
}

/**
 * Little's law: to sustain `rate` with latency L, about rate × L requests must be in flight. Headroom
 * (×1.5 on p99, plus the burst) costs nothing — the token bucket, not the slots, sets the pace.
 */
export function tuneConcurrency(rate: number, burst: number, p99Ms: number | undefined, cap: number): number {
  const latency = Math.max(1, (p99Ms ?? 1000) / 1000);
  return Math.min(cap, Math.max(4, Math.ceil(rate * latency * 1.5) + burst));
}
