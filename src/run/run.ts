/**
 * A run from start to end: resolve its settings once (config/resolve.ts: flags > environment > the
 * earlier run > job file > defaults), take the results file's lock, decide between a fresh run, a
 * resume and "already done", run the pipeline, record the run's state. `runImport`, `validateImport`
 * and `rerunImport` are the library's entry points.
 */
import { access, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { commandLine } from '../config/command-line.js';
import { RunConfig, resolveConfig, type Settings } from '../config/resolve.js';
import { type CommandName, KEPT_KEYS } from '../config/settings.js';
import { checkLive, liveReady } from '../delivery/live.js';
import { InputError, LockLostError, UsageError } from '../errors.js';
import { type ObjectInput, type ObjectInputOptions, openObjectInput } from '../input/object.js';
import { checkCoverage } from '../ledger/coverage.js';
import { canonicalResultsPath, checkOutputPath, freshResultsPath } from '../ledger/files.js';
import { acquireLock } from '../ledger/lock.js';
import { checkOutput, PROMETHEUS_TEXT } from '../ledger/outputs.js';
import { type Ledger, readLedger } from '../ledger/reader.js';
import { RemoteResults } from '../ledger/remote.js';
import { openPipe, spoolStdin } from '../ledger/spool.js';
import {
  checkOwnFile,
  RUNS_KEPT,
  type RunEntry,
  type RunIdentity,
  type RunOutcome,
  type RunState,
  readState,
  STATE_VERSION,
  type StoredOptions,
  sha256File,
  statePath,
  writeState,
} from '../ledger/state.js';
import { rerunResultsPath, runResultsPath } from '../ledger/writer.js';
import { type MetricsEnd, MetricsFile } from '../observe/metrics.js';
import { readQuota } from '../rate/auto.js';
import { createS3Client } from '../s3/client.js';
import { isS3Url } from '../s3/url.js';
import { differences, RERUN_SKIPS, runIdentity, TARGET_FIELDS } from './identity.js';
import { type Logger, type RerunOptions, type RunHooks, type RunOptions, silent } from './options.js';
import { countRecords, pipeline } from './pipeline.js';
import { checkPaths } from './preflight.js';
import { noStateRefusal, otherRunRefusal, rerunSettingsRefusal, unfinishedOriginRefusal } from './refusals.js';
import { newRunId, withRunId } from './run-id.js';
import { outcomeOf, type Summary } from './summary.js';
import { awsTarget, s3Target } from './wiring.js';

/** Imports `options.input`: one results row per record (a dry run with `dryRun`). */
export function runImport(options: RunOptions): Promise<Summary> {
  return execute(options.checkLive ? 'validate' : 'run', options);
}

/** Maps and validates every record and writes the results file as planned; sends nothing (`validate`). */
export function validateImport(options: RunOptions): Promise<Summary> {
  return execute('validate', options);
}

/**
 * Reads a results file (`options.input`) and sends again its `failed` rows (and `invalid` ones with
 * `includeInvalid`). A row that was sent keeps the ClientToken it was sent with, even if its cells
 * changed since (so it cannot become a second task); a row never sent gets its content's. Rows that succeeded
 * are copied, not sent. Writes a new results file (`x.results.rerun-1.csv` by default) whose
 * `Result.Line` still points into the original input.
 */
export function rerunImport(options: RerunOptions): Promise<Summary> {
  return execute('rerun', options);
}

async function execute(command: CommandName, given: RerunOptions): Promise<Summary> {
  // Standard input, or a named pipe (`<(zcat x.gz)`), can be read only once: copied first, it has a
  // checksum like any file and is read from the copy.
  const pipe =
    given.input !== '-' &&
    command !== 'rerun' &&
    (await stat(given.input).then(
      (st) => !st.isFile() && !st.isDirectory(),
      () => false,
    ));
  if ((given.input !== '-' && !pipe) || command === 'rerun') return executeFrom(command, given, undefined);
  const spooled = await spoolStdin(
    pipe ? openPipe(given.input) : (given.stdin ?? process.stdin),
    given.signal,
    pipe ? given.input : 'standard input',
  );
  try {
    return await executeFrom(command, given, spooled.path);
  } finally {
    await spooled.remove();
  }
}

/** `source`: where the input's bytes are read from (a spooled copy of standard input), if not `input` itself. */
async function executeFrom(command: CommandName, given: RerunOptions, source: string | undefined): Promise<Summary> {
  // The library's one read of the environment; everything below reads the resolved config.
  const {
    input,
    job,
    env = process.env,
    sender,
    logger: _logger,
    onProgress,
    signal,
    outputs = [],
    stdin: _stdin,
    capacityProbeMs,
    ...flags
  } = given;
  // One id for everything this run writes, its log lines first: given (a scheduler's), or new.
  const runId =
    RunConfig.layered({ command, input, flags: flags as Settings, env }, {}, undefined, undefined).get('runId') ??
    newRunId();
  const tagged = withRunId(given.logger ?? silent, runId);
  if (command === 'rerun' && (flags.encoding !== undefined || flags.delimiter !== undefined)) {
    throw new UsageError(
      'rerun reads a results file, which is always UTF-8 and comma-separated: --encoding and --delimiter apply ' +
        'only to the input of run and validate',
    );
  }
  const objectUrl = isS3Url(input) && command !== 'rerun' ? input : undefined;
  if (input !== '-' && !isS3Url(input)) {
    await access(input).catch((err: NodeJS.ErrnoException) => {
      if (/^https?:\/\//i.test(input))
        throw new InputError(
          `${input} is a web address: the input is a file, - (standard input) or s3://bucket/key. Name an S3 ` +
            'object as s3://bucket/key (read with your AWS credentials); download any other address first',
          { cause: err },
        );
      throw new InputError(`cannot read ${input}: ${err.code ?? String(err)}`, { cause: err });
    });
  }
  const inputSha = isS3Url(input) ? undefined : await sha256File(source ?? input).catch(() => undefined);
  let resultsPath = '';
  let origin: RunState | undefined;
  /** The run a results file already there recorded (an S3 input's version and checksum are read from it). */
  let recorded: RunState | undefined;
  let object: ObjectInput | undefined;
  /** The checksum of the results object a rerun reads (its working copy): how merge finds the file it reran. */
  let rerunSha: string | undefined;
  let s3: S3Client | undefined;
  const client = (c: RunConfig) => (s3 ??= createS3Client(s3Target(c)));
  /** Results in S3 (worked on in a local copy), and a rerun's results file read from S3. */
  let remote: RemoteResults | undefined;
  let remoteInput: RemoteResults | undefined;
  // Messages, logs and the summary name the S3 objects, never the working copies standing for them.
  const names = (text: string) => [remote, remoteInput].reduce((t, r) => r?.names(t) ?? t, text);
  const log = renaming(tagged, names);
  try {
    const config = await resolveConfig(
      {
        command,
        input,
        flags: { ...(flags as Settings), job: typeof job === 'string' ? job : undefined, runId },
        env,
        job: typeof job === 'object' ? job : undefined,
      },
      {
        inputSha256: objectUrl
          ? async (c) => {
              object = await openObjectInput(
                client(c),
                objectUrl,
                objectReading(objectUrl, recorded, c.get('resume') === true, signal),
              );
              return object.sha256;
            }
          : isS3Url(input)
            ? async () => (rerunSha = remoteInput ? await sha256File(remoteInput.local) : undefined)
            : inputSha,
        readQuota: (c) =>
          readQuota({ endpoint: c.get('endpoint'), region: c.get('region'), profile: c.get('profile'), log }),
        // A rerun sends as the run it reads did, and a resume continues its run: that run's state lends
        // every setting no flag or environment variable gives. A fresh run takes nothing from it: it is
        // compared with what a results file records.
        earlier: async (first) => {
          const requested =
            command === 'rerun'
              ? (first.get('results') ?? rerunResultsPath(input))
              : runResultsPath(first.get('results'), input, first.shard);
          // Else refused as another run's record, with the advice to import the results file as an input.
          if (command === 'rerun' && (isS3Url(input) ? requested === input : resolve(requested) === resolve(input)))
            throw new UsageError(
              `rerun ${input} --results ${requested}: a rerun writes a results file of its own, never the one it ` +
                `reads. Leave --results out (${rerunResultsPath(input)}), or name another file`,
            );
          if (isS3Url(requested)) {
            // One run at a time (the lease), then the working copy as S3 holds it.
            remote = await RemoteResults.open(client(first), requested, '--results', signal);
            await remote.take();
            await remote.pull();
            await checkPaths(input, remote.local);
            resultsPath = remote.local;
          } else {
            await checkPaths(input, requested);
            // Symbolic links resolved: every run on one file shares its lock and run state, whatever path names it.
            resultsPath = await canonicalResultsPath(requested);
          }
          if (isS3Url(input)) recorded = await readState(resultsPath).catch(() => undefined);
          if (command === 'rerun') {
            if (isS3Url(input)) {
              // A resumed rerun reads the results object it started from: the same bytes, or a refusal.
              const was = first.get('resume') && recorded?.input === input ? recorded.identity.inputObject : undefined;
              remoteInput = await RemoteResults.open(client(first), input, 'rerun', signal);
              await remoteInput.pull(was);
              remoteInput.assertFound();
            }
            origin = await rerunOrigin(remoteInput?.local ?? input);
            return origin.options;
          }
          return first.get('resume') ? earlierRun(resultsPath) : undefined;
        },
      },
    );
    if (config.get('checkLive')) await liveReady(awsTarget(config));
    for (const output of outputs)
      await checkOutputPath(output.path, output.flag, input, resultsPath, config.get('job'));
    const metricsPath = config.get('metricsFile');
    if (metricsPath) await checkMetricsPath(metricsPath, config, resultsPath, outputs, log);
    const identity = runIdentity(
      config,
      object?.sha256 ?? inputSha ?? rerunSha,
      object
        ? { ...(object.version.versionId ? { versionId: object.version.versionId } : {}), etag: object.version.etag }
        : remoteInput?.version,
    );
    if (origin) checkRerunSettings(input, origin, identity, config, freshResultsPath(input));
    const reading = object?.source ?? remoteInput?.local ?? source;
    const sourceName = remoteInput ? input : source !== undefined ? 'standard input' : undefined;
    // A rerun reads a results file, not the input: how the input was read and which shard of it are its run's.
    const current = origin
      ? { ...pick(origin.options, ['encoding', 'delimiter', 'shard']), ...keptSettings(config) }
      : keptSettings(config);
    const dryRun = config.dryRun;
    const hooks: RunHooks = { sender, log, onProgress, signal, capacityProbeMs };

    const lock = await acquireLock(resultsPath, {
      signal,
      onWait: (holder, ms) =>
        log.warn(
          { results: resultsPath, holder, waitSeconds: Math.ceil(ms / 1000) },
          'another run holds the results file and has not been heard from: waiting until its lock may be taken over',
        ),
    });
    let metrics: MetricsFile | undefined;
    let started = false;
    try {
      const found = await existingRun({ config, resultsPath, identity, current, dryRun }, log);
      // Written only by a run that got this far: a refused run (another run holds the lock, or the
      // file is another run's record) leaves the figures of the run it found.
      metrics = metricsPath
        ? await MetricsFile.open({
            path: metricsPath,
            runId,
            input,
            command,
            ceiling: config.rate,
            log,
            guard: () => lock.assertHeld(),
          })
        : undefined;
      if (found.done) {
        log.info(
          { results: resultsPath, completedAt: found.done.completedAt },
          'input already processed: nothing to do',
        );
        const summary = alreadyDone(runId, input, resultsPath, found.done);
        await remote?.tidy(log);
        await metrics?.finish(doneMetrics(summary, found.done));
        // Its Next line carries the AWS target (and S3 endpoint) the run recorded, as the report's does.
        return renamed({ ...summary, replay: found.done.options }, names);
      }
      const thisRun: RunEntry = { runId, startedAt: new Date().toISOString(), outcome: 'running' };
      const state: RunState = {
        version: STATE_VERSION,
        input: input === '-' || isS3Url(input) ? input : resolve(input),
        identity,
        options: current,
        dryRun,
        ...(origin ? { rerunOf: isS3Url(input) ? input : resolve(input) } : {}),
        outcome: 'running',
        startedAt: found.previous?.startedAt ?? thisRun.startedAt,
        runs: [...(found.previous?.runs ?? []), thisRun].slice(-RUNS_KEPT),
      };
      // Written once the run is known to start (header read, Region and credentials ready): a refused
      // run leaves the file it found — a dry run's, an interrupted run's — as it was.
      const start = async () => {
        lock.assertHeld();
        remote?.assertHeld();
        if (found.replaces) await rm(resultsPath, { force: true });
        await writeState(resultsPath, state);
        started = true;
        // In S3 before any request: a run that dies from here on is resumed, never started afresh.
        await remote?.started(!found.ledger);
      };
      // Losing the lock or lease (a takeover after this run froze), or S3 refusing checkpoints, stops the
      // run like a signal, and no write passes a lost lock or lease.
      const stop = AbortSignal.any([...(signal ? [signal] : []), lock.signal, ...(remote ? [remote.signal] : [])]);
      const guard = remote
        ? (recentMs?: number) => {
            lock.assertHeld(recentMs);
            remote!.assertHeld();
          }
        : lock.assertHeld;
      const summary = await pipeline(
        config,
        { ...hooks, signal: stop },
        {
          resultsPath,
          ledger: found.ledger,
          rerun: origin && { includeInvalid: config.get('includeInvalid') ?? false, changed: { rows: 0 } },
          guard,
          source: reading,
          ...(sourceName ? { sourceName } : {}),
          start,
          metrics,
          ...(remote
            ? { opened: (bytes: () => number) => remote!.opened(bytes, config.get('checkpointSeconds')! * 1000) }
            : {}),
        },
      ).catch(async (err: unknown) => {
        // Refused after the state was written but before a results file was made: leave no state behind.
        if (started && !(await exists(resultsPath))) {
          await rm(statePath(resultsPath), { force: true });
          started = false;
        }
        // Rows recorded before the error still go to S3 where they can.
        else if (started) await remote?.salvage();
        throw err;
      });
      // An S3 input that stopped answering is not read again just to count its rows.
      if (summary.interrupted && !summary.inputError && !(object && summary.unreachable))
        summary.inputRows = await countRecords(config, reading, Boolean(origin));
      if (config.get('checkLive') && summary.plan) {
        if (summary.plan.needs.some((n) => n.startsWith('--instance-id')))
          throw new UsageError('--check-live needs an instance: pass --instance-id or add an InstanceId column');
        summary.plan.live = await checkLive(summary.plan.named, awsTarget(config));
      }
      summary.replay = current;
      lock.assertHeld();
      const outcome: RunOutcome = summary.inputError
        ? 'input-broken'
        : summary.interrupted || summary.fatalError
          ? 'interrupted'
          : 'completed';
      const endedAt = new Date().toISOString();
      await writeState(resultsPath, {
        ...state,
        outcome,
        ...(outcome === 'completed' ? { completedAt: endedAt } : {}),
        ...(summary.plan?.needs.length ? { needs: summary.plan.needs } : {}),
        ...(summary.failureLimit ? { failureLimit: summary.failureLimit } : {}),
        rows: summary.rows,
        runs: [...state.runs!.slice(0, -1), { ...thisRun, endedAt, outcome }],
      });
      if (remote) {
        if (remote.signal.aborted && !(remote.signal.reason instanceof LockLostError))
          log.warn(
            { results: remote.url, reason: (remote.signal.reason as Error).message },
            'stopped: checkpoints could not be written to S3',
          );
        // A signal that already stopped the run leaves the upload to finish; one that comes during it stops it.
        await remote.finish(outcome === 'completed', log, signal?.aborted ? undefined : signal);
      }
      await metrics?.finish(endMetrics(summary));
      return renamed(summary, names);
    } finally {
      // A run that started and did not return its summary failed (its results file could not be
      // written, a bug): its metrics say so. After a summary's last write this writes nothing.
      if (started) await metrics?.finish({ outcome: 'error' });
      await lock.release();
    }
  } catch (err) {
    if (err instanceof Error) err.message = names(err.message);
    throw err;
  } finally {
    await remote?.close();
    await remoteInput?.close();
    s3?.destroy();
  }
}

/**
 * A logger whose lines name S3 objects instead of the working copies standing for them: the strings of
 * a line's fields and of the objects in them (a summary), copied only where one names a working copy.
 */
function renaming(log: Logger, names: (text: string) => string): Logger {
  const value = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return names(v);
    if (depth === 0 || v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    let copy: Record<string, unknown> | undefined;
    for (const [k, inner] of Object.entries(v)) {
      const mapped = value(inner, depth - 1);
      if (mapped !== inner) (copy ??= { ...(v as Record<string, unknown>) })[k] = mapped;
    }
    return copy ?? v;
  };
  const map = (o: object) => value(o, 2) as object;
  return {
    info: (o, msg) => log.info(map(o), msg),
    warn: (o, msg) => log.warn(map(o), msg),
    debug: (o, msg) => log.debug(map(o), msg),
  };
}

/** The summary naming S3 objects; its other parts (a dry run's plan) are left as they are. */
function renamed(summary: Summary, names: (text: string) => string): Summary {
  const out = { ...summary, input: names(summary.input), results: names(summary.results) };
  for (const key of ['rerunOf', 'inputError', 'fatalError', 'unreachable'] as const)
    if (out[key] !== undefined) out[key] = names(out[key]);
  return out;
}

/**
 * How an S3 input is read: on --resume, the version the run recorded (the same bytes, or a refusal);
 * otherwise the current one, whose checksum the record already holds when it is that same version.
 */
function objectReading(
  url: string,
  recorded: RunState | undefined,
  resume: boolean,
  signal: AbortSignal | undefined,
): ObjectInputOptions {
  const mine = recorded && recorded.input === url && !recorded.dryRun ? recorded.identity : undefined;
  const was = mine?.inputObject;
  return {
    ...(resume && was ? { pin: was } : {}),
    knownSha256: (now) =>
      was &&
      mine.inputSha256 &&
      (now.versionId || was.versionId ? now.versionId === was.versionId : now.etag === was.etag)
        ? mine.inputSha256
        : undefined,
    ...(signal ? { signal } : {}),
  };
}

/**
 * What a resumed or rerun run keeps from this one: its resolved values of the kept settings, less
 * defaults (a default is no choice: a job file edited since, or the environment, may give another).
 */
function keptSettings(config: RunConfig): StoredOptions {
  const kept: Record<string, unknown> = {};
  for (const key of KEPT_KEYS)
    if (config.get(key) !== undefined && config.origin(key)?.kind !== 'default') kept[key] = config.get(key);
  return kept as StoredOptions;
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Pick<T, K>;
}

/** The settings of the run a --resume continues: a real run's recorded ones (a dry run lends none). */
async function earlierRun(resultsPath: string): Promise<Settings | undefined> {
  const state = await readState(resultsPath).catch(() => undefined);
  return state && !state.dryRun ? state.options : undefined;
}

interface Existing {
  config: RunConfig;
  resultsPath: string;
  identity: RunIdentity;
  current: StoredOptions;
  dryRun: boolean;
}

/**
 * What a results file already there means for this run: nothing (none, or a dry run's, which is
 * replaced), this very run already completed, or this run interrupted (resumed). Anything else —
 * no run state, another user's file, the record of another run — is refused, saying the way on.
 */
async function existingRun(
  o: Existing,
  log: Logger,
): Promise<{ ledger?: Ledger; previous?: RunState; done?: RunState; replaces?: true }> {
  const { resultsPath } = o;
  if (!(await exists(resultsPath))) return {};
  await checkOwnFile(resultsPath, 'results file', false);
  const previous = await readState(resultsPath);
  if (!previous) throw noStateRefusal(resultsPath, 'run');
  await checkOwnFile(statePath(resultsPath), 'run state', false);
  if (previous.dryRun) {
    // A dry run's file records nothing sent (so it is never "already done"): the run it prepared,
    // or the next dry run, replaces it — with --resume too — once that run is known to start.
    log.info({ results: resultsPath }, 'replacing the results of a dry run');
    return { replaces: true };
  }
  if (o.dryRun)
    throw new UsageError(
      `${resultsPath} is the record of a real run: a dry run never writes into it. Pass another --results for ` +
        `the dry run`,
    );
  const diffs = differences(previous, o.identity, [], o.config);
  if (diffs.length) {
    throw otherRunRefusal({
      resultsPath,
      input: o.config.input,
      previous,
      diffs,
      current: o.current,
      freshResults: freshResultsPath(resultsPath),
    });
  }
  if (previous.outcome === 'completed') {
    // "Already done" only while the file still holds what the run recorded: a row deleted or a
    // status changed since would otherwise never be sent, and the next night would report success.
    const again = commandLine('run', previous.input, previous.options, { results: freshResultsPath(resultsPath) });
    checkCoverage(
      await readLedger(resultsPath, { repair: false }),
      resultsPath,
      previous.rows?.total,
      `Restore the file as the run wrote it, or send the input again into a new results file that keeps the ` +
        `run's token namespace (rows already created are recognised and not created twice):\n  ${again}`,
    );
    return { done: previous };
  }
  if (!o.config.get('resume')) {
    throw new UsageError(
      `results file ${resultsPath} already exists: add --resume to continue that run, or pass another --results`,
    );
  }
  await checkOwnFile(resultsPath, 'results file', true);
  const ledger = await readLedger(resultsPath);
  if (ledger.repairedBytes)
    log.warn(
      { results: resultsPath, line: ledger.repairedLine, bytes: ledger.repairedBytes },
      'repaired a torn last row of the results file',
    );
  log.info({ results: resultsPath, final: ledger.final.size }, 'resuming: rows already final are skipped');
  return { ledger, previous };
}

/** The run a rerun sends again: recorded by this tool, finished, and its results file still whole. */
async function rerunOrigin(input: string): Promise<RunState> {
  if (input === '-') throw noStateRefusal('standard input', 'rerun');
  const options = { input };
  // A rerun reads a results file: refuse a torn or hand-broken one before anything is decided from it.
  const ledger = await readLedger(options.input, { repair: false });
  const origin = await readState(await canonicalResultsPath(options.input));
  if (!origin) throw noStateRefusal(options.input, 'rerun');
  await checkOwnFile(statePath(options.input), 'run state', false);
  if (origin.outcome !== 'completed') throw unfinishedOriginRefusal(options.input, origin);
  const again = commandLine('run', origin.input, origin.options, { results: freshResultsPath(options.input) });
  checkCoverage(
    ledger,
    options.input,
    origin.rows?.total,
    `Restore the file as the run wrote it, or send the input again in a new run that keeps the run's token ` +
      `namespace (rows already created are recognised and not created twice):\n  ${again}`,
  );
  return origin;
}

/** A rerun may not change what the run it reads sent, nor where (unless that was a dry run, which sent nothing). */
function checkRerunSettings(
  resultsPath: string,
  origin: RunState,
  identity: RunIdentity,
  config: RunConfig,
  freshResults: string,
): void {
  // The results file's own checksum, encoding and delimiter are this rerun's; the original input's are
  // recorded, with the shard of it that run took.
  identity.encoding = origin.identity.encoding;
  identity.delimiter = origin.identity.delimiter;
  if (origin.identity.shard) identity.shard = origin.identity.shard;
  else delete identity.shard;
  const diffs = differences(origin, identity, [...RERUN_SKIPS, ...(origin.dryRun ? TARGET_FIELDS : [])], config);
  if (diffs.length) throw rerunSettingsRefusal(resultsPath, origin, diffs, freshResults);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * `--metrics-file`: its path can be written (the folder is there, it is no other file a typo could
 * name, not the input nor a file of the run, not the --summary-json too), checked before anything is sent.
 */
async function checkMetricsPath(
  path: string,
  config: RunConfig,
  resultsPath: string,
  outputs: { path: string; flag: string }[],
  log: Logger,
): Promise<void> {
  const flag = config.from('metricsFile');
  checkOutput(path, flag, PROMETHEUS_TEXT);
  await checkOutputPath(path, flag, config.input, resultsPath, config.get('job'));
  const same = outputs.find((o) => resolve(o.path) === resolve(path));
  if (same) throw new UsageError(`${flag} ${path} is also ${same.flag}: give each its own file`);
  // Another reader may take another name; node_exporter's would never see this file, and no alert would fire.
  if (!path.endsWith('.prom'))
    log.warn(
      { path },
      `${flag} does not end in .prom: node_exporter's textfile collector reads only files that do, so it will not read this one`,
    );
}

/** The last write of the metrics of a run that returned a summary; only one that created every row is a success. */
function endMetrics(summary: Summary): MetricsEnd {
  const outcome = outcomeOf(summary);
  return {
    outcome,
    createdPerSecond: summary.achievedRate,
    latencyMs: summary.latencyMs,
    ...(outcome === 'completed' ? { successAt: Date.now() } : {}),
  };
}

/**
 * The metrics of a run that found its input already done: the rows and outcome of the run that did
 * the work, whose success (if it was one) dates from when it completed, not from now.
 */
function doneMetrics(summary: Summary, done: RunState): MetricsEnd {
  const outcome = outcomeOf(summary);
  const { created, failed, invalid, filtered, planned, total } = summary.rows;
  const completedAt = Date.parse(done.completedAt ?? '');
  return {
    outcome,
    rows: { created, failed, invalid, filtered, planned },
    carried: total,
    createdPerSecond: 0,
    latencyMs: { p50: null, p99: null },
    ...(outcome === 'completed' && Number.isFinite(completedAt) ? { successAt: completedAt } : {}),
  };
}

/** The summary of a run that finds its input already completed into its results file. */
function alreadyDone(runId: string, input: string, results: string, state: RunState): Summary {
  const rows = state.rows ?? { total: 0, created: 0, failed: 0, invalid: 0, filtered: 0, planned: 0, skipped: 0 };
  return {
    runId,
    input,
    results,
    rows: { ...rows, skipped: rows.total },
    requests: 0,
    throttled: 0,
    retries: 0,
    unknownOutcomes: 0,
    errors: {},
    elapsedSeconds: 0,
    targetRate: 0,
    finalRate: 0,
    achievedRate: 0,
    latencyMs: { p50: null, p99: null },
    interrupted: false,
    dryRun: false,
    alreadyDone: state.completedAt,
  };
}
