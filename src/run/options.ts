/**
 * What a caller of the library passes to a run, and the small interfaces (logger, progress) a run
 * reports through. Its own module so that every stage can name them without importing the run.
 */
import type { JobFile } from '../config/job.js';
import type { Env, Settings } from '../config/resolve.js';
import type { TaskSender } from '../delivery/send.js';
import type { Progress } from '../observe/observer.js';

export type { Progress };

import type { Logger } from '../types.js';

export type { Logger };

/**
 * What a caller of the library passes to a run: any setting of the table (config/settings.ts) by its
 * key — `instanceId`, `rate`, `requestTimeoutMs`… — as a flag would give it, and the parts only a
 * program can pass. The environment (`env`, default `process.env`) and a run it continues fill in the
 * rest, as for the command line.
 */
export type RunOptions = Omit<Settings, 'job' | 'includeInvalid' | 'checkLive' | OperatorKey> & {
  /** A CSV path, `-` for standard input, or a `.gz` file. */
  input: string;
  /** A job file path or its parsed content. Flags given here win over it. */
  job?: string | JobFile;
  /** Dry run only: ask the instance whether every InstanceId and routing id named exists (read-only calls). */
  checkLive?: boolean;
  /**
   * Files the caller writes when the run ends (`--summary-json`): refused before the run when one is the input or a
   * file of the run.
   */
  outputs?: { path: string; flag: string }[];
  /** Environment variables to read settings from (CTL_*, AWS_REGION…); default `process.env`. */
  env?: Env;
  /** What input `-` reads; default `process.stdin`. */
  stdin?: NodeJS.ReadableStream;
  /** Inject a sender (e.g. `new ConnectSender(yourConnectClient)`); default: one built from the settings. */
  sender?: TaskSender;
  logger?: Logger;
  onProgress?: (p: Progress) => void;
  /** Aborting stops reading; requests in flight finish and are recorded; the summary says interrupted. */
  signal?: AbortSignal;
  /**
   * At the instance's active-task limit, the wait before the first probe, ms (default 5,000; it doubles
   * up to 5 minutes). For rehearsals and tests that drain an emulator in seconds.
   */
  capacityProbeMs?: number;
};

/** The settings only the command line's own output uses. */
type OperatorKey = 'logLevel' | 'logFormat' | 'progress' | 'progressInterval' | 'summaryJson' | 'json' | 'html';

/** What a run is given besides its settings: how it reports, stops and sends. */
export interface RunHooks {
  sender?: TaskSender;
  log: Logger;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** See RunOptions.capacityProbeMs. */
  capacityProbeMs?: number;
}

export const silent: Logger = { info() {}, warn() {}, debug() {} };

/** Sends again the rows of a results file that did not succeed; see `rerunImport`. */
export type RerunOptions = RunOptions & {
  /** Also send `invalid` rows (corrected in the results file since). */
  includeInvalid?: boolean;
};
