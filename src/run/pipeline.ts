/**
 * The pipeline: read → prepare (map, validate, token) → dispatch → record. Every record read ends as
 * exactly one results row; rows are worked on by a fixed pool of workers pulling from one stream of
 * jobs, so memory is bounded by the pool, never by the file. The set-up around the flow (sender,
 * limiter, signals, ticker) lives in wiring.ts, what the operator is told in observe/; the helpers of
 * each step below the flow.
 */

import type { RunConfig } from '../config/resolve.js';
import type { Delivery } from '../delivery/dispatch.js';
import { cannotConnect } from '../delivery/reach.js';
import { InputError, LoaderError, S3UnavailableError, StoppedError } from '../errors.js';
import { type CsvInput, openCsv } from '../input/csv/read.js';
import { DuplicateTokens } from '../input/duplicates.js';
import { compileFilter } from '../input/filter.js';
import { delimiterHint } from '../input/headers.js';
import { compileMapping, type Defaults } from '../input/map.js';
import { type Job, makePreparer, type RerunContext } from '../input/prepare.js';
import { inShard, type Shard } from '../input/shard.js';
import { earlierResults, type Ledger, tokenLines } from '../ledger/reader.js';
import { type Guard, ResultsWriter } from '../ledger/writer.js';
import type { MetricsFile } from '../observe/metrics.js';
import { RunObserver } from '../observe/observer.js';
import { redactServiceMessage } from '../observe/redact.js';
import type { ByteSource, InputRecord, RowResult, SendOutcome } from '../types.js';
import { FailureLimit } from './failure-limit.js';
import { HeldRows, ROW_HEADROOM, rowCost, rowWorkers, takeTurns } from './held.js';
import type { RunHooks } from './options.js';
import { headerWarnings, PlanCollector } from './plan.js';
import { readySender } from './preflight.js';
import { checkRequiredColumns } from './required.js';
import { type Summary, summarize } from './summary.js';
import { type Wiring, wire } from './wiring.js';

export interface PipelineContext {
  resultsPath: string;
  ledger: Ledger | undefined;
  rerun: Omit<RerunContext, 'earlier'> | undefined;
  /** Called before results writes; throws when the run may no longer write (its lock was lost). */
  guard?: Guard;
  /** Where the input's bytes are read from when not the input itself: a spooled copy of stdin, an S3 object. */
  source?: string | ByteSource;
  /** How messages name a local `source` ("standard input", the S3 object a working copy stands for). */
  sourceName?: string;
  /** Called once the run is known to start, just before the results file is made (the run state is written). */
  start?: () => Promise<void>;
  /** `--metrics-file`, rewritten as the run goes (its last write is the caller's, once the outcome is known). */
  metrics?: MetricsFile;
  /** Called once the results file is open, before any row is sent: `bytes()` is how much of it is written whole. */
  opened?: (bytes: () => number) => Promise<void>;
}

/**
 * How many rows the input holds (this shard's), for an interrupted run's summary: "31 of 60 rows".
 * Read again from the start, for at most `withinMs`: a huge input that takes longer says no total.
 */
export async function countRecords(
  config: RunConfig,
  source: string | ByteSource | undefined,
  rerun: boolean,
  withinMs = 5_000,
): Promise<number | undefined> {
  const read = rerun ? {} : { encoding: config.get('encoding'), delimiter: config.get('delimiter') };
  const shard = rerun ? undefined : config.shard;
  const until = performance.now() + withinMs;
  let csv: CsvInput | undefined;
  try {
    csv = await openCsv(source ?? config.input, read);
    let ordinal = 0;
    let count = 0;
    for await (const _ of csv.records) {
      if (inShard(shard, ordinal++)) count++;
      if ((ordinal & 1023) === 0 && performance.now() > until) return undefined;
    }
    return count;
  } catch {
    return undefined;
  } finally {
    csv?.close();
  }
}

/** How the run ended besides its rows: input that broke mid-file, a refusal no row can pass, a failed write. */
interface Stops {
  inputError?: Error;
  fatal?: Extract<SendOutcome, { kind: 'fatal' }>;
  /** The results file could not be written (disk full) or may no longer be (lock lost): thrown after the drain. */
  writeError?: Error;
  /** Too many of the rows sent failed (--max-failures, or the default for a wrong id). */
  failureLimit?: true;
  /** A row taken from the input was not recorded (the run was stopping): --resume must send it. */
  rowsLeft?: true;
  /** The input in S3 stopped answering mid-file. */
  unavailable?: Error;
}

export async function pipeline(config: RunConfig, hooks: RunHooks, ctx: PipelineContext): Promise<Summary> {
  // A rerun reads a results file, always UTF-8 and comma-separated: the input's encoding and delimiter are not its.
  const read = ctx.rerun ? {} : { encoding: config.get('encoding'), delimiter: config.get('delimiter') };
  const csv = await openCsv(ctx.source ?? config.input, {
    ...read,
    ...(ctx.sourceName ? { name: ctx.sourceName } : {}),
  });
  const duplicates = new DuplicateTokens(hooks.log);
  const { prepare, plan } = preparer(csv, config, hooks, ctx, duplicates);
  const w = await ready(config, hooks, csv);
  const results = await openResults(ctx, csv.header, w, csv, hooks.signal);
  const stops: Stops = {};
  const limit = new FailureLimit(config.get('maxFailures'));
  const watch = new RunObserver(
    {
      runId: config.get('runId')!,
      ceiling: config.rate,
      burst: config.get('burst') ?? 0,
      dryRun: config.dryRun,
      onProgress: hooks.onProgress,
      resultsPath: ctx.resultsPath,
      ledger: ctx.ledger,
      rerun: Boolean(ctx.rerun),
      log: hooks.log,
      totalBytes: csv.totalBytes,
      metrics: ctx.metrics,
    },
    w,
  );
  logStart(config, hooks, ctx);

  const held = new HeldRows(() => w.workers() + ROW_HEADROOM);
  const jobs = takeTurns(pending(csv, prepare, ctx.ledger, w, watch, held, ctx.rerun ? undefined : config.shard));
  /** One row: the next job, its result, its results row; false when this worker is done. */
  async function row(): Promise<boolean> {
    const job = await nextJob(jobs, stops, w);
    if (!job) return false;
    try {
      const result = await settle(job, w, stops);
      if (!result) {
        stops.rowsLeft = true; // the run is stopping and this row was not sent: no row, so --resume sends it
        return false;
      }
      // Judged as the answer comes, before the write: no row starts after the one that passed the limit.
      if (!job.result && limit.answered(result) && !w.signal.aborted) {
        stops.failureLimit = true;
        w.stop('the failure limit was passed');
      }
      if (!(await write(results, job, result, w, stops))) {
        stops.rowsLeft = true;
        return false;
      }
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
    // A run that stopped early leaves the reader suspended mid-file: release its file, or its S3 download.
    csv.close();
    await w.close();
    watch.finish(
      stoppedEarly(w, stops, watch) || stops.inputError || stops.fatal ? 'interrupted' : 'completed',
      w.atLimit() ? 'active-task-limit' : undefined,
    );
  }
  if (stops.writeError) throw stops.writeError;
  await duplicates.confirm((tokens) => tokenLines(ctx.resultsPath, tokens));
  return finish(config, hooks, ctx, { w, stops, limit, watch }, duplicates, plan);
}

/**
 * The run stopped before every row was recorded. A failure limit passed by the last rows, with the
 * input read to its end and every row taken recorded, left nothing to resume: the run is complete.
 */
function stoppedEarly(w: Wiring, stops: Stops, watch: RunObserver): boolean {
  if (!w.signal.aborted) return false;
  return !(stops.failureLimit && !stops.rowsLeft && watch.inputDone);
}

/**
 * Region and credentials, and a limiter that can start (Redis reachable), after the header and before
 * the results file: a refusal leaves no file behind.
 */
async function ready(config: RunConfig, hooks: RunHooks, csv: CsvInput): Promise<Wiring> {
  try {
    const sender = await readySender(config, hooks.sender);
    return await wire(config, { ...hooks, sender });
  } catch (err) {
    csv.close();
    throw err;
  }
}

/**
 * The run starts here: its state is written and its results file made (or opened to resume). A stop
 * that came while the run was getting ready (a scheduler's SIGTERM as a worker starts) leaves the
 * files as they were: nothing was sent, so there is nothing to record.
 */
async function openResults(
  ctx: PipelineContext,
  header: string[],
  w: Wiring,
  csv: CsvInput,
  stop: AbortSignal | undefined,
): Promise<ResultsWriter> {
  let writer: ResultsWriter | undefined;
  try {
    if (stop?.aborted) {
      if (stop.reason instanceof LoaderError) throw stop.reason;
      throw new StoppedError('stopped before the run began: nothing was sent or written; run the command again');
    }
    await ctx.start?.();
    writer = ctx.ledger
      ? ResultsWriter.append(ctx.resultsPath, header, ctx.ledger.header, ctx.guard)
      : ResultsWriter.create(ctx.resultsPath, header, ctx.guard);
    const opened = writer;
    await ctx.opened?.(() => opened.bytes);
    return writer;
  } catch (err) {
    try {
      writer?.close();
    } catch {
      // the error that stopped the run is the one to tell
    }
    csv.close();
    await w.close();
    throw err;
  }
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
function preparer(
  csv: CsvInput,
  config: RunConfig,
  hooks: RunHooks,
  ctx: PipelineContext,
  duplicates: DuplicateTokens,
): { prepare: (record: InputRecord) => Job; plan?: PlanCollector } {
  try {
    const { job } = config;
    const dryRun = config.dryRun;
    // A rerun's rows were filtered (or not) by its run: those it sends again passed then.
    const filter = !ctx.rerun && job.where?.length ? compileFilter(job.where, csv.header) : undefined;
    if (filter) hooks.log.info({ where: filter.conditions }, 'records must meet every condition of "where"');
    const mapping = compileMapping(csv.header, {
      task: job.task,
      columns: job.columns,
      attributesFrom: job.attributesFrom,
      timeZone: config.get('timezone'),
      ...mappingDefaults(config),
    });
    const warnings = headerWarnings(mapping, config.get('strictColumns') ?? false);
    for (const warning of warnings) hooks.log.warn({ warning }, 'header looks like a mistake');
    const delimiter = delimiterHint(csv.header);
    const needs = checkRequiredColumns(mapping, { dryRun, hints: [...warnings, ...(delimiter ? [delimiter] : [])] });
    const prepare = makePreparer({
      mapping,
      tokenNamespace: config.get('tokenNamespace')!,
      tokenKey: config.get('tokenKey'),
      rerun: ctx.rerun && { ...ctx.rerun, earlier: earlierResults(csv.header, config.input) },
      ...(filter ? { filter } : {}),
      duplicates,
      waive: {
        instance: needs.some((n) => n.startsWith('--instance-id')),
        routing: needs.some((n) => n.startsWith('--contact-flow-id')),
      },
    });
    return {
      prepare,
      ...(dryRun ? { plan: new PlanCollector(mapping, warnings, needs, filter?.conditions ?? []) } : {}),
    };
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
async function* pending(
  csv: CsvInput,
  prepare: (record: InputRecord) => Job,
  ledger: Ledger | undefined,
  w: Wiring,
  watch: RunObserver,
  held: HeldRows,
  shard?: Shard,
): AsyncGenerator<Job> {
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

/**
 * The next job, or undefined at the end of the input or when it broke (the rows before it stand). S3
 * that stops answering mid-file stops the run as a signal does: the rows in flight drain, the rest
 * wait for --resume.
 */
async function nextJob(jobs: AsyncIterator<Job>, stops: Stops, w: Wiring): Promise<Job | undefined> {
  try {
    const next = await jobs.next();
    return next.done ? undefined : next.value;
  } catch (err) {
    if (err instanceof S3UnavailableError) {
      stops.unavailable ??= err;
      w.stop(err.message);
      return undefined;
    }
    if (!(err instanceof InputError)) throw err;
    stops.inputError ??= err;
    return undefined;
  }
}

/** A job's final result: decided before sending, planned (dry run), or delivered. Undefined = not sent. */
async function settle(job: Job, w: Wiring, stops: Stops): Promise<RowResult | undefined> {
  if (job.result) return job.result;
  if (!w.dispatcher) return { line: job.record.line, status: 'planned', clientToken: job.token, attempts: 0 };
  let delivery: Delivery;
  try {
    delivery = await w.dispatcher.deliver(job.request!, job.lateCheck);
  } catch (err) {
    if (w.signal.aborted) return undefined;
    throw err;
  }
  const { outcome, requests } = delivery;
  if (delivery.unsent)
    return {
      line: job.record.line,
      status: 'invalid',
      clientToken: job.token,
      attempts: requests,
      errorCode: 'InvalidRow',
      errorMessage: delivery.unsent,
    };
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
  if (outcome.kind === 'created')
    return { line, status: 'created', clientToken: job.token, attempts: requests, contactId: outcome.contactId };
  return {
    line,
    status: 'failed',
    clientToken: job.token,
    attempts: requests,
    errorCode: outcome.code,
    errorMessage: outcome.message,
  };
}

function logStart(config: RunConfig, hooks: RunHooks, ctx: PipelineContext): void {
  const { resultsPath, ledger, rerun } = ctx;
  hooks.log.info(
    {
      input: config.input,
      results: resultsPath,
      rate: config.get('rate'),
      burst: config.get('burst'),
      dryRun: config.dryRun,
      resume: Boolean(ledger),
      rerun: Boolean(rerun),
      tokenNamespace: config.get('tokenNamespace'),
    },
    'run started',
  );
}

/** The instance and routing ids for rows without their own, and where each came from (for messages). */
function mappingDefaults(config: RunConfig): { defaults: Defaults; defaultSources: Record<keyof Defaults, string> } {
  return {
    defaults: {
      InstanceId: config.get('instanceId'),
      ContactFlowId: config.get('contactFlowId'),
      TaskTemplateId: config.get('taskTemplateId'),
      QuickConnectId: config.get('quickConnectId'),
    },
    defaultSources: {
      InstanceId: config.from('instanceId'),
      ContactFlowId: config.from('contactFlowId'),
      TaskTemplateId: config.from('taskTemplateId'),
      QuickConnectId: config.from('quickConnectId'),
    },
  };
}

function finish(
  config: RunConfig,
  hooks: RunHooks,
  ctx: PipelineContext,
  end: { w: Wiring; stops: Stops; limit: FailureLimit; watch: RunObserver },
  duplicates: DuplicateTokens,
  plan: PlanCollector | undefined,
): Summary {
  const { w, stops } = end;
  const interrupted = stoppedEarly(w, stops, end.watch);
  const summary = summarize(w.stats, {
    runId: config.get('runId')!,
    input: config.input,
    results: ctx.resultsPath,
    targetRate: config.rate,
    finalRate: w.rate.currentRate,
    interrupted,
    dryRun: config.dryRun,
  });
  if (duplicates.count) summary.duplicateTokens = duplicates.count;
  if (summary.rows.total === 0 && !ctx.ledger && !stops.inputError && !w.signal.aborted) {
    hooks.log.warn({ input: config.input }, 'the input has a header row and no records: nothing to send');
  }
  if (summary.rows.filtered > 0 && summary.rows.filtered === summary.rows.total && !w.signal.aborted) {
    hooks.log.warn(
      { filtered: summary.rows.filtered },
      'every record was filtered out by the job file\'s "where": nothing to send',
    );
  }
  if (ctx.rerun) summary.rerunOf = config.input;
  if (ctx.rerun?.changed.rows) {
    hooks.log.warn(
      { rows: ctx.rerun.changed.rows },
      'rows changed since they were sent (a spreadsheet re-save, an edit): sent again under the ClientToken they ' +
        'were sent with, so none can become a second task',
    );
  }
  if (stops.inputError) summary.inputError = stops.inputError.message;
  if (stops.fatal) {
    summary.fatalError = `${stops.fatal.code}: ${redactServiceMessage(stops.fatal.message)}`;
    hooks.log.warn({ code: stops.fatal.code }, 'stopped: the service refused our credentials or signature');
  }
  if (stops.failureLimit && interrupted) {
    summary.failureLimit = end.limit.stop();
    const { limit, sent, failed, dominant } = summary.failureLimit;
    hooks.log.warn(
      { limit, sent, failed, code: dominant.code, count: dominant.count },
      'stopped: the failure limit was passed',
    );
  }
  const unreachable = w.unreachable() ?? stops.unavailable?.message;
  if (unreachable) {
    summary.unreachable = unreachable;
    hooks.log.warn({}, `stopped: ${unreachable}`);
  }
  const { stats } = w;
  if (stats.pauses) {
    const atLimit = w.atLimit();
    summary.capacity = {
      pauses: stats.pauses,
      pausedSeconds: Math.round(stats.pausedTotalMs() / 100) / 10,
      firstPausedAt: new Date(stats.firstPausedAt!).toISOString(),
      ...(atLimit ? { stopped: atLimit } : {}),
    };
  }
  if (plan) summary.plan = plan.result();
  hooks.log.info({ summary }, 'run finished');
  return summary;
}
