/**
 * `stop`: StopContact for the tasks a results file records as created — the rows chosen (`--lines`,
 * `--where`), and never a ContactId the file does not hold — paced by StopContact's own quota, retried
 * as a run retries, each answer recorded in the stop file (`<results>.stop.csv`) under its lock, so
 * that a stop killed at any moment resumes (`--resume`) without sending a stop twice for a row done.
 * For results in S3 the stop file is in S3 beside them by default, checkpointed as a run's results
 * are (remote.ts), so that a stop whose container dies resumes in another.
 */
import { setMaxListeners } from 'node:events';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { CsvError, parse } from 'csv-parse';
import { commandLine } from '../config/command-line.js';
import { type RunConfig, resolveConfig, type Settings } from '../config/resolve.js';
import type { Env, LineRange } from '../config/settings.js';
import { DEFAULT_RETRY } from '../delivery/retry.js';
import { clientReady, createConnectClient } from '../delivery/send.js';
import { ConnectStopSender, deliverStop, type StopOutcome, type StopSender } from '../delivery/stop.js';
import { InputError, LockLostError, UsageError } from '../errors.js';
import { type Condition, compileFilter } from '../input/filter.js';
import { canonicalResultsPath } from '../ledger/files.js';
import { acquireLock, type Lock } from '../ledger/lock.js';
import { RemoteResults } from '../ledger/remote.js';
import { checkOwnFile, type RunState, readState } from '../ledger/state.js';
import {
  readStopRows,
  readStopState,
  STOP_DONE,
  type StopRow,
  type StopState,
  type StopStatus,
  StopWriter,
  stopResultsPath,
  writeStopState,
} from '../ledger/stops.js';
import { readQuota } from '../rate/auto.js';
import { createLimiter } from '../rate/choose.js';
import { createS3Client } from '../s3/client.js';
import { isS3Url } from '../s3/url.js';
import type { Logger } from '../types.js';
import { normaliseUrl } from './identity.js';
import { silent } from './options.js';
import { awsTarget, s3Target } from './wiring.js';

export interface StopOptions extends Settings {
  /** The results file of a run (or rerun). */
  input: string;
  env?: Env;
  logger?: Logger;
  signal?: AbortSignal;
  /** Replaces the SDK's sender (tests). */
  sender?: StopSender;
}

export interface StopSummary {
  results: string;
  stopResults: string;
  /** Created rows of the results file, and those the selection chose. */
  created: number;
  selected: number;
  /** Chosen rows already done by an earlier stop: not sent again. */
  alreadyDone: number;
  /** This stop's rows by status. */
  rows: Record<StopStatus, number>;
  requests: number;
  throttled: number;
  interrupted: boolean;
  dryRun: boolean;
  /** Input lines chosen, as ranges (a dry run lists them). */
  lines: LineRange[];
  errors: Record<string, number>;
  /** The command that sends the rest, when some are left (interrupted, or failed). */
  next?: string;
  /** Why it stopped early when every row would have met the same error (credentials, permissions). */
  fatalError?: string;
}

interface Candidate {
  line: number;
  contactId: string;
  instanceId: string;
}

const STATUS = 'Result.Status';
const LINE = 'Result.Line';
const CONTACT = 'Result.ContactId';

export async function stopTasks(options: StopOptions): Promise<StopSummary> {
  const { input, env = process.env, logger: log = silent, signal, sender: injected, ...flags } = options;
  let s3: S3Client | undefined;
  /** Results in S3: their lease held, read into a local working copy the stop reads. */
  let remote: RemoteResults | undefined;
  /** The S3 objects worked on in local copies: the results, the stop file. */
  const remotes: RemoteResults[] = [];
  // Messages name the S3 objects, never the working copies standing for them.
  const names = (text: string) => remotes.reduce((t, r) => r.names(t), text);
  try {
    let resultsPath = '';
    let run: RunState | undefined;
    if (!isS3Url(input)) {
      await access(input).catch((err: NodeJS.ErrnoException) => {
        throw new InputError(`cannot read ${input}: ${err.code ?? String(err)}`, { cause: err });
      });
      resultsPath = await canonicalResultsPath(input);
      run = await runOf(input, resultsPath, true);
    }
    const config = await resolveConfig(
      { command: 'stop', input, flags: flags as Settings, env },
      {
        earlier: async (first) => {
          if (isS3Url(input)) {
            // The lease keeps a run of the object from going on meanwhile, as the lock does for a local file.
            s3 = createS3Client(s3Target(first));
            remote = await RemoteResults.open(s3, input, 'stop');
            remotes.push(remote);
            await remote.take();
            await remote.pull();
            remote.assertFound();
            resultsPath = remote.local;
            run = await runOf(input, resultsPath, false);
          }
          return {
            endpoint: run!.identity.endpoint,
            region: run!.identity.region,
            profile: run!.options.profile,
            instanceId: run!.identity.instanceId,
          };
        },
        readQuota: (c) =>
          readQuota({
            endpoint: c.get('endpoint'),
            region: c.get('region'),
            profile: c.get('profile'),
            log,
            operation: 'StopContact',
          }),
      },
    );
    const client = () => (s3 ??= createS3Client(s3Target(config)));
    return await stopRun({ input, config, run: run!, resultsPath, remote, remotes, client, log, signal, injected });
  } catch (err) {
    if (err instanceof Error) err.message = names(err.message);
    throw err;
  } finally {
    for (const r of remotes.reverse()) await r.close();
    s3?.destroy();
  }
}

/** The run state beside a results file, refused when missing, foreign or a dry run's. */
async function runOf(input: string, resultsPath: string, local: boolean): Promise<RunState> {
  const run = await readState(resultsPath);
  if (!run)
    throw new UsageError(
      `${input} has no run state (${input}.run.json) beside it: nothing says where its tasks were created, so ` +
        `nothing is stopped. stop takes a results file together with the run state its run wrote beside it`,
    );
  // A working copy pulled from S3 is this process's own, in its private folder.
  if (local) await checkOwnFile(`${resultsPath}.run.json`, 'run state', false);
  if (run.dryRun)
    throw new UsageError(`${input} is the record of a dry run: it created no tasks, so there is nothing to stop`);
  return run;
}

async function stopRun(job: {
  input: string;
  config: RunConfig;
  run: RunState;
  resultsPath: string;
  remote: RemoteResults | undefined;
  /** Where a stop file in S3 is added, to be closed (and named in messages) by the caller. */
  remotes: RemoteResults[];
  client: () => S3Client;
  log: Logger;
  signal: AbortSignal | undefined;
  injected: StopSender | undefined;
}): Promise<StopSummary> {
  const { input, config, run, resultsPath, remote, remotes, client, log, signal, injected } = job;
  checkTarget(input, run, config);
  const given = config.get('results');
  // Beside the results, in S3 for results in S3, so that it outlives the machine as they do.
  const byDefault = stopResultsPath(input);
  // A folder (ending in /, as CTL_RESULTS may name one for every run): the stop file under its default name.
  const stopAt = given === undefined ? byDefault : given.endsWith('/') ? `${given}${basename(byDefault)}` : given;
  if (isS3Url(stopAt) ? stopAt === input : resolve(stopAt) === resolve(input) || resolve(stopAt) === resultsPath)
    throw new UsageError(`--results ${stopAt} is the results file itself: give the stops a file of their own`);

  const dryRun = config.get('dryRun') === true;
  /** A stop file in S3: its lease held (but by a dry run), worked on in a local copy checkpointed to S3. */
  let stops: RemoteResults | undefined;
  if (isS3Url(stopAt)) {
    stops = await RemoteResults.open(client(), stopAt, '--results');
    remotes.push(stops);
    if (!dryRun) await stops.take();
    await stops.pull();
  }
  const stopPath = stops?.local ?? stopAt;
  const chosen = await candidates(resultsPath, run, config);
  const summary: StopSummary = {
    results: input,
    stopResults: stopAt,
    created: chosen.created,
    selected: chosen.rows.length,
    alreadyDone: 0,
    rows: { stopped: 0, 'already-ended': 0, failed: 0, skipped: 0 },
    requests: 0,
    throttled: 0,
    interrupted: false,
    dryRun,
    lines: ranges(chosen.rows.map((r) => r.line)),
    errors: {},
  };

  // The results file's lock keeps a run from resuming into it meanwhile; the stop file's, another stop.
  const locks: Lock[] = [];
  try {
    locks.push(await acquireLock(resultsPath, { signal }));
    const stopState = await readStopState(stopPath);
    const exists = await access(stopPath).then(
      () => true,
      () => false,
    );
    if (exists && !stopState)
      throw new UsageError(
        `${stopPath} exists but has no stop state beside it: it was not written by stop. Pass another --results`,
      );
    if (stopState && (remote ? stopState.results !== remote.url : resolve(stopState.results) !== resultsPath))
      throw new UsageError(
        `${stopPath} records the stops of another results file (${stopState.results}): pass another --results`,
      );
    if (!dryRun) locks.push(await acquireLock(await canonicalResultsPath(stopPath).catch(() => stopPath), { signal }));
    if (stopState && stopState.outcome !== 'completed' && !config.get('resume') && !dryRun)
      throw new UsageError(
        `${stopPath} is the record of a stop that did not finish: add --resume to finish it (rows already done ` +
          `are not sent again)`,
      );
    if (exists && !stops) await checkOwnFile(stopPath, 'stop results file', true);
    const done = exists ? (await readStopRows(stopPath, { repair: !dryRun })).byLine : new Map<number, StopRow>();
    // A task ended by an earlier stop is not sent again, whichever line of the file now holds its ContactId.
    const ended = new Set([...done.values()].filter((d) => STOP_DONE.has(d.status)).map((d) => d.contactId));
    const todo = chosen.rows.filter((r) => !(r.contactId && ended.has(r.contactId)));
    summary.alreadyDone = chosen.rows.length - todo.length;
    summary.lines = ranges(todo.map((r) => r.line));
    if (dryRun) return summary;

    const state: StopState = {
      version: 1,
      kind: 'stop',
      results: remote ? remote.url : resultsPath,
      ...target(config),
      outcome: 'running',
      startedAt: stopState?.startedAt ?? new Date().toISOString(),
    };
    await writeStopState(stopPath, state);
    // In S3 before any request: a stop that dies from here on is resumed.
    await stops?.started(!exists);
    const held = [remote, stops].filter((r) => r !== undefined);
    const guard = () => {
      for (const lock of locks) lock.assertHeld(200);
      for (const r of held) r.assertHeld();
    };
    const writer = new StopWriter(stopPath, !exists, guard);
    const stopSignal = AbortSignal.any([
      ...(signal ? [signal] : []),
      ...locks.map((l) => l.signal),
      ...held.map((r) => r.signal),
    ]);
    // Every row in flight or waiting for its turn listens to it.
    setMaxListeners(0, stopSignal);
    let sender = injected;
    if (!sender) {
      const client = createConnectClient({
        ...awsTarget(config),
        maxSockets: config.get('concurrency') ?? 16,
        requestTimeoutMs: config.get('requestTimeoutMs')!,
      });
      await clientReady(client);
      sender = new ConnectStopSender(client);
    }
    const limiter = await createLimiter({
      ...awsTarget(config),
      rate: config.rate,
      burst: config.get('burst')!,
      concurrency: config.get('concurrency') ?? 16,
      log,
    });
    const policy = { ...DEFAULT_RETRY, maxAttempts: config.get('maxAttempts')! };
    log.info(
      { results: input, stopResults: stopAt, rows: todo.length, rate: config.rate },
      'stopping the tasks of the results file',
    );
    let fatal: string | undefined;
    const queue = todo.values();
    const worker = async () => {
      for (const row of queue) {
        if (stopSignal.aborted || fatal) return;
        if (!row.contactId) {
          record(writer, summary, row, { status: 'skipped', attempts: 0 });
          continue;
        }
        let outcome: StopOutcome;
        let attempts: number;
        try {
          const d = await deliverStop(
            sender!,
            limiter,
            policy,
            { InstanceId: row.instanceId, ContactId: row.contactId },
            stopSignal,
            (o) => {
              summary.requests++;
              if (o.kind === 'throttled') summary.throttled++;
            },
          );
          outcome = d.outcome;
          attempts = d.attempts;
        } catch (err) {
          if (stopSignal.aborted) return;
          throw err;
        }
        if (outcome.kind === 'fatal') {
          // Every other row would meet it too (credentials, permissions): stop, leave the rest for --resume.
          fatal = `${outcome.code}: ${outcome.message}`;
          return;
        }
        record(writer, summary, row, rowOf(outcome, attempts));
      }
    };
    try {
      await stops?.opened(() => writer.bytes, config.get('checkpointSeconds')! * 1000);
      await Promise.all(Array.from({ length: Math.min(config.get('concurrency') ?? 16, todo.length) }, worker));
    } finally {
      writer.close();
      await limiter.close();
      if (!injected) sender.destroy();
    }
    const left =
      todo.length - (summary.rows.stopped + summary.rows['already-ended'] + summary.rows.failed + summary.rows.skipped);
    summary.interrupted = left > 0;
    if (fatal) summary.fatalError = fatal;
    for (const lock of locks) lock.assertHeld();
    for (const r of held) r.assertHeld();
    await writeStopState(stopPath, {
      ...state,
      outcome: summary.interrupted ? 'interrupted' : 'completed',
      endedAt: new Date().toISOString(),
      counts: summary.rows,
    });
    if (stops) {
      if (stops.signal.aborted && !(stops.signal.reason instanceof LockLostError))
        log.warn(
          { stopResults: stops.url, reason: (stops.signal.reason as Error).message },
          'stopped: checkpoints could not be written to S3',
        );
      // A signal that already stopped the stop leaves the upload to finish; one that comes during it stops it.
      await stops.finish(!summary.interrupted, log, signal?.aborted ? undefined : signal);
    }
    if (summary.interrupted || summary.rows.failed > 0)
      summary.next = `${nextCommand(input, config, stopAt === byDefault ? undefined : stopAt)}${summary.interrupted ? ' --resume' : ''}`;
    return summary;
  } catch (err) {
    // Rows recorded before the error still go to S3 where they can.
    await stops?.salvage();
    throw err;
  } finally {
    for (const lock of locks.reverse()) await lock.release();
  }
}

function record(
  writer: StopWriter,
  summary: StopSummary,
  row: Candidate,
  result: Omit<StopRow, 'line' | 'contactId'>,
): void {
  writer.write({ line: row.line, contactId: row.contactId, ...result });
  summary.rows[result.status]++;
  if (result.errorCode && result.status === 'failed')
    summary.errors[result.errorCode] = (summary.errors[result.errorCode] ?? 0) + 1;
}

function rowOf(outcome: StopOutcome, attempts: number): Omit<StopRow, 'line' | 'contactId'> {
  if (outcome.kind === 'stopped') return { status: 'stopped', attempts };
  if (outcome.kind === 'already-ended')
    return { status: 'already-ended', attempts, errorCode: outcome.code, errorMessage: outcome.message };
  return { status: 'failed', attempts, errorCode: outcome.code, errorMessage: outcome.message };
}

/** `stop <input>` again: with the S3 endpoint when S3 is read or written, and a stop file not at its default. */
function nextCommand(input: string, config: RunConfig, results?: string): string {
  const s3 = isS3Url(input) || (results !== undefined && isS3Url(results));
  return commandLine(
    'stop',
    input,
    s3 ? { s3Endpoint: config.get('s3Endpoint') } : {},
    results === undefined ? {} : { results },
  );
}

function target(config: RunConfig): Pick<StopState, 'endpoint' | 'region' | 'instanceId'> {
  const endpoint = config.get('endpoint');
  return {
    ...(endpoint ? { endpoint: normaliseUrl(endpoint) } : {}),
    ...(config.get('region') ? { region: config.get('region') } : {}),
    ...(config.get('instanceId') ? { instanceId: config.get('instanceId') } : {}),
  };
}

/**
 * The tasks of a results file live where its run created them: a stop sent elsewhere would stop
 * nothing (or, worse, the same ids elsewhere). Refuses an endpoint, Region or instance other than the
 * run's, with the command that sends where the run did.
 */
function checkTarget(input: string, run: RunState, config: RunConfig): void {
  const now = target(config);
  const diffs: string[] = [];
  const was = run.identity;
  if ((was.endpoint ?? undefined) !== now.endpoint)
    diffs.push(
      `endpoint: the run sent to ${was.endpoint ?? "the Region's AWS endpoint"}; you asked for ${now.endpoint ?? "the Region's AWS endpoint"} (${config.from('endpoint')})`,
    );
  if (was.region !== now.region)
    diffs.push(
      `Region: the run sent to ${was.region ?? '(none recorded)'}; you asked for ${now.region ?? '(none)'} (${config.from('region')})`,
    );
  if (was.instanceId !== undefined && was.instanceId !== now.instanceId)
    diffs.push(
      `instance: the run sent to ${was.instanceId}; you asked for ${now.instanceId ?? '(none)'} (${config.from('instanceId')})`,
    );
  if (!diffs.length) return;
  const way = nextCommand(input, config);
  const flagsOfRun = [
    was.endpoint ? `--endpoint ${was.endpoint}` : '',
    was.region ? `--region ${was.region}` : '',
    was.instanceId ? `--instance-id ${was.instanceId}` : '',
  ].filter(Boolean);
  throw new UsageError(
    [
      `${input} records tasks created elsewhere than where this stop would send:`,
      ...diffs.map((d) => `  - ${d}`),
      'Its ContactIds name tasks of that instance only. To stop them, send where the run did (unset the ' +
        'variable or flag that says otherwise):',
      `  ${way} ${flagsOfRun.join(' ')}`.trimEnd(),
    ].join('\n'),
  );
}

/** The created rows of the results file, and those the selection chooses (input line order). */
async function candidates(
  resultsPath: string,
  run: RunState,
  config: RunConfig,
): Promise<{ created: number; rows: Candidate[] }> {
  const lines = config.get('lines');
  const whereText = config.get('where');
  const conditions = whereText === undefined ? undefined : await parseWhere(whereText, config.from('where'));
  const parser = createReadStream(resultsPath).pipe(
    parse({ bom: true, relax_column_count: true, skip_empty_lines: true }),
  );
  let header: string[] | undefined;
  let at = { line: -1, status: -1, contact: -1, instance: -1 };
  let filter: ReturnType<typeof compileFilter> | undefined;
  let created = 0;
  const rows: Candidate[] = [];
  const seen = new Set<string>();
  /** The record being read, from 1 (the header). */
  let n = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      n++;
      if (!header) {
        header = record;
        at = {
          line: header.indexOf(LINE),
          status: header.indexOf(STATUS),
          contact: header.indexOf(CONTACT),
          instance: header.indexOf('InstanceId'),
        };
        if (at.line < 0 || at.status < 0 || at.contact < 0)
          throw new UsageError(
            `${resultsPath} is not a results file of this tool: it lacks ${LINE}, ${STATUS} or ${CONTACT}`,
          );
        if (conditions)
          filter = compileFilter(conditions, header, { name: 'where', header: "the results file's header" });
        continue;
      }
      if (record[at.status] !== 'created') continue;
      created++;
      const line = Number(record[at.line]);
      // A line number a hand edit spoiled ("1,000", empty) would be recorded under no line a later stop knows.
      if (!Number.isInteger(line) || line < 1)
        throw new UsageError(
          `${resultsPath}: record ${n} (the header is record 1) is a created row whose ${LINE} is not an input ` +
            'line number: put back the number its run wrote; nothing is stopped',
        );
      if (lines && !lines.some(([a, b]) => line >= a && line <= b)) continue;
      if (filter && filter.exclude(header.map((_, i) => record[i] ?? '')) !== undefined) continue;
      const instanceId = (at.instance >= 0 ? record[at.instance] : '') || run.identity.instanceId || '';
      const contactId = record[at.contact] ?? '';
      // A row repeated (a file appended to itself, a ContactId pasted on another row) names a task once: one stop.
      const key = `${instanceId}/${contactId}`;
      if (contactId && seen.has(key)) continue;
      seen.add(key);
      rows.push({ line, contactId, instanceId });
    }
  } catch (err) {
    // csv-parse's own message may quote the cell (customer data): the file, the line and the code only.
    if (!(err instanceof CsvError)) throw err;
    throw new UsageError(
      `${resultsPath} is not a readable results file: broken CSV at line ${err.lines ?? '?'} (${err.code}); fix that ` +
        'row (or pass the file as its run left it): nothing is stopped',
    );
  }
  return { created, rows };
}

async function parseWhere(text: string, from: string): Promise<Condition[]> {
  let json = text;
  if (text.startsWith('@')) {
    const { readFile } = await import('node:fs/promises');
    json = await readFile(text.slice(1), 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`${from}: cannot read ${text.slice(1)}: ${err.code ?? String(err)}`);
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new UsageError(
      `${from} must be JSON: a condition such as {"column": "Ticket Status", "equals": "Open"}, or a list of them`,
    );
  }
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((c) => c !== null && typeof c === 'object' && !Array.isArray(c)))
    throw new UsageError(`${from} must be a condition object or a list of them`);
  return list as Condition[];
}

/** Sorted line numbers as inclusive ranges. */
export function ranges(lines: number[]): LineRange[] {
  const sorted = [...lines].sort((a, b) => a - b);
  const out: LineRange[] = [];
  for (const n of sorted) {
    const last = out.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else if (!last || n > last[1]) out.push([n, n]);
  }
  return out;
}

/** The operator's summary of a stop: counts, the lines (for a dry run), errors by code, the next command. */
export function formatStopSummary(s: StopSummary): string {
  const text = (r: LineRange[]) => {
    const parts = r.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
    return parts.length > 20
      ? `${parts.slice(0, 20).join(',')},… (${parts.length} ranges)`
      : parts.join(',') || '(none)';
  };
  const lines = [
    `Results:   ${s.results}`,
    `Created:   ${s.created} rows; chosen ${s.selected}${s.alreadyDone ? `, of which ${s.alreadyDone} already done by an earlier stop` : ''}`,
  ];
  if (s.dryRun) {
    lines.push(
      `Would stop: ${s.selected - s.alreadyDone} tasks (dry run: nothing sent)`,
      `Lines:     ${text(s.lines)}`,
    );
    return lines.join('\n');
  }
  lines.push(
    `Stops:     ${s.stopResults}`,
    `Stopped:   ${s.rows.stopped} · already ended ${s.rows['already-ended']} · failed ${s.rows.failed}` +
      `${s.rows.skipped ? ` · skipped ${s.rows.skipped}` : ''}`,
    `Requests:  ${s.requests} (throttled ${s.throttled})`,
  );
  for (const [code, n] of Object.entries(s.errors)) lines.push(`  ${code}: ${n}`);
  if (s.fatalError) lines.push(`Stopped:   ${s.fatalError} (every other stop would meet it too). Fix the cause first.`);
  if (s.interrupted) lines.push('Interrupted: run the same command again with --resume to finish.');
  if (s.next) lines.push(`Next:      ${s.next}`);
  return lines.join('\n');
}
