/**
 * The run's own record beside its results file (`<results>.run.json`, owner-only): the identity of
 * the run — everything that decides what is sent and where (input checksum, endpoint, Region,
 * instance and routing, job-file content, mapping and token settings) — whether it was a dry run,
 * and how it ended. A run compares it before "already done", `--resume` and `rerun`, so that a
 * results file is never taken as the record of a run it is not. It holds no row content.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { notRegular, openRegular, READ, replaceFileAtomically, statePath } from './files.js';

export { statePath };

import { type KeptKey, shard as parseShard, type Values } from '../config/settings.js';
import type { Condition } from '../input/filter.js';
import type { FailureLimitStop, RowCounts } from '../types.js';

/** The settings a resumed or rerun run keeps from the run it continues, as the run resolved them. */
export type StoredOptions = { [K in KeptKey]?: Values[K] };

/**
 * Everything that decides what is sent and where. Two runs with equal identities send the same
 * requests, with the same ClientTokens, to the same place. Values are configuration (ids, URLs,
 * checksums), never row content, so a refusal may name them. A field added here must be given a
 * label in run/identity.ts (the compiler insists), and is then compared everywhere.
 */
export interface RunIdentity {
  /** SHA-256 of the input's bytes as read (compressed bytes for .gz); absent for stdin. */
  inputSha256?: string;
  /**
   * An S3 input's version as the run read it: `--resume` reads exactly that one (its VersionId, or
   * If-Match on its ETag where the bucket keeps no versions). Shown, not compared: the checksum says
   * whether two inputs are the same bytes.
   */
  inputObject?: { versionId?: string; etag: string };
  /** The service endpoint requests go to (normalised URL); absent = AWS's own endpoint. */
  endpoint?: string;
  /** The Region requests are signed for, as the SDK resolves it; absent when none was configured. */
  region?: string;
  instanceId?: string;
  contactFlowId?: string;
  taskTemplateId?: string;
  quickConnectId?: string;
  /** The job file's path (for messages) and the SHA-256 of what in it decides a request. */
  job?: string;
  jobSha256?: string;
  tokenNamespace: string;
  tokenKey?: string[];
  /** How the input was decoded and split (a rerun always reads its results file as UTF-8, comma). */
  encoding: string;
  delimiter: string;
  /** The zone ScheduledTime values written without one are read in (--timezone). */
  timeZone?: string;
  /** `--shard i/n`: the records of the input this run takes. */
  shard?: string;
  /** The job file's `where`, keys sorted: which records are sent (absent: every record). */
  where?: Condition[];
}

/** How a run ended. `running` is what a killed run leaves behind. */
export type RunOutcome = 'running' | 'completed' | 'interrupted' | 'input-broken';

export const STATE_VERSION = 2;

export interface RunState {
  version: typeof STATE_VERSION;
  input: string;
  identity: RunIdentity;
  /** Identity fields an older state did not record: they cannot be compared, only assumed. */
  unrecorded?: (keyof RunIdentity)[];
  options: StoredOptions;
  dryRun: boolean;
  /** For a rerun: the results file it sent again. */
  rerunOf?: string;
  outcome: RunOutcome;
  startedAt: string;
  /** Set when the outcome is `completed`. */
  completedAt?: string;
  /** A dry run's: what a real run would need that it went without (`--instance-id …`). */
  needs?: string[];
  /** Rows in the results file when the run last ended (completed or not). */
  rows?: RowCounts;
  /** Set when the run last ended stopped by its failure limit (its outcome is then `interrupted`). */
  failureLimit?: FailureLimitStop;
  /** Each run that wrote into the results file (the run, then each --resume), oldest first; at most RUNS_KEPT. */
  runs?: RunEntry[];
}

/** One run of a results file: its id (in its log lines and metrics), when it started and ended, and how. */
export interface RunEntry {
  runId: string;
  startedAt: string;
  endedAt?: string;
  outcome: RunOutcome;
}

/** A file resumed every few minutes for weeks keeps its state small: the latest runs are the ones asked about. */
export const RUNS_KEPT = 100;

/** Reads the state beside `resultsPath` (undefined if none), upgrading a version-1 state. Never blocks on a FIFO. */
export async function readState(resultsPath: string): Promise<RunState | undefined> {
  const path = statePath(resultsPath);
  let handle: Awaited<ReturnType<typeof openRegular>>;
  try {
    handle = await openRegular(path, READ, 'run state');
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(await handle.readFile('utf8'));
  } catch (err) {
    if (err instanceof SyntaxError)
      throw new UsageError(`${path} is not a run state of this tool (not JSON): restore it, or pass another --results`);
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  } finally {
    await handle.close();
  }
  const state = json as Omit<Partial<RunState>, 'version'> & { version?: number };
  if (state.version === 1) return withKeptSettings(fromVersion1(json as StateV1));
  if (state.version !== STATE_VERSION || typeof state.identity !== 'object' || typeof state.outcome !== 'string') {
    const newer = typeof state.version === 'number' && state.version > STATE_VERSION;
    throw new UsageError(
      newer
        ? `${path} was written by a newer version of connect-task-loader (run state version ${state.version}): ` +
            `use that version to continue or rerun it`
        : `${path} is not a run state of this tool: pass another --results`,
    );
  }
  return withKeptSettings(state as RunState);
}

/**
 * States written before every kept setting was recorded in `options` (the namespace and shard were
 * in the identity only; an endpoint or Region from the environment nowhere but the identity): the
 * identity supplies them, so that a resume, a rerun and the printed commands keep them.
 */
function withKeptSettings(state: RunState): RunState {
  const { identity } = state;
  const o = { ...state.options };
  o.tokenNamespace ??= identity.tokenNamespace;
  if (o.shard === undefined && identity.shard) o.shard = parseShard(identity.shard);
  o.endpoint ??= identity.endpoint;
  o.region ??= identity.region;
  // Row counts recorded before filters existed have no `filtered`: none were.
  return {
    ...state,
    options: o,
    ...(state.rows ? { rows: { ...state.rows, filtered: state.rows.filtered ?? 0 } } : {}),
  };
}

/**
 * Written whole to a fresh temporary file (owner-only, never through a link) and renamed, so that a
 * crash never leaves half a state.
 */
export async function writeState(resultsPath: string, state: RunState): Promise<void> {
  await replaceFileAtomically(statePath(resultsPath), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Refuses a file this user does not own: a results file or state planted by someone else must not
 * decide what is sent, nor receive customer rows. With `privateOnly`, also one others may read.
 */
export async function checkOwnFile(path: string, what: string, privateOnly: boolean): Promise<void> {
  const st = await stat(path);
  if (!st.isFile()) throw notRegular(path, what);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new UsageError(
      `${what} ${path} belongs to another user (uid ${st.uid}): it was not written by your runs, so it is not ` +
        `used. Pass another --results`,
    );
  }
  if (privateOnly && (st.mode & 0o077) !== 0) {
    throw new UsageError(
      `${what} ${path} can be read by other users (mode ${(st.mode & 0o777).toString(8)}), and it holds ` +
        `customer rows: ` +
        `a run never adds rows to it. If it is yours, make it private (chmod 600 ${path}) and run again`,
    );
  }
}

/** The WHATWG name of an encoding label (`latin1` and `windows-1252` are one encoding); UTF-8 by default. */
export function encodingName(label: string | undefined): string {
  if (!label) return 'utf-8';
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return label.toLowerCase();
  }
}

/**
 * Read into one buffer again and again: a read stream's fresh buffer per chunk left tens of MB of
 * freed chunks in the allocator after hashing a results file of a million rows (for a rerun).
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** The state version 1 wrote: the input checksum, namespace and options, and a completion time. */
interface StateV1 {
  version: 1;
  input: string;
  inputSha256?: string;
  tokenNamespace: string;
  options: StoredOptions;
  dryRun: boolean;
  rerunOf?: string;
  startedAt: string;
  completedAt?: string;
  rows?: RowCounts;
}

/**
 * Version 1 recorded the flags as given, not the job file's content nor the Region the SDK
 * resolved: those are marked unrecorded (not compared). It did not tell an interrupted run from
 * one whose input broke: both are `interrupted`, which every command treats the safe way.
 */
function fromVersion1(v1: StateV1): RunState {
  const o = v1.options ?? {};
  const unrecorded: (keyof RunIdentity)[] = ['jobSha256'];
  if (o.region === undefined) unrecorded.push('region');
  if (o.endpoint === undefined) unrecorded.push('endpoint');
  return {
    version: STATE_VERSION,
    input: v1.input,
    identity: {
      inputSha256: v1.inputSha256,
      endpoint: o.endpoint,
      region: o.region,
      instanceId: o.instanceId,
      contactFlowId: o.contactFlowId,
      taskTemplateId: o.taskTemplateId,
      quickConnectId: o.quickConnectId,
      job: o.job,
      tokenNamespace: v1.tokenNamespace,
      tokenKey: o.tokenKey,
      encoding: encodingName(o.encoding),
      delimiter: o.delimiter ?? ',',
    },
    unrecorded,
    options: o,
    dryRun: v1.dryRun,
    ...(v1.rerunOf ? { rerunOf: v1.rerunOf } : {}),
    outcome: v1.completedAt ? 'completed' : 'interrupted',
    startedAt: v1.startedAt,
    ...(v1.completedAt ? { completedAt: v1.completedAt } : {}),
    ...(v1.rows ? { rows: v1.rows } : {}),
  };
}
