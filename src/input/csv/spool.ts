/**
 * Standard input is copied to a private temporary file before a run reads it, so that it has a
 * checksum like any file: the run state then knows *which* input a results file records, and a
 * second night's different stdin is never taken for "already processed", nor resumed by line number
 * as if it were the same. Disk, not memory: the copy is streamed. Removed when the run ends.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputError } from '../../errors.js';

export interface Spooled {
  path: string;
  remove(): Promise<void>;
}

export async function spoolStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<Spooled> {
  const dir = await mkdtemp(join(tmpdir(), 'connect-task-loader-stdin-'));
  const path = join(dir, 'input');
  const remove = () => rm(dir, { recursive: true, force: true });
  try {
    // Owner-only and new: the copy holds customer rows.
    await pipeline(stdin, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    await remove();
    throw new InputError(`cannot read standard input: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  return { path, remove };
}
