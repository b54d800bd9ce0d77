/**
 * `merge`: joins results files of one input — its shards, or a run and its reruns — into one results
 * file ordered by `Result.Line`.
 *
 * Two kinds of repeated lines, told apart by each file's `<results>.run.json`:
 * - a **rerun** (its state names `rerunOf`) is a later word on the same lines: its row supersedes any
 *   earlier row of that line (reruns apply in the order given, so pass rerun-1 before rerun-2);
 * - any other two files holding the same line **overlap** (two runs of one shard, or of the whole
 *   input next to a shard): which row is true is unknown, so the merge is refused.
 * Files of different inputs are refused too: their checksums (or token namespaces) differ, or their columns do.
 */
import { writeFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.js';
import { openRegular, READ } from './files.js';
import { readState, writeState, type RunState } from './state.js';

export interface MergeSummary {
  files: number;
  rows: number;
  created: number;
  failed: number;
  invalid: number;
  /** Rows replaced by a rerun's row for the same line. */
  superseded: number;
  results: string;
}

export async function mergeResults(files: string[], out: string): Promise<MergeSummary> {
  if (files.length === 0) throw new UsageError('merge needs at least one results file');
  let header: string[] | undefined;
  const byLine = new Map<number, { row: string[]; from: string }>();
  let inputSha: { sha: string; file: string } | undefined;
  let namespace: { ns: string; file: string } | undefined;
  let superseded = 0;
  const states = await Promise.all(files.map((f) => readState(f)));
  // Runs first, then reruns in the order given: a rerun's row is the later word on its line.
  const order = files.map((f, i) => ({ file: f, state: states[i] })).sort((a, b) => Number(Boolean(a.state?.rerunOf)) - Number(Boolean(b.state?.rerunOf)));
  for (const { file, state } of order) {
    // Only finished runs are merged: a killed or interrupted part lacks the rows it never reached, and a
    // dry run's rows were never sent — either would make a merged file that looks complete and is not.
    if (!state) throw new UsageError(`${file} has no run state (${file}.run.json) beside it: nothing says which input it holds or that its run finished. Merge results files as their runs left them`);
    if (state.dryRun) throw new UsageError(`${file} is the results of a dry run (validate): nothing was sent for its rows. Run that part for real, then merge`);
    if (state.outcome !== 'completed') {
      throw new UsageError(`${file} is the results of a run that did not finish (${state.outcome}): finish it with the same command and --resume, then merge`);
    }
    if (state && !state.rerunOf && state.identity.inputSha256) {
      if (inputSha && inputSha.sha !== state.identity.inputSha256) throw new UsageError(`${file} and ${inputSha.file} are results of different inputs (their checksums differ)`);
      inputSha ??= { sha: state.identity.inputSha256, file };
    }
    if (state) {
      if (namespace && namespace.ns !== state.identity.tokenNamespace) throw new UsageError(`${file} and ${namespace.file} are results of different inputs (token namespaces differ)`);
      namespace ??= { ns: state.identity.tokenNamespace, file };
    }
    const records = parse(await readWhole(file), { relax_column_count: true, bom: true }) as string[][];
    const [head, ...rows] = records;
    if (!head) throw new UsageError(`${file} is empty`);
    if (header && head.join('\u0000') !== header.join('\u0000')) throw new UsageError(`${file} has other columns than ${files[0]}: not results of the same input`);
    header ??= head;
    const lineCol = head.indexOf('Result.Line');
    if (lineCol === -1 || head.indexOf('Result.Status') === -1) throw new UsageError(`${file} is not a results file (no Result.Line / Result.Status column)`);
    for (const row of rows) {
      const line = Number(row[lineCol]);
      if (!Number.isInteger(line)) throw new UsageError(`${file}: a row without a valid Result.Line`);
      const earlier = byLine.get(line);
      if (earlier && !state?.rerunOf) throw new UsageError(`${file} and ${earlier.from} both hold input line ${line}: overlapping results (pass each shard once)`);
      if (earlier) superseded++;
      byLine.set(line, { row, from: file });
    }
  }
  const statusCol = header!.indexOf('Result.Status');
  const lines = [...byLine.keys()].sort((a, b) => a - b);
  const count = (s: string) => lines.filter((l) => byLine.get(l)!.row[statusCol] === s).length;
  const runs = states.filter((st): st is RunState => st !== undefined && !st.rerunOf);
  checkSameRun(runs, files.filter((_, i) => states[i] && !states[i]!.rerunOf));
  checkShards(runs);
  // `wx`: an existing file (or a link) is never replaced; 0600: results hold customer data. Cells with
  // a CR or LF are quoted, as the results writer quotes them.
  const text = stringify([header!, ...lines.map((l) => byLine.get(l)!.row)], { record_delimiter: 'unix', quoted_match: /[\r\n]/ });
  await writeFile(out, text, { flag: 'wx', mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(err.code === 'EEXIST' ? `${out} already exists: pass another --results` : `cannot write ${out}: ${err.code ?? err.message}`);
  });
  const rows = { total: lines.length, created: count('created'), failed: count('failed'), invalid: count('invalid'), planned: count('planned'), skipped: 0 };
  // The merged file is the record of the whole run, so `rerun` and `report` take it like any other:
  // a state beside it when every part was recorded by a completed run.
  const base = runs[0];
  if (base && states.every((st) => st?.outcome === 'completed')) {
    const { shard: _shard, ...identity } = base.identity;
    await writeState(out, { ...base, identity, rows, outcome: 'completed', completedAt: new Date().toISOString(), rerunOf: undefined });
  }
  return { files: files.length, rows: lines.length, created: count('created'), failed: count('failed'), invalid: count('invalid'), superseded, results: out };
}

/** A results file's whole text; a missing or odd file is a usage error naming it, never a crash. */
async function readWhole(file: string): Promise<Buffer> {
  const handle = await openRegular(file, READ, 'results file');
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Shard results must be all the shards of one split: a missing shard would leave its rows out unnoticed. */
/** Parts of one run were sent to one place with one mapping: only the shard may differ between them. */
function checkSameRun(runs: RunState[], files: string[]): void {
  const key = (st: RunState) => {
    const { shard: _shard, inputSha256: _sha, ...rest } = st.identity;
    return JSON.stringify(rest, Object.keys(rest).sort());
  };
  const first = runs[0];
  const other = runs.findIndex((st) => key(st) !== key(first!));
  if (first && other !== -1) {
    throw new UsageError(`${files[other] ?? 'one file'} was sent with other settings than the first (endpoint, Region, instance, routing, job file or token settings): parts of one run only`);
  }
}

function checkShards(runs: RunState[]): void {
  const shards = runs.map((st) => st.identity.shard).filter((sh): sh is string => sh !== undefined);
  if (shards.length === 0) return;
  const count = Number(shards[0]!.split('/')[1]);
  if (shards.length !== runs.length || shards.some((sh) => Number(sh.split('/')[1]) !== count)) {
    throw new UsageError('these results files are not the shards of one split (some are not shards, or were split another way): merge the shards of one --shard i/n run');
  }
  const missing = Array.from({ length: count }, (_, i) => `${i + 1}/${count}`).filter((sh) => !shards.includes(sh));
  if (missing.length) throw new UsageError(`shard ${missing.join(', ')} is missing: pass the results of every shard (a merge of some would leave their rows out)`);
}
