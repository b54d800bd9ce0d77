/**
 * `--summary-json <file>`: checked before the run starts, written after it ends. A typo in the path
 * must not be found after a night's run; and once the run is over, failing to write its summary
 * must not hide how the run went (its exit code stands, a warning says what was not written).
 */
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { headOf } from '../ledger/files.js';
import type { Summary } from '../run/summary.js';

/** Throws a UsageError when `path` cannot be written as a file. Creates nothing. */
export function checkSummaryPath(path: string, from = '--summary-json'): void {
  const target = resolve(path);
  const folder = dirname(target);
  const what = `${from} ${path}`;
  const folderStat = statIfAny(folder, what);
  if (!folderStat) throw new UsageError(`${what}: the folder ${folder} does not exist`);
  if (!folderStat.isDirectory()) throw new UsageError(`${what}: ${folder} is not a folder`);
  const fileStat = statIfAny(target, what);
  if (fileStat?.isDirectory()) throw new UsageError(`${what} is a folder: name a file in it`);
  // An existing file is replaced only when it is a summary itself: never the input, a results file or
  // anything else a typo could name.
  const head = fileStat ? headOf(target, 'file named by --summary-json') : undefined;
  if (head !== undefined && head.trim() !== '' && !head.trimStart().startsWith('{')) {
    throw new UsageError(`${what} is an existing file that is not a JSON summary: it is never overwritten; pass another path`);
  }
  try {
    accessSync(fileStat ? target : folder, constants.W_OK);
  } catch (err) {
    throw new UsageError(`${what}: cannot write ${fileStat ? 'the file' : `in ${folder}`} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Writes the summary; returns a one-line warning instead of throwing when it cannot. */
export function writeSummaryFile(path: string, summary: Summary): string | undefined {
  try {
    writeFileSync(path, `${JSON.stringify(summary, null, 2)}\n`, { mode: 0o600 });
    return undefined;
  } catch (err) {
    return `warning: the summary was not written to ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}); the run's results are in ${summary.results}`;
  }
}

function statIfAny(path: string, what: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') throw new UsageError(`${what}: a part of the path is not a folder`);
    throw new UsageError(`${what}: ${code ?? String(err)}`);
  }
}
