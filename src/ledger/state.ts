/**
 * The run's own record beside its results file (`<results>.run.json`, owner-only): which input it
 * was (checksum), the token namespace and the mapping options, and whether it completed. It lets
 * `--resume` and `rerun` carry on with exactly the same tokens and mapping, and lets a repeated
 * cron run see that its input was already done. It holds no row content.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Summary } from '../run/stats.js';

/** The options that decide what is sent and with which token; a resume or rerun reuses them. */
export interface StoredOptions {
  job?: string;
  instanceId?: string;
  contactFlowId?: string;
  taskTemplateId?: string;
  quickConnectId?: string;
  tokenKey?: string[];
  encoding?: string;
  delimiter?: string;
  endpoint?: string;
  region?: string;
  profile?: string;
  rate?: number;
  burst?: number;
  /** IANA zone ScheduledTime values without one were read in (--timezone / job file). */
  timezone?: string;
}

export interface RunState {
  version: 1;
  input: string;
  /** SHA-256 of the input's bytes as read (compressed bytes for .gz); absent for stdin. */
  inputSha256?: string;
  tokenNamespace: string;
  options: StoredOptions;
  dryRun: boolean;
  /** For a rerun: the results file it sent again. */
  rerunOf?: string;
  startedAt: string;
  completedAt?: string;
  rows?: Summary['rows'];
}

export const statePath = (resultsPath: string) => `${resultsPath}.run.json`;

export async function readState(resultsPath: string): Promise<RunState | undefined> {
  try {
    return JSON.parse(await readFile(statePath(resultsPath), 'utf8')) as RunState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Written whole to a temporary file and renamed, so that a crash never leaves half a state. */
export async function writeState(resultsPath: string, state: RunState): Promise<void> {
  const tmp = `${statePath(resultsPath)}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, statePath(resultsPath));
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}
