/**
 * `merge`: joins results files of one input — its shards, or a run and its reruns — into one results
 * file ordered by `Result.Line`.
 *
 * Two kinds of repeated lines, told apart by each file's `<results>.run.json`:
 * - a **rerun** (its state names `rerunOf`) is a later word on the same lines: its row supersedes any
 *   earlier row of that line (each rerun after the file it reran, whatever order they are given in);
 * - any other two files holding the same line **overlap** (two runs of one shard, or of the whole
 *   input next to a shard): which row is true is unknown, so the merge is refused.
 * Files of different inputs are refused too: their checksums (or token namespaces) differ, or their columns do.
 *
 * Memory stays a few bytes a line: a first pass keeps, per line, which file holds its row and where
 * (spans.ts); a second copies those records' bytes in line order, read in batches by position. A file
 * not as the results writer writes it (a spreadsheet's, a torn one) is first rewritten as csv-parse reads it.
 */
import { closeSync, fstatSync, openSync, readSync, type Stats, unlinkSync, writeSync } from 'node:fs';
import { type FileHandle, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.js';
import { canonicalJson } from '../input/token.js';
import { openRegular, openRegularSync, READ } from './files.js';
import { LineIndex, normalise, STATUSES, STRINGIFY, scanSpans } from './spans.js';
import { type RunState, readState, sha256File, writeState } from './state.js';

export interface MergeSummary {
  files: number;
  rows: number;
  created: number;
  failed: number;
  invalid: number;
  /** Records the job file's `where` left out: nothing to send. */
  filtered: number;
  /** Rows replaced by a rerun's row for the same line. */
  superseded: number;
  results: string;
}

interface Part {
  file: string;
  state: RunState | undefined;
  /** Reruns away from its run: files are merged in this order. */
  depth: number;
  /** What the second pass reads: the file, or its normalised copy; and that file as the first pass saw it. */
  read?: string;
  seen?: Stats;
}

/** A file turned out not to be plain (spans.ts) after its first rows were taken: collect again, with it normalised. */
class NotPlain extends Error {
  constructor(readonly part: number) {
    super('not plain');
  }
}

export async function mergeResults(files: string[], out: string): Promise<MergeSummary> {
  if (files.length === 0) throw new UsageError('merge needs at least one results file');
  const states = await Promise.all(files.map((f) => readState(f)));
  // Runs first, then each rerun after the file it reran, whatever order they were given in: a
  // rerun's row is the later word on its line, and a rerun of a rerun later still.
  const depth = await lineage(files, states);
  const order: Part[] = files
    .map((f, i) => ({ file: f, state: states[i], depth: depth[i]! }))
    .sort((a, b) => a.depth - b.depth);
  const normalised = new Map<number, string>();
  let temp: string | undefined;
  try {
    let collected: Awaited<ReturnType<typeof collect>>;
    for (;;) {
      try {
        collected = await collect(files[0]!, order, normalised, async (k) =>
          join((temp ??= await mkdtemp(join(tmpdir(), 'connect-task-loader-merge-'))), `${k}.csv`),
        );
        break;
      } catch (err) {
        if (!(err instanceof NotPlain) || normalised.has(err.part)) throw err;
        normalised.set(err.part, '');
      }
    }
    const { header, index, superseded } = collected;
    const runs = states.filter((st): st is RunState => st !== undefined && !st.rerunOf);
    checkSameRun(
      runs,
      files.filter((_, i) => states[i] && !states[i]!.rerunOf),
    );
    checkShards(runs);
    const counts = writeMerged(out, header, index, order);
    const [, created, failed, invalid, planned, filtered] = counts as [number, number, number, number, number, number];
    const rows = { total: counts.reduce((a, b) => a + b, 0), created, failed, invalid, filtered, planned, skipped: 0 };
    // The merged file is the record of the whole run, so `rerun` and `report` take it like any other:
    // a state beside it when every part was recorded by a completed run.
    const base = runs[0];
    if (base && states.every((st) => st?.outcome === 'completed')) {
      // The whole input's record: no shard in what it compares, nor in the settings it lends and prints.
      const { shard: _shard, ...identity } = base.identity;
      const { shard: _kept, ...options } = base.options;
      await writeState(out, {
        ...base,
        identity,
        options,
        rows,
        outcome: 'completed',
        completedAt: new Date().toISOString(),
        rerunOf: undefined,
      });
    }
    return { files: files.length, rows: rows.total, created, failed, invalid, filtered, superseded, results: out };
  } finally {
    if (temp) await rm(temp, { recursive: true, force: true });
  }
}

/**
 * The first pass: every part checked and scanned in order, each line's row located. Refusals come in
 * the order reading each file whole would meet them: a file csv-parse cannot read fails as such
 * before any of its rows is judged.
 */
async function collect(
  firstGiven: string,
  order: Part[],
  normalised: Map<number, string>,
  tempFile: (k: number) => Promise<string>,
) {
  let header: string[] | undefined;
  let inputSha: { sha: string; file: string } | undefined;
  let namespace: { ns: string; file: string } | undefined;
  let superseded = 0;
  const index = new LineIndex();
  for (const [k, part] of order.entries()) {
    const { file, state } = part;
    // Only finished runs are merged: a killed or interrupted part lacks the rows it never reached, and a
    // dry run's rows were never sent — either would make a merged file that looks complete and is not.
    if (!state)
      throw new UsageError(
        `${file} has no run state (${file}.run.json) beside it: nothing says which input it holds or that its ` +
          `run finished. Merge results files as their runs left them`,
      );
    if (state.dryRun)
      throw new UsageError(
        `${file} is the results of a dry run (validate): nothing was sent for its rows. Run that part for real, ` +
          `then merge`,
      );
    if (state.outcome !== 'completed') {
      throw new UsageError(
        `${file} is the results of a run that did not finish (${state.outcome}): finish it with the same ` +
          `command and --resume, then merge`,
      );
    }
    if (state && !state.rerunOf && state.identity.inputSha256) {
      if (inputSha && inputSha.sha !== state.identity.inputSha256)
        throw new UsageError(`${file} and ${inputSha.file} are results of different inputs (their checksums differ)`);
      inputSha ??= { sha: state.identity.inputSha256, file };
    }
    if (state) {
      if (namespace && namespace.ns !== state.identity.tokenNamespace)
        throw new UsageError(`${file} and ${namespace.file} are results of different inputs (token namespaces differ)`);
      namespace ??= { ns: state.identity.tokenNamespace, file };
    }
    // The first refusal of the file's header or rows waits for the end of the scan: a file that is not
    // plain is read again by csv-parse, whose own error comes first.
    let refusal: UsageError | undefined;
    let headed = false;
    const sink = {
      header(head: string[]) {
        headed = true;
        if (header && head.join('\u0000') !== header.join('\u0000'))
          refusal = new UsageError(`${file} has other columns than ${firstGiven}: not results of the same input`);
        header ??= head;
        const line = head.indexOf('Result.Line');
        if (line === -1 || head.indexOf('Result.Status') === -1)
          refusal ??= new UsageError(`${file} is not a results file (no Result.Line / Result.Status column)`);
        return refusal ? { line: -1, status: -1 } : { line, status: header.indexOf('Result.Status') };
      },
      row(start: number, length: number, line: number, status: number) {
        if (refusal) return;
        if (!Number.isInteger(line))
          return void (refusal = new UsageError(`${file}: a row without a valid Result.Line`));
        const earlier = index.holder(line);
        if (earlier && !state?.rerunOf)
          return void (refusal = new UsageError(
            `${file} and ${order[earlier - 1]!.file} both hold input line ${line}: overlapping results (pass ` +
              `each shard once)`,
          ));
        if (earlier) superseded++;
        index.set(line, k, start, length, status);
      },
    };
    let handle: FileHandle | undefined = await openRegular(file, READ, 'results file');
    try {
      part.read = file;
      if (normalised.has(k)) {
        part.read = normalised.get(k) || (await tempFile(k));
        if (!normalised.get(k)) await normalise(handle, part.read, file);
        normalised.set(k, part.read);
        await handle.close();
        handle = undefined;
        handle = await openRegular(part.read, READ, 'merge scratch file');
      }
      part.seen = await handle.stat();
      if (!(await scanSpans(handle, sink))) throw new NotPlain(k);
    } finally {
      await handle?.close();
    }
    if (refusal) throw refusal;
    if (!headed) throw new UsageError(`${file} is empty`);
  }
  return { header: header!, index, superseded };
}

/**
 * A batch: records read together (up to so many rows or bytes); records of one file this close are read in one read.
 */
const [BATCH_ROWS, BATCH_BYTES, GAP] = [8192, 4 << 20, 8 << 10];
/** Bytes written at a time; files held open at once in the second pass. */
const [OUT_CHUNK, OPEN_FILES] = [1 << 20, 64];

/**
 * The second pass: the header, then every line's record in line order, into `out` — created here
 * (`wx`: an existing file or link is never replaced; 0600: results hold customer data) and removed
 * again if it cannot be written whole. Returns the rows by status index (spans.ts STATUSES).
 */
function writeMerged(out: string, header: string[], index: LineIndex, parts: Part[]): number[] {
  const refuse = (err: NodeJS.ErrnoException) =>
    new UsageError(
      err.code === 'EEXIST'
        ? `${out} already exists: pass another --results`
        : `cannot write ${out}: ${err.code ?? err.message}`,
    );
  let fd: number | undefined;
  try {
    fd = openSync(out, 'wx', 0o600);
  } catch (err) {
    throw refuse(err as NodeJS.ErrnoException);
  }
  const counts = STATUSES.map(() => 0);
  const open = new Map<number, number>();
  const outBuf = Buffer.allocUnsafe(OUT_CHUNK);
  let used = 0;
  const write = (bytes: Uint8Array, length: number) => {
    for (let done = 0; done < length; ) done += writeSync(fd!, bytes, done, length - done);
  };
  const emit = (bytes: Uint8Array) => {
    if (used + bytes.length > OUT_CHUNK) {
      write(outBuf, used);
      used = 0;
    }
    if (bytes.length > OUT_CHUNK) write(bytes, bytes.length);
    else {
      outBuf.set(bytes, used);
      used += bytes.length;
    }
  };
  const fdOf = (k: number) => {
    if (open.has(k)) return open.get(k)!;
    if (open.size >= OPEN_FILES) {
      for (const f of open.values()) closeSync(f);
      open.clear();
    }
    const { file, read, seen } = parts[k]!;
    const f = openRegularSync(read!, READ, 'results file');
    open.set(k, f);
    const now = fstatSync(f);
    if (now.ino !== seen!.ino || now.dev !== seen!.dev || now.size !== seen!.size || now.mtimeMs !== seen!.mtimeMs)
      throw changed(file);
    return f;
  };
  // A batch: records in line order, read sorted by file and offset, neighbours in one read.
  const bPart = new Int32Array(BATCH_ROWS);
  const bStart = new Float64Array(BATCH_ROWS);
  const bLength = new Float64Array(BATCH_ROWS);
  const bRead = new Int32Array(BATCH_ROWS);
  let n = 0;
  let bytes = 0;
  let scratch = Buffer.allocUnsafe(BATCH_BYTES * 2);
  const copyBatch = () => {
    const ids = Array.from({ length: n }, (_, i) => i).sort((a, b) => bPart[a]! - bPart[b]! || bStart[a]! - bStart[b]!);
    const reads: { part: number; start: number; end: number; at: number }[] = [];
    for (const id of ids) {
      const last = reads[reads.length - 1];
      if (last && last.part === bPart[id] && bStart[id]! - last.end <= GAP) last.end = bStart[id]! + bLength[id]!;
      else reads.push({ part: bPart[id]!, start: bStart[id]!, end: bStart[id]! + bLength[id]!, at: 0 });
      bRead[id] = reads.length - 1;
    }
    let size = 0;
    for (const r of reads) size = (r.at = size) + r.end - r.start;
    if (scratch.length < size) scratch = Buffer.allocUnsafe(size);
    for (const { part, start, end, at } of reads) {
      const f = fdOf(part);
      for (let done = 0, got = 0; done < end - start; done += got) {
        try {
          got = readSync(f, scratch, at + done, end - start - done, start + done);
        } catch (err) {
          throw new UsageError(`cannot read ${parts[part]!.file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
        }
        if (got === 0) throw changed(parts[part]!.file);
      }
    }
    for (let i = 0; i < n; i++) {
      const { start, at } = reads[bRead[i]!]!;
      emit(scratch.subarray(at + bStart[i]! - start, at + bStart[i]! - start + bLength[i]!));
    }
    n = bytes = 0;
  };
  try {
    emit(Buffer.from(stringify([header], STRINGIFY)));
    index.forEach((k, start, length, status) => {
      counts[status]!++;
      bPart[n] = k;
      bStart[n] = start;
      bLength[n++] = length;
      bytes += length;
      if (n === BATCH_ROWS || bytes >= BATCH_BYTES) copyBatch();
    });
    if (n) copyBatch();
    write(outBuf, used);
    const done = fd;
    fd = undefined;
    closeSync(done);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    unlinkSync(out); // this merge's own file, not written whole
    throw err instanceof UsageError ? err : refuse(err as NodeJS.ErrnoException);
  } finally {
    for (const f of open.values()) closeSync(f);
  }
  return counts;
}

const changed = (file: string) =>
  new UsageError(`${file} changed while it was being merged: merge again once nothing writes to it`);

/** Parts of one run were sent to one place with one mapping: only the shard may differ between them. */
function checkSameRun(runs: RunState[], files: string[]): void {
  const key = (st: RunState) => {
    const { shard: _shard, inputSha256: _sha, ...rest } = st.identity;
    // Keys sorted at every depth: a key list given to JSON.stringify would drop those of nested objects (`where`).
    return canonicalJson(rest);
  };
  const first = runs[0];
  const other = runs.findIndex((st) => key(st) !== key(first!));
  if (first && other !== -1) {
    throw new UsageError(
      `${files[other] ?? 'one file'} was sent with other settings than the first (endpoint, Region, instance, ` +
        `routing, job file, its where, or token settings): parts of one run only`,
    );
  }
}

/**
 * How many reruns away from its run each file is (a run: 0). A rerun's rows replace the rows of the
 * results file it reran, so that file must be among those merged: a rerun records the checksum of the
 * file it read (its input), and a results file no longer changes once its run completed. Monday's
 * rerun is thus never taken for a rerun of Tuesday's run, even where both nights used one token
 * namespace.
 */
async function lineage(files: string[], states: (RunState | undefined)[]): Promise<number[]> {
  const depth: (number | undefined)[] = states.map((st) => (st?.rerunOf ? undefined : 0));
  if (depth.every((d) => d === 0)) return depth as number[];
  const sums = await Promise.all(files.map((f) => sha256File(f)));
  const parent = states.map((st, i) => {
    if (!st?.rerunOf) return -1;
    const origin = st.identity.inputSha256;
    const found = origin
      ? sums.findIndex((sum, j) => j !== i && sum === origin)
      : files.findIndex((f, j) => j !== i && resolve(f) === st.rerunOf);
    if (found < 0) {
      throw new UsageError(
        `${files[i]} is a rerun of ${st.rerunOf}, which is not among the files merged (or has changed since): ` +
          'merge a run with its own reruns',
      );
    }
    return found;
  });
  const walk = (i: number, seen: Set<number>): number => {
    if (depth[i] !== undefined) return depth[i]!;
    if (seen.has(i))
      throw new UsageError(`${files[i]}: its reruns name each other in a circle; merge a run with its own reruns`);
    seen.add(i);
    return (depth[i] = walk(parent[i]!, seen) + 1);
  };
  return files.map((_, i) => walk(i, new Set()));
}

/** Shard results must be all the shards of one split: a missing shard would leave its rows out unnoticed. */
function checkShards(runs: RunState[]): void {
  const shards = runs.map((st) => st.identity.shard).filter((sh): sh is string => sh !== undefined);
  if (shards.length === 0) return;
  const count = Number(shards[0]!.split('/')[1]);
  if (shards.length !== runs.length || shards.some((sh) => Number(sh.split('/')[1]) !== count)) {
    throw new UsageError(
      'these results files are not the shards of one split (some are not shards, or were split another way): ' +
        'merge the shards of one --shard i/n run',
    );
  }
  const missing = Array.from({ length: count }, (_, i) => `${i + 1}/${count}`).filter((sh) => !shards.includes(sh));
  if (missing.length)
    throw new UsageError(
      `${missing.length === 1 ? 'shard' : 'shards'} ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} ` +
        'missing: pass the results of every shard (a merge of some would leave their rows out)',
    );
}
