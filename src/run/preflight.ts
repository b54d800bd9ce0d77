/**
 * What can be checked before a run creates any file: a folder given as the input or the results
 * file, an endpoint that is not a URL, a missing Region or credentials. Found at the first send,
 * these left a results file behind that blocked the corrected run; found here, they are a usage
 * error (exit 2) with nothing written and nothing sent.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { endpointSetting, type TaskSender } from '../delivery/send.js';
import { InputError, UsageError } from '../errors.js';
import type { Settings } from './config.js';
import type { RunOptions } from './options.js';
import { createSender } from './wiring.js';

/** The input and results paths name files (or could), before the lock or the results file is made. */
export async function checkPaths(input: string, resultsPath: string): Promise<void> {
  if (input !== '-' && (await kind(input)) === 'folder') throw new InputError(`${input} is a folder: pass a CSV file`);
  const results = await kind(resultsPath);
  if (results === 'folder') throw new UsageError(`the results file ${resultsPath} is a folder: pass --results <file>, e.g. ${resultsPath.replace(/\/+$/, '')}/tasks.results.csv`);
  if (results === 'missing') {
    const folder = dirname(resolve(resultsPath));
    const parent = await kind(folder);
    if (parent !== 'folder') throw new UsageError(`the folder of the results file, ${folder}, does not exist${parent === 'file' ? ' (it is a file)' : ''}: create it or pass another --results`);
  }
}

/** The endpoint (flag or environment) is an http(s) URL; the SDK's own error for one that is not says nothing useful. */
export function checkEndpoint(endpoint: string | undefined): void {
  const setting = endpointSetting(endpoint);
  if (!setting) return;
  let url: URL | undefined;
  try {
    url = new URL(setting.url);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new UsageError(`${setting.from} ${JSON.stringify(setting.url)} is not an http(s) URL: write it as https://host or http://127.0.0.1:4566 (the emulator)`);
  }
}

/**
 * The sender the run will use, once it has shown it can sign a request: Region and credentials
 * resolved (bounded in time). Undefined for a dry run, which sends nothing.
 */
export async function readySender(options: RunOptions, settings: Settings): Promise<TaskSender | undefined> {
  if (settings.dryRun) return undefined;
  const sender = options.sender ?? createSender(options, settings);
  try {
    await sender.ready?.();
  } catch (err) {
    if (!options.sender) sender.destroy();
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
