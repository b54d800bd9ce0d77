/**
 * The pipeline: read → map → validate → token → dispatch → record. Every record read ends as exactly
 * one results row; rows are worked on by a fixed pool of workers pulling from one stream of jobs,
 * so memory is bounded by the pool, never by the file.
 */
import { setMaxListeners } from 'node:events';
import { access, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setInterval as every } from 'node:timers';
import { checkRequiredColumns, defaultNamespace, resolveSettings, storedOptions, type Settings } from './config.js';
import { Dispatcher } from './dispatch.js';
import { InputError, UsageError } from './errors.js';
import { loadJobFile, type JobFile } from './job.js';
import { earlierResults, readLedger, type Ledger } from './ledger.js';
import { acquireLock } from './lock.js';
import { compileMapping } from './map.js';
import { AdaptiveRate } from './rate.js';
import { openCsv } from './read.js';
import { defaultResultsPath, rerunResultsPath, ResultsWriter } from './results.js';
import { DEFAULT_RETRY } from './retry.js';
import { ConnectSender, createConnectClient, type SendOutcome, type TaskSender } from './send.js';
import { readState, sha256File, writeState, type RunState } from './state.js';
import { RunStats, summarize, type Summary } from './stats.js';
import { DuplicateTokens } from './token.js';
import { makePreparer, type Job, type RerunContext } from './prepare.js';
import type { RowResult } from './types.js';

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
  /** Input bytes up to the furthest finished record, and the input's size when known. */
  bytesDone: number;
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
  /** Continue an interrupted run: rows already final in the results file are skipped. */
  resume?: boolean;
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
const MAX_AUTO_CONCURRENCY = 256;
/** Extra row workers beyond the in-flight cap, so rows backing off do not starve the pipe. */
const ROW_HEADROOM = 64;

const silent: Logger = { info() {}, warn() {}, debug() {} };

/** Sends again the rows of a results file that did not succeed; see `rerunImport`. */
export interface RerunOptions extends RunOptions {
  /** Also send `invalid` rows (corrected in the results file since). */
  includeInvalid?: boolean;
}

/** Imports `options.input`: one results row per record. */
export function runImport(options: RunOptions): Promise<Summary> {
  return execute(options, undefined);
}

/**
 * Reads a results file (`options.input`) and sends again its `failed` rows (and `invalid` ones with
 * `includeInvalid`), keeping each row's ClientToken unless its content changed. Rows that succeeded
 * are copied, not sent. Writes a new results file (`x.results.rerun-1.csv` by default) whose
 * `Result.Line` still points into the original input.
 */
export function rerunImport(options: RerunOptions): Promise<Summary> {
  return execute(options, { includeInvalid: options.includeInvalid ?? false });
}

async function execute(options: RunOptions, rerun: { includeInvalid: boolean } | undefined): Promise<Summary> {
  const log = options.logger ?? silent;
  if (options.input !== '-') {
    await access(options.input).catch((err: NodeJS.ErrnoException) => {
      throw new InputError(`cannot read ${options.input}: ${err.code ?? String(err)}`, { cause: err });
    });
  }
  const inputSha = options.input === '-' ? undefined : await sha256File(options.input).catch(() => undefined);
  const resultsPath = options.results ?? (rerun ? rerunResultsPath(options.input) : defaultResultsPath(options.input));
  // The run this one continues (--resume) or sends again (rerun) lends its options and namespace.
  let resultsExist = await exists(resultsPath);
  let previous = resultsExist ? await readState(resultsPath) : undefined;
  // A dry run's file records nothing sent: the run (or the next dry run) it prepared replaces it.
  const replaceDryRun = resultsExist && previous?.dryRun === true && !options.resume;
  if (replaceDryRun) previous = undefined;
  const origin = rerun ? await readState(options.input) : undefined;
  const stored = previous?.options ?? origin?.options ?? {};
  const jobPath = typeof options.job === 'string' ? resolve(options.job) : stored.job;
  const job = typeof options.job === 'object' ? options.job : jobPath ? await loadJobFile(jobPath) : {};
  const settings = resolveSettings(options, job, stored);
  const tokenNamespace =
    options.tokenNamespace ?? previous?.tokenNamespace ?? origin?.tokenNamespace ?? job.tokenNamespace ?? defaultNamespace(options.input, inputSha);
  if (!inputSha && options.tokenNamespace === undefined && !job.tokenNamespace) {
    log.warn({}, 'reading standard input: pass --token-namespace (e.g. the date) so that the tokens of each batch are its own');
  }

  const lock = await acquireLock(resultsPath);
  try {
    let ledger: Ledger | undefined;
    if (replaceDryRun) {
      log.info({ results: resultsPath }, 'replacing the results of a dry run');
      await rm(resultsPath);
      resultsExist = false;
    }
    if (resultsExist) {
      if (previous?.completedAt && inputSha && previous.inputSha256 === inputSha && !settings.dryRun) {
        log.info({ results: resultsPath, completedAt: previous.completedAt }, 'input already processed: nothing to do');
        return alreadyDone(options.input, resultsPath, previous);
      }
      checkResumable(options, resultsPath, previous, inputSha, settings.dryRun);
      ledger = await readLedger(resultsPath);
      if (ledger.repairedBytes) log.warn({ results: resultsPath, bytes: ledger.repairedBytes }, 'repaired a torn last row of the results file');
      log.info({ results: resultsPath, final: ledger.final.size }, 'resuming: rows already final are skipped');
    }

    const state: RunState = {
      version: 1,
      input: options.input === '-' ? '-' : resolve(options.input),
      inputSha256: inputSha,
      tokenNamespace,
      options: storedOptions(jobPath, settings),
      dryRun: settings.dryRun,
      ...(rerun ? { rerunOf: resolve(options.input) } : {}),
      startedAt: previous?.startedAt ?? new Date().toISOString(),
    };
    await writeState(resultsPath, state);
    const rerunContext = rerun && { ...rerun, originKnown: Boolean(origin) || options.tokenNamespace !== undefined };
    const summary = await pipeline(options, { settings, job, tokenNamespace, resultsPath, ledger, rerun: rerunContext, log });
    if (!summary.interrupted && !summary.fatalError && !summary.inputError) {
      await writeState(resultsPath, { ...state, completedAt: new Date().toISOString(), rows: summary.rows });
    }
    return summary;
  } finally {
    await lock.release();
  }
}

/** May a run append to the existing results file? Only a --resume of the same input and tokens. */
function checkResumable(options: RunOptions, resultsPath: string, previous: RunState | undefined, inputSha: string | undefined, dryRun: boolean): void {
  if (!options.resume || dryRun) {
    throw new UsageError(`results file ${resultsPath} already exists: add --resume to continue that run, or pass another --results`);
  }
  const otherInput = previous?.inputSha256 !== undefined && inputSha !== undefined && previous.inputSha256 !== inputSha;
  if (previous?.completedAt && otherInput) {
    throw new UsageError(`${resultsPath} holds a completed run of another input: pass another --results (one per night, e.g. with the date)`);
  }
  if (previous?.dryRun) throw new UsageError(`${resultsPath} holds a dry run, which cannot be resumed: delete it or pass another --results`);
  if (otherInput) {
    throw new UsageError(`${options.input} changed since the run that wrote ${resultsPath} began: its lines no longer match; start a new run with another --results`);
  }
  if (previous && options.tokenNamespace !== undefined && options.tokenNamespace !== previous.tokenNamespace) {
    throw new UsageError(`--token-namespace differs from the one the interrupted run used ("${previous.tokenNamespace}"): resume with the same one`);
  }
}

interface PipelineContext {
  settings: Settings;
  job: JobFile;
  tokenNamespace: string;
  resultsPath: string;
  ledger: Ledger | undefined;
  rerun: Omit<RerunContext, 'earlier'> | undefined;
  log: Logger;
}

async function pipeline(options: RunOptions, ctx: PipelineContext): Promise<Summary> {
  const { settings, tokenNamespace, resultsPath, ledger, rerun, log } = ctx;
  const csv = await openCsv(options.input, { encoding: settings.encoding, delimiter: settings.delimiter });
  const mapping = compileMapping(csv.header, { task: ctx.job.task, ...settings.defaults });
  checkRequiredColumns(mapping);
  const duplicates = new DuplicateTokens(log);
  const prepare = makePreparer({
    mapping,
    tokenNamespace,
    tokenKey: settings.tokenKey,
    rerun: rerun && { ...rerun, earlier: earlierResults(csv.header, options.input) },
    duplicates,
    now: new Date(),
  });

  const results = ledger ? ResultsWriter.append(resultsPath, csv.header, ledger.header) : ResultsWriter.create(resultsPath, csv.header);
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
          endpoint: settings.endpoint,
          region: settings.region,
          profile: settings.profile,
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

  log.info(
    { input: options.input, results: resultsPath, rate: settings.rate, burst: settings.burst, dryRun: settings.dryRun, resume: Boolean(ledger), rerun: Boolean(rerun), tokenNamespace },
    'run started',
  );

  let doneBytes = 0; // input bytes up to the furthest finished record, for progress
  async function* jobs(): AsyncGenerator<Job> {
    for await (const record of csv.records) {
      if (signal.aborted) return;
      const job = prepare(record);
      const done = ledger?.final.get(job.record.line);
      if (done) {
        stats.skipped++;
        stats.rows[done]++;
        doneBytes = Math.max(doneBytes, job.record.endByte ?? 0);
        continue;
      }
      yield job;
    }
  }

  const record = (job: Job, result: RowResult) => {
    results.write(job.record.values, result);
    doneBytes = Math.max(doneBytes, job.record.endByte ?? 0);
    stats.rows[result.status]++;
    if (job.carried) return;
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
      concurrency = tuneConcurrency(rate.currentRate, settings.burst, stats.recentLatency(90), concurrencyCap);
      dispatcher.concurrency = concurrency;
    }
    options.onProgress?.(progress());
  }, 250);
  const progress = (): Progress => ({ stats, rate: rate.currentRate, concurrency, bytesDone: doneBytes, totalBytes: csv.totalBytes });

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
  if (duplicates.count) summary.duplicateTokens = duplicates.count;
  if (inputError) summary.inputError = inputError.message;
  if (fatal) {
    summary.fatalError = `${fatal.code}: ${fatal.message}`;
    log.warn({ code: fatal.code }, 'stopped: the service refused our credentials or signature');
  }
  log.info({ summary }, 'run finished');
  return summary;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The summary of a run that finds its input already completed into its results file. */
function alreadyDone(input: string, results: string, state: RunState): Summary {
  const rows = state.rows ?? { total: 0, created: 0, failed: 0, invalid: 0, planned: 0, skipped: 0 };
  return {
    input, results, rows: { ...rows, skipped: rows.total }, requests: 0, throttled: 0, retries: 0, unknownOutcomes: 0, errors: {},
    elapsedSeconds: 0, targetRate: 0, finalRate: 0, achievedRate: 0, latencyMs: { p50: null, p99: null },
    interrupted: false, dryRun: false, alreadyDone: state.completedAt,
  };
}

function toResult(job: Job, outcome: SendOutcome, requests: number): RowResult {
  const base = { line: job.record.line, clientToken: job.token, attempts: requests };
  if (outcome.kind === 'created') return { ...base, status: 'created', contactId: outcome.contactId };
  return { ...base, status: 'failed', errorCode: outcome.code, errorMessage: outcome.message };
}

/** A process sends at most about this many requests per second (the SDK costs ~1 ms of CPU each). */
const PROCESS_RATE = 1000;

/** Before any answer has come back, assume this latency (s). */
const ASSUMED_LATENCY = 0.5;

function initialConcurrency(rate: number, burst: number): number {
  return tuneConcurrency(rate, burst, undefined, MAX_AUTO_CONCURRENCY);
}

/**
 * Little's law: to sustain a rate R with latency L, about R × L requests must be in flight. The rate
 * is the one being dispatched (no more than one process can send), L the recent p90 (at least 50 ms);
 * ×1.25 and the burst are headroom, which costs little: the token bucket, not the slots, sets the pace.
 * Not p99: when the process itself is the bottleneck, its own queueing shows in the tail, and sizing
 * by the tail would feed on itself.
 */
export function tuneConcurrency(rate: number, burst: number, p90Ms: number | undefined, cap: number): number {
  const latency = p90Ms === undefined ? ASSUMED_LATENCY : Math.max(0.05, p90Ms / 1000);
  const needed = Math.ceil(Math.min(rate, PROCESS_RATE) * latency * 1.25) + Math.min(burst, 32);
  return Math.min(cap, Math.max(4, needed));
}
