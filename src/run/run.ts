/**
 * A run from start to end: resolve settings (flags > the earlier run > job file > defaults), take the
 * results file's lock, decide between a fresh run, a resume and "already done", run the pipeline,
 * record the run's state. `runImport` and `rerunImport` are the library's entry points.
 */
import { access, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { defaultNamespace, resolveSettings, storedOptions } from './config.js';
import { InputError, UsageError } from '../errors.js';
import { loadJobFile } from '../input/job.js';
import { canonicalResultsPath } from '../ledger/files.js';
import { spoolStdin } from '../input/csv/spool.js';
import { readLedger, type Ledger } from '../ledger/reader.js';
import { acquireLock } from '../ledger/lock.js';
import { checkLive } from '../delivery/live.js';
import { pipeline } from './pipeline.js';
import { rerunResultsPath } from '../ledger/writer.js';
import { withQuota } from '../rate/auto.js';
import { shardResultsPath } from '../input/shard.js';
import { checkCoverage } from '../ledger/coverage.js';
import { checkOwnFile, readState, sha256File, statePath, STATE_VERSION, writeState, type RunIdentity, type RunOutcome, type RunState, type StoredOptions } from '../ledger/state.js';
import { differences, RERUN_SKIPS, runIdentity, TARGET_FIELDS } from './identity.js';
import { silent, type Logger, type RerunOptions, type RunOptions } from './options.js';
import { commandLine } from './command-line.js';
import { freshResultsPath, noStateRefusal, otherRunRefusal, rerunSettingsRefusal, unfinishedOriginRefusal } from './refusals.js';
import { checkEndpoint, checkPaths } from './preflight.js';
import type { Summary } from './stats.js';

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

async function execute(given: RunOptions, rerun: { includeInvalid: boolean } | undefined): Promise<Summary> {
  if (given.input !== '-' || rerun) return executeFrom(given, rerun, undefined);
  const spooled = await spoolStdin();
  try {
    return await executeFrom(given, rerun, spooled.path);
  } finally {
    await spooled.remove();
  }
}

/** `source`: where the input's bytes are read from (a spooled copy of standard input), if not `input` itself. */
async function executeFrom(given: RunOptions, rerun: { includeInvalid: boolean } | undefined, source: string | undefined): Promise<Summary> {
  const log = given.logger ?? silent;
  // --rate auto: the account's applied quota, read once before anything else is decided.
  const options = await withQuota(given, log);
  if (options.input !== '-') {
    await access(options.input).catch((err: NodeJS.ErrnoException) => {
      throw new InputError(`cannot read ${options.input}: ${err.code ?? String(err)}`, { cause: err });
    });
  }
  const inputSha = await sha256File(source ?? options.input).catch(() => undefined);
  const requested = options.results ?? (rerun ? rerunResultsPath(options.input) : shardResultsPath(options.input, options.shard));
  await checkPaths(options.input, requested);
  // Symbolic links resolved: every run on one file shares its lock and run state, whatever path names it.
  const resultsPath = await canonicalResultsPath(requested);
  // A rerun sends as the run it reads did: that run's state lends every setting no flag gives. A run
  // takes its settings from its own flags only, and is then compared with what a results file records.
  const origin = rerun ? await rerunOrigin(options) : undefined;
  const stored = origin?.options ?? {};
  const jobPath = typeof options.job === 'string' ? resolve(options.job) : stored.job;
  const job = typeof options.job === 'object' ? options.job : jobPath ? await loadJobFile(jobPath) : {};
  const settings = resolveSettings(options, job, stored);
  const tokenNamespace =
    options.tokenNamespace ?? origin?.identity.tokenNamespace ?? job.tokenNamespace ?? defaultNamespace(options.input, inputSha);
  const identity = await runIdentity({ settings, job, jobPath, inputSha, tokenNamespace, shard: options.shard });
  if (origin) checkRerunSettings(options.input, origin, identity, await freshResultsPath(options.input));
  const current = storedOptions(jobPath, settings);

  checkEndpoint(settings.endpoint);

  const lock = await acquireLock(resultsPath);
  try {
    const found = await existingRun({ options, resultsPath, identity, current, dryRun: settings.dryRun }, log);
    if (found.done) {
      log.info({ results: resultsPath, completedAt: found.done.completedAt }, 'input already processed: nothing to do');
      return alreadyDone(options.input, resultsPath, found.done);
    }
    const state: RunState = {
      version: STATE_VERSION,
      input: options.input === '-' ? '-' : resolve(options.input),
      identity,
      options: current,
      dryRun: settings.dryRun,
      ...(rerun ? { rerunOf: resolve(options.input) } : {}),
      outcome: 'running',
      startedAt: found.previous?.startedAt ?? new Date().toISOString(),
    };
    lock.assertHeld();
    await writeState(resultsPath, state);
    const rerunContext = rerun && { ...rerun, originKnown: true };
    // Losing the lock (a takeover after this run froze) stops the run like a signal, and no write passes it.
    const signal = options.signal ? AbortSignal.any([options.signal, lock.signal]) : lock.signal;
    const summary = await pipeline({ ...options, signal }, { settings, job, tokenNamespace, resultsPath, ledger: found.ledger, rerun: rerunContext, log, guard: lock.assertHeld, source }).catch(
      async (err: unknown) => {
        // Refused before a results file was made (a bad header, say): leave no state behind.
        if (!(await exists(resultsPath))) await rm(statePath(resultsPath), { force: true });
        throw err;
      },
    );
    if (options.checkLive && summary.plan) {
      if (summary.plan.needs.some((n) => n.startsWith('--instance-id'))) throw new UsageError('--check-live needs an instance: pass --instance-id or add an InstanceId column');
      summary.plan.live = await checkLive(summary.plan.named, settings);
    }
    summary.replay = { ...current, tokenNamespace, shard: identity.shard };
    lock.assertHeld();
    const outcome: RunOutcome = summary.inputError ? 'input-broken' : summary.interrupted || summary.fatalError ? 'interrupted' : 'completed';
    await writeState(resultsPath, { ...state, outcome, ...(outcome === 'completed' ? { completedAt: new Date().toISOString() } : {}), rows: summary.rows });
    return summary;
  } finally {
    await lock.release();
  }
}

interface Existing {
  options: RunOptions;
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
async function existingRun(o: Existing, log: Logger): Promise<{ ledger?: Ledger; previous?: RunState; done?: RunState }> {
  const { resultsPath } = o;
  if (!(await exists(resultsPath))) return {};
  await checkOwnFile(resultsPath, 'results file', false);
  const previous = await readState(resultsPath);
  if (!previous) throw noStateRefusal(resultsPath, 'run');
  await checkOwnFile(statePath(resultsPath), 'run state', false);
  if (previous.dryRun) {
    // A dry run's file records nothing sent (so it is never "already done"): the run it prepared,
    // or the next dry run, replaces it — with --resume too.
    log.info({ results: resultsPath }, 'replacing the results of a dry run');
    await rm(resultsPath);
    return {};
  }
  if (o.dryRun) throw new UsageError(`${resultsPath} is the record of a real run: a dry run never writes into it. Pass another --results for the dry run`);
  const diffs = differences(previous, o.identity);
  if (diffs.length) {
    // The printed commands carry this run's token namespace and shard: a row whose request is unchanged
    // keeps its ClientToken only under the same namespace.
    const current = { ...o.current, tokenNamespace: o.identity.tokenNamespace, shard: o.identity.shard };
    throw otherRunRefusal({ resultsPath, input: o.options.input, previous, diffs, current, freshResults: await freshResultsPath(resultsPath) });
  }
  if (previous.outcome === 'completed') {
    // "Already done" only while the file still holds what the run recorded: a row deleted or a
    // status changed since would otherwise never be sent, and the next night would report success.
    const again = commandLine('run', previous.input, { ...previous.options, results: await freshResultsPath(resultsPath), tokenNamespace: previous.identity.tokenNamespace, shard: previous.identity.shard });
    checkCoverage(await readLedger(resultsPath, { repair: false }), resultsPath, previous.rows?.total, `Restore the file as the run wrote it, or send the input again into a new results file that keeps the run's token namespace (rows already created are recognised and not created twice):\n  ${again}`);
    return { done: previous };
  }
  if (!o.options.resume) {
    throw new UsageError(`results file ${resultsPath} already exists: add --resume to continue that run, or pass another --results`);
  }
  await checkOwnFile(resultsPath, 'results file', true);
  const ledger = await readLedger(resultsPath);
  if (ledger.repairedBytes) log.warn({ results: resultsPath, line: ledger.repairedLine, bytes: ledger.repairedBytes }, 'repaired a torn last row of the results file');
  log.info({ results: resultsPath, final: ledger.final.size }, 'resuming: rows already final are skipped');
  return { ledger, previous };
}

/** The run a rerun sends again: recorded by this tool, finished, and its results file still whole. */
async function rerunOrigin(options: RunOptions): Promise<RunState> {
  if (options.encoding !== undefined || options.delimiter !== undefined) {
    throw new UsageError('rerun reads a results file, which is always UTF-8 and comma-separated: --encoding and --delimiter apply only to the input of run and validate');
  }
  if (options.input === '-') throw noStateRefusal('standard input', 'rerun');
  // A rerun reads a results file: refuse a torn or hand-broken one before anything is decided from it.
  const ledger = await readLedger(options.input, { repair: false });
  const origin = await readState(await canonicalResultsPath(options.input));
  if (!origin) throw noStateRefusal(options.input, 'rerun');
  await checkOwnFile(statePath(options.input), 'run state', false);
  if (origin.outcome !== 'completed') throw unfinishedOriginRefusal(options.input, origin);
  const again = commandLine('run', origin.input, { ...origin.options, results: await freshResultsPath(options.input), tokenNamespace: origin.identity.tokenNamespace, shard: origin.identity.shard });
  checkCoverage(ledger, options.input, origin.rows?.total, `Restore the file as the run wrote it, or send the input again in a new run that keeps the run's token namespace (rows already created are recognised and not created twice):\n  ${again}`);
  return origin;
}

/** A rerun may not change what the run it reads sent, nor where (unless that was a dry run, which sent nothing). */
function checkRerunSettings(resultsPath: string, origin: RunState, identity: RunIdentity, freshResults: string): void {
  // The results file's own checksum, encoding and delimiter are this rerun's; the original input's are recorded.
  identity.encoding = origin.identity.encoding;
  identity.delimiter = origin.identity.delimiter;
  const diffs = differences(origin, identity, [...RERUN_SKIPS, ...(origin.dryRun ? TARGET_FIELDS : [])]);
  if (diffs.length) throw rerunSettingsRefusal(resultsPath, origin, diffs, freshResults);
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
