/**
 * The pipeline: read → prepare (map, validate, token) → dispatch → record. Every record read ends as
 * exactly one results row; rows are worked on by a fixed pool of workers pulling from one stream of
 * jobs, so memory is bounded by the pool, never by the file. The set-up around the flow (sender,
 * limiter, signals, ticker) lives in wiring.ts; the helpers of each step below the flow.
 */
import type { SendOutcome } from '../delivery/send.js';
import { InputError } from '../errors.js';
import type { JobFile } from '../input/job.js';
import { compileMapping } from '../input/map.js';
import { makePreparer, type Job, type RerunContext } from '../input/prepare.js';
import { openCsv, type CsvInput } from '../input/read.js';
import { DuplicateTokens } from '../input/token.js';
import { earlierResults, type Ledger } from '../ledger/reader.js';
import { ResultsWriter } from '../ledger/writer.js';
import type { InputRecord, RowResult } from '../types.js';
import { checkRequiredColumns, type Settings } from './config.js';
import type { Logger, RunOptions } from './options.js';
import { summarize, type Summary } from './stats.js';
import { inShard, type Shard } from './shard.js';
import { wire, type Wiring } from './wiring.js';

export interface PipelineContext {
  settings: Settings;
  job: JobFile;
  tokenNamespace: string;
  resultsPath: string;
  ledger: Ledger | undefined;
  rerun: Omit<RerunContext, 'earlier'> | undefined;
  log: Logger;
}

/** How the run ended besides its rows: input that broke mid-file, or a refusal no row can pass. */
interface Stops {
  inputError?: Error;
  fatal?: Extract<SendOutcome, { kind: 'fatal' }>;
  /** Input bytes up to the furthest finished record, for progress. */
  doneBytes: number;
}

export async function pipeline(options: RunOptions, ctx: PipelineContext): Promise<Summary> {
  const csv = await openCsv(options.input, { encoding: ctx.settings.encoding, delimiter: ctx.settings.delimiter });
  const duplicates = new DuplicateTokens(ctx.log);
  const prepare = preparer(csv, options.input, ctx, duplicates);
  // Before the results file: a limiter that cannot start (Redis unreachable) leaves no file behind.
  const w = await wire(options, ctx.settings).catch((err: unknown) => {
    csv.close();
    throw err;
  });
  const results = ctx.ledger ? ResultsWriter.append(ctx.resultsPath, csv.header, ctx.ledger.header) : ResultsWriter.create(ctx.resultsPath, csv.header);
  const stops: Stops = { doneBytes: 0 };
  const record = (job: Job, result: RowResult) => {
    results.write(job.record.values, result);
    recorded(job, result, w, stops, ctx.log);
  };
  logStart(options, ctx);

  const jobs = pending(csv, prepare, ctx.ledger, w, stops, options.shard);
  async function worker(): Promise<void> {
    for (let job = await nextJob(jobs, stops); job; job = await nextJob(jobs, stops)) {
      const result = await settle(job, w, stops);
      if (!result) return; // the run is stopping and this row was not sent: no row, so --resume sends it
      record(job, result);
    }
  }

  const report = () => options.onProgress?.({ stats: w.stats, rate: w.rate.currentRate, concurrency: w.concurrency(), bytesDone: stops.doneBytes, totalBytes: csv.totalBytes });
  const stopTicker = w.startTicker(report);
  try {
    await Promise.all(Array.from({ length: w.workers }, worker));
  } finally {
    stopTicker();
    results.close();
    await w.close();
    report();
  }
  return finish(options, ctx, w, stops, duplicates);
}

/** Map, validate and token one record; refuses up front (closing the input) a header no row can pass. */
function preparer(csv: CsvInput, input: string, ctx: PipelineContext, duplicates: DuplicateTokens): (record: InputRecord) => Job {
  try {
    const mapping = compileMapping(csv.header, { task: ctx.job.task, ...ctx.settings.defaults });
    checkRequiredColumns(mapping);
    return makePreparer({
      mapping,
      tokenNamespace: ctx.tokenNamespace,
      tokenKey: ctx.settings.tokenKey,
      rerun: ctx.rerun && { ...ctx.rerun, earlier: earlierResults(csv.header, input) },
      duplicates,
      now: new Date(),
    });
  } catch (err) {
    csv.close();
    throw err;
  }
}

/** The jobs still to do: records read and prepared, less the rows already final in the ledger. */
async function* pending(csv: CsvInput, prepare: ReturnType<typeof preparer>, ledger: Ledger | undefined, w: Wiring, stops: Stops, shard?: Shard): AsyncGenerator<Job> {
  let ordinal = 0;
  for await (const record of csv.records) {
    if (w.signal.aborted) return;
    if (!inShard(shard, ordinal++)) continue; // another worker's record (--shard)
    const job = prepare(record);
    const done = ledger?.final.get(job.record.line);
    if (done) {
      w.stats.skipped++;
      w.stats.rows[done]++;
      stops.doneBytes = Math.max(stops.doneBytes, job.record.endByte ?? 0);
      continue;
    }
    yield job;
  }
}

/** The next job, or undefined at the end of the input or when it broke (the rows before it stand). */
async function nextJob(jobs: AsyncGenerator<Job>, stops: Stops): Promise<Job | undefined> {
  try {
    const next = await jobs.next();
    return next.done ? undefined : next.value;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    stops.inputError ??= err;
    return undefined;
  }
}

/** A job's final result: decided before sending, planned (dry run), or delivered. Undefined = not sent. */
async function settle(job: Job, w: Wiring, stops: Stops): Promise<RowResult | undefined> {
  if (job.result) return job.result;
  if (!w.dispatcher) return { line: job.record.line, status: 'planned', clientToken: job.token, attempts: 0 };
  let delivery;
  try {
    delivery = await w.dispatcher.deliver(job.request!);
  } catch (err) {
    if (w.signal.aborted) return undefined;
    throw err;
  }
  const { outcome, requests } = delivery;
  if (outcome.kind === 'fatal') {
    // Credentials or signing: every row would fail the same way. Leave this row unrecorded so
    // --resume sends it once the configuration is fixed, and stop.
    stops.fatal ??= outcome;
    w.stop(outcome.code);
    return undefined;
  }
  const base = { line: job.record.line, clientToken: job.token, attempts: requests };
  if (outcome.kind === 'created') return { ...base, status: 'created', contactId: outcome.contactId };
  return { ...base, status: 'failed', errorCode: outcome.code, errorMessage: outcome.message };
}

/** Counts a written row and logs one that was not created (line, status and code; never content). */
function recorded(job: Job, result: RowResult, w: Wiring, stops: Stops, log: Logger): void {
  stops.doneBytes = Math.max(stops.doneBytes, job.record.endByte ?? 0);
  w.stats.rows[result.status]++;
  if (job.carried || result.status === 'created' || result.status === 'planned') return;
  log.info({ line: result.line, status: result.status, code: result.errorCode }, 'row not created');
  log.debug({ line: result.line, message: result.errorMessage }, 'row error detail');
}

function logStart(options: RunOptions, ctx: PipelineContext): void {
  const { settings, resultsPath, ledger, rerun, tokenNamespace } = ctx;
  ctx.log.info(
    { input: options.input, results: resultsPath, rate: settings.rate, burst: settings.burst, dryRun: settings.dryRun, resume: Boolean(ledger), rerun: Boolean(rerun), tokenNamespace },
    'run started',
  );
}

function finish(options: RunOptions, ctx: PipelineContext, w: Wiring, stops: Stops, duplicates: DuplicateTokens): Summary {
  const summary = summarize(w.stats, {
    input: options.input,
    results: ctx.resultsPath,
    targetRate: ctx.settings.rate,
    finalRate: w.rate.currentRate,
    interrupted: w.signal.aborted,
    dryRun: ctx.settings.dryRun,
  });
  if (duplicates.count) summary.duplicateTokens = duplicates.count;
  if (stops.inputError) summary.inputError = stops.inputError.message;
  if (stops.fatal) {
    summary.fatalError = `${stops.fatal.code}: ${stops.fatal.message}`;
    ctx.log.warn({ code: stops.fatal.code }, 'stopped: the service refused our credentials or signature');
  }
  ctx.log.info({ summary }, 'run finished');
  return summary;
}
