/**
 * The pipeline: read → prepare (map, validate, token) → dispatch → record. Every record read ends as
 * exactly one results row; rows are worked on by a fixed pool of workers pulling from one stream of
 * jobs, so memory is bounded by the pool, never by the file. The set-up around the flow (sender,
 * limiter, signals, ticker) lives in wiring.ts, what the operator is told in observe/; the helpers of
 * each step below the flow.
 */
import { cannotConnect } from '../delivery/reach.js';
import { redactServiceMessage } from '../delivery/redact.js';
import { InputError } from '../errors.js';
import type { JobFile } from '../input/job.js';
import { compileMapping } from '../input/map.js';
import { makePreparer, type Job, type RerunContext } from '../input/prepare.js';
import { openCsv, type CsvInput } from '../input/csv/read.js';
import { delimiterHint } from '../input/headers.js';
import { DuplicateTokens } from '../input/duplicates.js';
import { earlierResults, tokenLines, type Ledger } from '../ledger/reader.js';
import { ResultsWriter, type Guard } from '../ledger/writer.js';
import type { InputRecord, RowResult, SendOutcome } from '../types.js';
import { checkRequiredColumns, type Settings } from './config.js';
import type { Logger, RunOptions } from './options.js';
import { headerWarnings, PlanCollector } from './plan.js';
import { readySender } from './preflight.js';
import { RunObserver } from '../observe/observer.js';
import { summarize, type Summary } from './stats.js';
import { inShard, type Shard } from '../input/shard.js';
import { wire, type Wiring } from './wiring.js';
import { HeldRows, ROW_HEADROOM, rowCost, rowWorkers, takeTurns } from './held.js';

export interface PipelineContext {
  settings: Settings;
  job: JobFile;
  tokenNamespace: string;
  resultsPath: string;
  ledger: Ledger | undefined;
  rerun: Omit<RerunContext, 'earlier'> | undefined;
  log: Logger;
  /** Called before results writes; throws when the run may no longer write (its lock was lost). */
  guard?: Guard;
  /** Where the input's bytes are read from when not `options.input` itself (a spooled copy of stdin). */
  source?: string;
}

/** How the run ended besides its rows: input that broke mid-file, a refusal no row can pass, a failed write. */
interface Stops {
  inputError?: Error;
  fatal?: Extract<SendOutcome, { kind: 'fatal' }>;
  /** The results file could not be written (disk full) or may no longer be (lock lost): thrown after the drain. */
  writeError?: Error;
}

export async function pipeline(options: RunOptions, ctx: PipelineContext): Promise<Summary> {
  // A rerun reads a results file, always UTF-8 and comma-separated: the input's encoding and delimiter are not its.
  const read = ctx.rerun ? {} : { encoding: ctx.settings.encoding, delimiter: ctx.settings.delimiter };
  const csv = await openCsv(ctx.source ?? options.input, { ...read, ...(ctx.source ? { name: 'standard input' } : {}) });
  const duplicates = new DuplicateTokens(ctx.log);
  const { prepare, plan } = preparer(csv, options.input, ctx, duplicates);
  const w = await ready(options, ctx, csv);
  const results = openResults(ctx, csv.header);
  const stops: Stops = {};
  const watch = new RunObserver({ options, settings: ctx.settings, resultsPath: ctx.resultsPath, ledger: ctx.ledger, rerun: Boolean(ctx.rerun), log: ctx.log, totalBytes: csv.totalBytes }, w);
  logStart(options, ctx);

  const held = new HeldRows(() => w.workers() + ROW_HEADROOM);
  const jobs = takeTurns(pending(csv, prepare, ctx.ledger, w, watch, held, options.shard));
  /** One row: the next job, its result, its results row; false when this worker is done. */
  async function row(): Promise<boolean> {
    const job = await nextJob(jobs, stops);
    if (!job) return false;
    try {
      const result = await settle(job, w, stops);
      if (!result) return false; // the run is stopping and this row was not sent: no row, so --resume sends it
      if (!(await write(results, job, result, w, stops))) return false;
      watch.recorded(job, result);
      plan?.add(job);
      return true;
    } finally {
      held.release(rowCost(job.record.values));
    }
  }
  // A row per call to row(): a job held in a worker's frame while it waits for the next would
  // outlive young collections. Workers follow what the run wants (wiring.ts): more as the in-flight
  // cap grows, or when a row starts waiting to retry; fewer when the cap comes down.
  const workers = rowWorkers(w.workers, row);
  if (w.dispatcher) w.dispatcher.onBackingOff = workers.start;
  workers.start();
  const stopTicker = w.startTicker(() => {
    workers.start();
    watch.tick();
  });
  try {
    await workers.done;
  } finally {
    stopTicker();
    closeResults(results, stops);
    await w.close();
    watch.finish(w.signal.aborted || stops.inputError || stops.fatal ? 'interrupted' : 'completed');
  }
  if (stops.writeError) throw stops.writeError;
  await duplicates.confirm((tokens) => tokenLines(ctx.resultsPath, tokens));
  return finish(options, ctx, w, stops, duplicates, plan);
}

/**
 * Region and credentials, and a limiter that can start (Redis reachable), after the header and before
 * the results file: a refusal leaves no file behind.
 */
async function ready(options: RunOptions, ctx: PipelineContext, csv: CsvInput): Promise<Wiring> {
  try {
    const sender = await readySender(options, ctx.settings);
    return await wire({ ...options, sender }, ctx.settings);
  } catch (err) {
    csv.close();
    throw err;
  }
}

function openResults(ctx: PipelineContext, header: string[]): ResultsWriter {
  return ctx.ledger
    ? ResultsWriter.append(ctx.resultsPath, header, ctx.ledger.header, ctx.guard)
    : ResultsWriter.create(ctx.resultsPath, header, ctx.guard);
}

/**
 * Writes a row's result; false once the results file cannot take it. The run then stops sending at
 * the first failed write: rows in flight finish but are not counted as written, and --resume sends
 * them again with the same token.
 */
async function write(results: ResultsWriter, job: Job, result: RowResult, w: Wiring, stops: Stops): Promise<boolean> {
  if (stops.writeError) return false;
  try {
    // Nothing was sent for a row decided before sending, or on a dry run: it is not waited for.
    if (job.result || !w.dispatcher) results.write(job.record.values, result);
    else await results.commit(job.record.values, result);
    return true;
  } catch (err) {
    stops.writeError = err as Error;
    w.stop('the results file cannot be written');
    return false;
  }
}

function closeResults(results: ResultsWriter, stops: Stops): void {
  try {
    results.close();
  } catch (err) {
    stops.writeError ??= err as Error;
  }
}

/**
 * Map, validate and token one record; refuses up front (closing the input) a header no row can pass.
 * Warns of header near-misses (or refuses them with --strict-columns). A dry run also collects its plan.
 */
function preparer(csv: CsvInput, input: string, ctx: PipelineContext, duplicates: DuplicateTokens): { prepare: (record: InputRecord) => Job; plan?: PlanCollector } {
  try {
    const { job, settings } = ctx;
    const mapping = compileMapping(csv.header, { task: job.task, columns: job.columns, attributesFrom: job.attributesFrom, timeZone: settings.timeZone, ...settings.defaults });
    const warnings = headerWarnings(mapping, settings.strictColumns);
    for (const warning of warnings) ctx.log.warn({ warning }, 'header looks like a mistake');
    const delimiter = delimiterHint(csv.header);
    const needs = checkRequiredColumns(mapping, { dryRun: settings.dryRun, hints: [...warnings, ...(delimiter ? [delimiter] : [])] });
    const prepare = makePreparer({
      mapping,
      tokenNamespace: ctx.tokenNamespace,
      tokenKey: settings.tokenKey,
      rerun: ctx.rerun && { ...ctx.rerun, earlier: earlierResults(csv.header, input) },
      duplicates,
      waive: { instance: needs.some((n) => n.startsWith('--instance-id')), routing: needs.some((n) => n.startsWith('--contact-flow-id')) },
    });
    return { prepare, ...(settings.dryRun ? { plan: new PlanCollector(mapping, warnings, needs) } : {}) };
  } catch (err) {
    csv.close();
    throw err;
  }
}

/**
 * The jobs still to do: records read and prepared, less the rows already final in the ledger. Each
 * waits for room among the rows held (held.ts) before it is handed out: the reader runs ahead of the
 * senders by at most that much.
 */
async function* pending(csv: CsvInput, prepare: (record: InputRecord) => Job, ledger: Ledger | undefined, w: Wiring, watch: RunObserver, held: HeldRows, shard?: Shard): AsyncGenerator<Job> {
  let ordinal = 0;
  for await (const record of csv.records) {
    if (w.signal.aborted) return;
    if (!inShard(shard, ordinal++)) continue; // another worker's record (--shard)
    watch.read(record);
    const job = prepare(record);
    const done = ledger?.final.get(job.record.line);
    if (done) {
      watch.carried(job, done);
      continue;
    }
    await held.admit(rowCost(job.record.values));
    yield job;
  }
  watch.endOfInput();
}

/** The next job, or undefined at the end of the input or when it broke (the rows before it stand). */
async function nextJob(jobs: AsyncIterator<Job>, stops: Stops): Promise<Job | undefined> {
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
    delivery = await w.dispatcher.deliver(job.request!, job.lateCheck);
  } catch (err) {
    if (w.signal.aborted) return undefined;
    throw err;
  }
  const { outcome, requests } = delivery;
  if (delivery.unsent) return { line: job.record.line, status: 'invalid', clientToken: job.token, attempts: requests, errorCode: 'InvalidRow', errorMessage: delivery.unsent };
  // The endpoint cannot be reached: this row was never sent. Unrecorded, --resume sends it.
  if (w.unreachable() && cannotConnect(outcome)) return undefined;
  if (outcome.kind === 'fatal') {
    // Credentials or signing: every row would fail the same way. Leave this row unrecorded so
    // --resume sends it once the configuration is fixed, and stop.
    stops.fatal ??= outcome;
    w.stop(outcome.code);
    return undefined;
  }
  // Whole literals, not `{ ...base, status }`: on Node 20 a spread followed by new keys builds a
  // hidden class per object (see input/prepare.ts).
  const { line } = job.record;
  if (outcome.kind === 'created') return { line, status: 'created', clientToken: job.token, attempts: requests, contactId: outcome.contactId };
  return { line, status: 'failed', clientToken: job.token, attempts: requests, errorCode: outcome.code, errorMessage: outcome.message };
}

function logStart(options: RunOptions, ctx: PipelineContext): void {
  const { settings, resultsPath, ledger, rerun, tokenNamespace } = ctx;
  ctx.log.info(
    { input: options.input, results: resultsPath, rate: settings.rate, burst: settings.burst, dryRun: settings.dryRun, resume: Boolean(ledger), rerun: Boolean(rerun), tokenNamespace },
    'run started',
  );
}

function finish(options: RunOptions, ctx: PipelineContext, w: Wiring, stops: Stops, duplicates: DuplicateTokens, plan: PlanCollector | undefined): Summary {
  const summary = summarize(w.stats, {
    input: options.input,
    results: ctx.resultsPath,
    targetRate: ctx.settings.rate,
    finalRate: w.rate.currentRate,
    interrupted: w.signal.aborted,
    dryRun: ctx.settings.dryRun,
  });
  if (duplicates.count) summary.duplicateTokens = duplicates.count;
  if (summary.rows.total === 0 && !ctx.ledger && !stops.inputError && !w.signal.aborted) {
    ctx.log.warn({ input: options.input }, 'the input has a header row and no records: nothing to send');
  }
  if (ctx.rerun) summary.rerunOf = options.input;
  if (stops.inputError) summary.inputError = stops.inputError.message;
  if (stops.fatal) {
    summary.fatalError = `${stops.fatal.code}: ${redactServiceMessage(stops.fatal.message)}`;
    ctx.log.warn({ code: stops.fatal.code }, 'stopped: the service refused our credentials or signature');
  }
  const unreachable = w.unreachable();
  if (unreachable) {
    summary.unreachable = unreachable;
    ctx.log.warn({}, `stopped: ${unreachable}`);
  }
  if (plan) summary.plan = plan.result();
  ctx.log.info({ summary }, 'run finished');
  return summary;
}
