/**
 * What can be checked before a run creates any file: a folder given as the input or the results
 * file, a missing Region or credentials. Found at the first send,
 * these left a results file behind that blocked the corrected run; found here, they are a usage
 * error (exit 2) with nothing written and nothing sent.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { RunConfig } from '../config/resolve.js';
import type { TaskSender } from '../delivery/send.js';
import { InputError, UsageError } from '../errors.js';
import { createSender } from './wiring.js';

/** The input and results paths name files (or could), before the lock or the results file is made. */
export async function checkPaths(input: string, resultsPath: string): Promise<void> {
  if (input !== '-' && (await kind(input)) === 'folder') throw new InputError(`${input} is a folder: pass a CSV file`);
  const results = await kind(resultsPath);
  // The files a run keeps beside its results must be files (or absent): a folder there would fail the
  // run after it started sending.
  for (const suffix of ['.run.json', '.timeline.jsonl']) {
    const what = await kind(`${resultsPath}${suffix}`);
    if (what === 'folder' || what === 'other')
      throw new UsageError(
        `${resultsPath}${suffix} is not a file (a folder is in its place): a run keeps ` +
          `its ${suffix === '.run.json' ? 'state' : 'timeline'} there; move it away or pass another --results`,
      );
  }
  if (results === 'folder')
    throw new UsageError(
      `the results file ${resultsPath} is a folder: pass --results <file>, ` +
        `e.g. ${resultsPath.replace(/\/+$/, '')}/tasks.results.csv, or ${resultsPath.replace(/\/+$/, '')}/ ` +
        `for the usual name inside it`,
    );
  if (results === 'missing') {
    const folder = dirname(resolve(resultsPath));
    const parent = await kind(folder);
    if (parent !== 'folder')
      throw new UsageError(
        `the folder of the results file, ${folder}, does not ` +
          `exist${parent === 'file' ? ' (it is a file)' : ''}: create it or pass another --results`,
      );
  }
}

/**
 * The sender the run will use, once it has shown it can sign a request: Region and credentials
 * resolved (bounded in time). Undefined for a dry run, which sends nothing.
 */
export async function readySender(config: RunConfig, given: TaskSender | undefined): Promise<TaskSender | undefined> {
  if (config.dryRun) return undefined;
  const sender = given ?? createSender(config);
  try {
    await sender.ready?.();
  } catch (err) {
    if (!given) sender.destroy();
    throw err;
  }
  return sender;
}

async function kind(path: string): Promise<'file' | 'folder' | 'missing' | 'other'> {
  try {
    return (await stat(path)).isDirectory() ? 'folder' : 'file';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'missing' : code === 'ENOTDIR' ? 'other' : 'file';
  }
}
