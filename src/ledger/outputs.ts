/**
 * The files the tool writes for its user besides a run's own (`--summary-json`, `report --html`):
 * checked before the run or report starts — a folder that exists, a path that is no other file a
 * typo could name (an existing file is replaced only when it is such an output itself), not the
 * input nor a file the run owns — and written the one way: owner-only, whole, through a temporary
 * file renamed into place, so a link or a FIFO planted at the path is replaced, never followed or
 * waited on. The next output added gets the same checks by calling these.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { checkOutputPath, headOf, replaceFileAtomically } from './files.js';

export interface OutputKind {
  /** How it is named in messages: "a JSON summary", "an HTML report". */
  name: string;
  /** Whether the first bytes of an existing file show an earlier output of this kind. */
  looksLike: (head: string) => boolean;
}

export const SUMMARY_JSON: OutputKind = { name: 'a JSON summary', looksLike: (head) => head.trimStart().startsWith('{') };
export const HTML_REPORT: OutputKind = { name: 'an HTML report', looksLike: (head) => /^\s*<!doctype html/i.test(head) };

/** Throws a UsageError when `path` cannot be written as this output. Creates nothing. */
export function checkOutput(path: string, flag: string, kind: OutputKind): void {
  const target = resolve(path);
  const folder = dirname(target);
  const what = `${flag} ${path}`;
  const folderStat = statIfAny(folder, what);
  if (!folderStat) throw new UsageError(`${what}: the folder ${folder} does not exist`);
  if (!folderStat.isDirectory()) throw new UsageError(`${what}: ${folder} is not a folder`);
  const fileStat = statIfAny(target, what);
  if (fileStat?.isDirectory()) throw new UsageError(`${what} is a folder: name a file in it`);
  const head = fileStat ? headOf(target, `file named by ${flag}`) : undefined;
  if (head !== undefined && head.trim() !== '' && !kind.looksLike(head)) {
    throw new UsageError(`${what} is an existing file that is not ${kind.name}: it is never overwritten; pass another path`);
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch (err) {
    throw new UsageError(`${what}: cannot write in ${folder} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Before a run: also never the input, nor a file of the run (which may not exist yet). */
export async function checkRunOutput(path: string, flag: string, kind: OutputKind, input: string | undefined, resultsPath: string): Promise<void> {
  checkOutput(path, flag, kind);
  await checkOutputPath(path, flag, input, resultsPath);
}

export async function writeOutput(path: string, text: string, what: string): Promise<void> {
  await replaceFileAtomically(path, text, what);
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
