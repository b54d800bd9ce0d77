/**
 * The pipeline: read → prepare (map, validate, token) → dispatch → record. Every record read ends as
 * exactly one results row; rows are worked on by a fixed pool of workers pulling from one stream of
 * jobs, so memory is bounded by the pool, never by the file.
 */
import { setMaxListeners } from 'node:events';
import { setInterval as every } from 'node:timers';
import { checkRequiredColumns, type Settings } from './config.js';
import { Dispatcher } from './dispatch.js';
import { InputError } from './errors.js';
import type { JobFile } from './job.js';
import { earlierResults, type Ledger } from './ledger.js';
import { compileMapping } from './map.js';
import { makePreparer, type Job, type RerunContext } from './prepare.js';
import { AdaptiveRate } from './rate.js';
import { openCsv } from './read.js';
import { ResultsWriter } from './results.js';
import { DEFAULT_RETRY } from './retry.js';
import type { Logger, Progress, RunOptions } from './run.js';
import { ConnectSender, createConnectClient, type SendOutcome } from './send.js';
import { RunStats, summarize, type Summary } from './stats.js';
import { DuplicateTokens } from './token.js';
import type { RowResult } from './types.js';

/** Automatic concurrency never goes past this; requests beyond it wait for a slot. */
const MAX_AUTO_CONCURRENCY = 256;
/** Extra row workers beyond the in-flight cap, so rows backing off do not starve the pipe. */
const ROW_HEADROOM = 64;

export interface PipelineContext {
  settings: Settings;
  job: JobFile;
  tokenNamespace: string;
  resultsPath: string;
  ledger: Ledger | undefined;
  rerun: Omit<RerunContext, 'earlier'> | undefined;
  log: Logger;
}

export async function pipeline(options: RunOptions, ctx: PipelineContext): Promise<Summary> {
  const { settings, tokenNamespace, resultsPath, ledger, rerun, log } = ctx;
  const csv = await openCsv(options.input, { encoding: settings.encoding, delimiter: settings.delimiter });
  let mapping;
  try {
    mapping = compileMapping(csv.header, { task: ctx.job.task, ...settings.defaults });
    checkRequiredColumns(mapping);
  } catch (err) {
    csv.close();
    throw err;
  }
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

