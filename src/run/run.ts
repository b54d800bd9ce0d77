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
import { readLedger, type Ledger } from '../ledger/reader.js';
import { acquireLock } from '../ledger/lock.js';
import { pipeline } from './pipeline.js';
import { withQuota } from '../quota/auto.js';
import { rerunResultsPath } from '../ledger/writer.js';
import { shardResultsPath } from './shard.js';
import { readState, sha256File, statePath, writeState, type RunState } from '../ledger/state.js';
import { silent, type RerunOptions, type RunOptions } from './options.js';
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
  const log = given.logger ?? silent;
  // --rate auto: the account's applied quota, read once before anything else is decided.
  const options = await withQuota(given, log);
  if (options.input !== '-') {
    await access(options.input).catch((err: NodeJS.ErrnoException) => {
      throw new InputError(`cannot read ${options.input}: ${err.code ?? String(err)}`, { cause: err });
    });
  }
  const inputSha = options.input === '-' ? undefined : await sha256File(options.input).catch(() => undefined);
  const resultsPath = options.results ?? (rerun ? rerunResultsPath(options.input) : shardResultsPath(options.input, options.shard));
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
    const summary = await pipeline(options, { settings, job, tokenNamespace, resultsPath, ledger, rerun: rerunContext, log }).catch(
      async (err: unknown) => {
        // Refused before a results file was made (a bad header, say): leave no state behind.
        if (!(await exists(resultsPath))) await rm(statePath(resultsPath), { force: true });
        throw err;
      },
    );
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
