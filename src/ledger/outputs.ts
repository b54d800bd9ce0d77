/**
 * The files the tool writes for its user besides a run's own (`--summary-json`, `--metrics-file`,
 * `report --html`):
 * checked before the run or report starts — a folder that exists, a path that is no other file a
 * typo could name (an existing file is replaced only when it is such an output itself), not the
 * input nor a file the run owns — and written the one way: owner-only, whole, through a temporary
 * file renamed into place, so a link or a FIFO planted at the path is replaced, never followed or
 * waited on. The next output added gets the same checks by calling these (and, for a run's,
 * `checkOutputPath` in files.ts once the run's files are known). The metrics file is the one output
 * others read (node_exporter runs as its own user): it holds no row content, and is world-readable.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { UsageError } from '../errors.js';
import { describeS3Error } from '../s3/client.js';
import { headIfAny, objectBytes } from '../s3/object.js';
import { parseS3Url } from '../s3/url.js';
import { putObject } from '../s3/write.js';
import { CREATE_NEW, headOf, replaceFileAtomically } from './files.js';

export interface OutputKind {
  /** How it is named in messages: "a JSON summary", "an HTML report". */
  name: string;
  /** Whether the first bytes of an existing file show an earlier output of this kind. */
  looksLike: (head: string) => boolean;
  /** Its media type, for an output that may be written to S3 (which serves it as that). */
  contentType?: string;
}

/** A summary starts with its run's id (or, written before runs had one, its input's name); other JSON does not. */
export const SUMMARY_JSON: OutputKind = {
  name: 'a JSON summary',
  looksLike: (head) => /^\s*\{\s*"(runId|input)"\s*:/.test(head),
};
/** A page of this tool's says so in its head. */
export const HTML_REPORT: OutputKind = {
  name: 'an HTML report',
  contentType: 'text/html; charset=utf-8',
  looksLike: (head) =>
    /^\s*<!doctype html/i.test(head) &&
    /<meta name="generator" content="connect-task-loader">|— connect-task-loader report<\/title>/.test(head),
};

/** A metrics file of this tool's starts with the HELP line of one of its metrics. */
export const PROMETHEUS_TEXT: OutputKind = {
  name: 'a metrics file of connect-task-loader',
  looksLike: (head) => /^# (HELP|TYPE) connect_task_loader_/.test(head),
};

/** Names a run gives the files it owns beside any results file: never an output, whoever's they are. */
const RUN_FILE = /\.(run\.json|timeline\.jsonl|lock)$/;

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
  if (RUN_FILE.test(target))
    throw new UsageError(
      `${what} is named as a file a run keeps beside its results (.run.json, .timeline.jsonl, .lock): pass ` +
        `another path`,
    );
  const head = fileStat ? headOf(target, `file named by ${flag}`, 2048) : undefined;
  if (head !== undefined && head.trim() !== '' && !kind.looksLike(head)) {
    throw new UsageError(
      `${what} is an existing file that is not ${kind.name}: it is never overwritten; pass another path`,
    );
  }
  try {
    accessSync(folder, constants.W_OK);
  } catch (err) {
    throw new UsageError(`${what}: cannot write in ${folder} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
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

/** Others may read it: no row content, ever. */
const READABLE = 0o644;

/**
 * Replaces `path` with `text` whole, for a file other users read while it is rewritten (the metrics
 * file, every second): written to a temporary file of its own in the same folder — a random name,
 * so that two writers never share one, ending in `.tmp`, which node_exporter does not read — then
 * renamed over `path`, so a reader sees the old file or the new one, never part of one. Mode 0644
 * whatever the umask (a nightly job's is often 077, and node_exporter could not read the file).
 * Synced before the rename only when asked (the last write of a run), not on every rewrite.
 */
export async function writeReadableOutput(path: string, text: string, sync: boolean): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, CREATE_NEW, READABLE);
  try {
    await handle.chmod(READABLE);
    await handle.writeFile(text);
    if (sync) await handle.sync();
    await handle.close();
    await rename(tmp, path);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * The same checks for an output written to S3 (`report --html s3://…`): not named as a file a run
 * keeps, none of `owned` (the results objects read), and an existing object there only when it is
 * such an output itself.
 */
export async function checkS3Output(
  client: S3Client,
  url: string,
  flag: string,
  kind: OutputKind,
  owned: string[],
): Promise<void> {
  const at = parseS3Url(url, flag);
  const what = `${flag} ${url}`;
  if (RUN_FILE.test(at.key) || at.key.endsWith('.lease') || at.key.includes('.parts/'))
    throw new UsageError(`${what} is named as a file a run keeps beside its results: pass another path`);
  if (owned.some((o) => o === url || url.startsWith(`${o}.`)))
    throw new UsageError(`${what} is a results file being read, or one of its files: it would be overwritten`);
  let head = '';
  try {
    const version = await headIfAny(client, at);
    if (!version) return;
    for await (const chunk of objectBytes(client, at, version, { end: 2047 })) head += chunk.toString('utf8');
  } catch (err) {
    throw new UsageError(`${what}: ${describeS3Error(err, 's3:GetObject')}`, { cause: err });
  }
  if (head.replace(/^\uFEFF/, '').trim() !== '' && !kind.looksLike(head.replace(/^\uFEFF/, '')))
    throw new UsageError(
      `${what} is an existing object that is not ${kind.name}: it is never overwritten; pass another path`,
    );
}

export async function writeS3Output(
  client: S3Client,
  url: string,
  text: string,
  flag: string,
  kind: OutputKind,
): Promise<void> {
  try {
    await putObject(client, parseS3Url(url, flag), text, kind.contentType ? { contentType: kind.contentType } : {});
  } catch (err) {
    throw new UsageError(`cannot write ${url}: ${describeS3Error(err, 's3:PutObject')}`, { cause: err });
  }
}
