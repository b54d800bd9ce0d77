/**
 * The tiny model of the model-based test: what the input holds, which flags the user passes, which
 * results files exist and which run each belongs to (its identity: endpoint, flow, the input rows it
 * was made from) — and the invariants every step of the real tool must keep.
 *
 * Row identity for "no row has two tasks": the row's id (Attributes.rowId) and its content (the
 * task Name carries the row's version), on one endpoint, under one routing. A row fixed or changed
 * in the input is a different task; a row appended is a new one; an unchanged row stays the same task
 * whatever the user does between runs. A fresh run the user routes elsewhere (another flow, another
 * endpoint) legitimately makes a task there too; a resume or rerun never may.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Emulator } from '../../src/emulator/server.js';
import { csvText, type EmuName, type FlowName, type Ran, readCsv, STEP_LIMIT_MS, type World } from './world.js';

export interface Row {
  id: number;
  version: number;
  valid: boolean;
  /** A Description with a line break inside the cell (multi-line records shift Result.Line). */
  multiline: boolean;
}

export interface Flags {
  emu: EmuName;
  flow: FlowName;
  rate: number;
}

/** What the model knows of one results file. */
export interface FileInfo {
  path: string;
  /** The run's identity: where it sends, and the rows it covers. */
  emu: EmuName;
  flow: FlowName;
  dry: boolean;
  rows: Row[];
  /** The last command that wrote it finished the run (exit 0 or 1). */
  complete?: boolean;
  /** The harness edited it (as a user in a spreadsheet would) since the tool last wrote it. */
  edited?: 'delete' | 'space' | 'excel' | 'resave';
  /** The token namespace its run was given (a fresh results file keeps the earlier run's, as the tool advises). */
  ns?: string;
  /** A rerun's: the SHA-256 of the file it reran, as it was then (a merge takes it only while that holds). */
  sourceSha?: string;
  /** Made by `run --shard i/n` (its value), or by `merge` ('merged'), or a twin run sharing a Redis. */
  part?: string;
}

export interface Model {
  rows: Row[];
  nextId: number;
  flags: Flags;
  /** The results file run / --resume / validate write to. */
  results: string;
  freshCount: number;
  files: Map<string, FileInfo>;
  /** The rerun chain from `results`: a rerun takes the last. */
  lineage: string[];
  /** `${emu}|${rowId}|${name}` → the flows under which a run legitimately sent that content there. */
  allowed: Map<string, Set<FlowName>>;
  rerunCount: number;
  /** The input is written gzip-compressed (tasks.csv.gz) rather than plain (tasks.csv). */
  gz: boolean;
  /** Files made by merges, shards, twins…: a counter for their names. */
  made: number;
}

export const HEADER = ['Name', 'Description', 'Attributes.rowId', 'Attributes.account', 'Notes'];

export const taskName = (r: Row) => (r.valid ? `Task ${r.id} v${r.version}` : '');
/** A numeric-looking attribute with leading zeros: what a spreadsheet re-save turns into another value. */
export const account = (r: Row) => `00${4700 + r.id}`;
/** Customer values (task names and descriptions of the input): never in the tool's stdout or stderr. */
const CUSTOMER_VALUE = /Task \d+ v\d+|Descr \d+/;

export function initialModel(world: World, rowCount: number, invalidEvery: number): Model {
  const rows: Row[] = [];
  for (let id = 1; id <= rowCount; id++)
    rows.push({ id, version: 1, valid: id % invalidEvery !== 0, multiline: id % 4 === 2 });
  return {
    rows,
    nextId: rowCount + 1,
    flags: { emu: 'A', flow: 'F1', rate: 400 },
    results: world.path('tasks.results.csv'),
    freshCount: 0,
    files: new Map(),
    lineage: [world.path('tasks.results.csv')],
    allowed: new Map(),
    rerunCount: 0,
    gz: false,
    made: 0,
  };
}

/** The input file's name in the world's folder: plain or gzip-compressed. */
export const inputName = (gz: boolean) => (gz ? 'tasks.csv.gz' : 'tasks.csv');

/** The input's bytes: its CSV text, gzip-compressed (whole) when `gz`. */
export function inputBytes(rows: Row[], gz: boolean): Buffer {
  const text = csvText([
    HEADER,
    ...rows.map((r) => [
      taskName(r),
      r.multiline ? `Descr ${r.id}\nsecond line` : `Descr ${r.id}`,
      String(r.id),
      account(r),
      `note ${r.id}`,
    ]),
  ]);
  return gz ? gzipSync(text) : Buffer.from(text);
}

export function writeInput(world: World, rows: Row[], gz = false): void {
  writeFileSync(world.path(inputName(gz)), inputBytes(rows, gz));
}

/** The physical line each row starts on (1 = header), as the tool must record it. */
export function linesOf(rows: Row[]): Map<number, Row> {
  const map = new Map<number, Row>();
  let line = 2;
  for (const r of rows) {
    map.set(line, r);
    line += r.multiline ? 2 : 1;
  }
  return map;
}

export const sameRows = (a: Row[], b: Row[]) => JSON.stringify(a) === JSON.stringify(b);

/** Records that a fresh run legitimately sends these rows' content to `emu` under `flow`. */
export function allow(m: Model, emu: EmuName, flow: FlowName, rows: Row[]): void {
  for (const r of rows) {
    if (!r.valid) continue;
    const key = `${emu}|${r.id}|${taskName(r)}`;
    if (!m.allowed.has(key)) m.allowed.set(key, new Set());
    m.allowed.get(key)!.add(flow);
  }
}

/** An invariant broken: the letter names it (a–e as in the test's header, m = the model's prediction). */
export class Violation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`invariant (${invariant}) broken: ${detail}`);
  }
}

const FINAL = new Set(['created', 'failed', 'invalid']);

export interface Completed {
  /** The results file the command wrote and claims complete (exit 0 or 1). */
  path: string;
  /** The input rows it must cover. */
  rows: Row[];
  /** The endpoint the flags point at. */
  emu: EmuName;
  dry: boolean;
}

/**
 * What every process must keep, whatever it was asked: (d) no exit 70 and no stack trace (nor exit 4
 * or 130 unless a second process was started on purpose to meet a held lock); (p) no customer value
 * in its stdout or stderr; (t) done within STEP_LIMIT_MS.
 */
export function checkProcess(ran: Ran, lockedOk = false): void {
  if (ran.timedOut)
    throw new Violation(
      't',
      `${ran.args.slice(0, 2).join(' ')} still running after ${STEP_LIMIT_MS} ms: killed. ` +
        `stderr: ${ran.stderr.slice(-600)}`,
    );
  if (ran.code === 70 || /\n\s+at .+[:(]\d+:\d+\)?/.test(ran.stderr) || /internal error/.test(ran.stderr)) {
    throw new Violation('d', `exit ${ran.code}, stderr: ${ran.stderr.slice(0, 600)}`);
  }
  if ((ran.code === 4 && !lockedOk) || ran.code === 130)
    throw new Violation('d', `exit ${ran.code} in a sequential history; stderr: ${ran.stderr.slice(0, 300)}`);
  const leak = CUSTOMER_VALUE.exec(`${ran.stdout}\n${ran.stderr}`);
  if (leak) {
    const text = `${ran.stdout}\n${ran.stderr}`;
    throw new Violation(
      'p',
      `${ran.args.slice(0, 2).join(' ')} printed the customer value ${JSON.stringify(leak[0])}: ` +
        `…${text.slice(Math.max(0, leak.index - 200), leak.index + 100)}…`,
    );
  }
}

/** Checks (a)–(e), (p), (t) after one command. `completed` is set when the command reported a complete run. */
export function checkInvariants(
  m: Model,
  world: World,
  ran: Ran | undefined,
  completed: Completed | undefined,
  before: Map<string, string>,
): void {
  if (ran) {
    checkProcess(ran);
    // (e) a refusal sends nothing and leaves the results files as they were.
    if (ran.code === 2) {
      if (ran.requests.A + ran.requests.B > 0)
        throw new Violation('e', `exit 2 but ${JSON.stringify(ran.requests)} requests were sent`);
      for (const [path, text] of before) {
        const now = existsSync(path) ? readFileSync(path, 'utf8') : '<gone>';
        if (now !== text) throw new Violation('e', `exit 2 but ${path} changed`);
      }
    }
  }
  // (a) at most one row per input record in every results file…
  for (const file of m.files.values()) {
    const csv = readCsv(file.path);
    if (!csv || csv.header.length === 0) continue;
    const lineCol = csv.header.indexOf('Result.Line');
    const seen = new Set<string>();
    for (const r of csv.rows) {
      if (seen.has(r[lineCol]!))
        throw new Violation('a', `${base(file.path)} holds two rows for input line ${r[lineCol]}`);
      seen.add(r[lineCol]!);
    }
  }
  // …and exactly one final row once a run reports complete.
  if (completed) checkComplete(completed, ran);
  // (b) no row content has more tasks on an endpoint than routings a fresh run legitimately used.
  for (const emu of ['A', 'B'] as const) checkTasks(m, emu, world.emus[emu]);
  // (c) exit 0 only when every row is created where the flags point.
  if (ran?.code === 0 && completed && !completed.dry) checkAllCreated(completed, world.emus[completed.emu]);
}

/** (a) and (c) for a run other than the step's main command (a twin, a merge's parts). */
export function checkCompletedRun(world: World, ran: Ran, c: Completed): void {
  checkComplete(c, ran);
  if (ran.code === 0 && !c.dry) checkAllCreated(c, world.emus[c.emu]);
}

function checkComplete(c: Completed, ran: Ran | undefined): void {
  const csv = readCsv(c.path);
  const why = `after exit ${ran?.code} (${ran?.args.slice(0, 2).join(' ')})`;
  if (!csv) throw new Violation('a', `${base(c.path)} missing ${why}`);
  const lineCol = csv.header.indexOf('Result.Line');
  const statusCol = csv.header.indexOf('Result.Status');
  const idCol = csv.header.indexOf('Attributes.rowId');
  const expected = linesOf(c.rows);
  const got = new Map(csv.rows.map((r) => [Number(r[lineCol]), r]));
  const missing = [...expected.keys()].filter((l) => !got.has(l));
  if (missing.length)
    throw new Violation('a', `${base(c.path)} lacks rows for input lines ${missing.join(', ')} ${why}`);
  const extra = [...got.keys()].filter((l) => !expected.has(l));
  if (extra.length)
    throw new Violation('a', `${base(c.path)} has rows for lines ${extra.join(', ')} that are no input record ${why}`);
  for (const [line, r] of got) {
    if (r[idCol] !== String(expected.get(line)!.id))
      throw new Violation('a', `${base(c.path)} line ${line} holds row ${r[idCol]}, not ${expected.get(line)!.id}`);
    // Stray spaces and capitals a spreadsheet left are forgiven by the tool (README): read as it reads.
    const status = r[statusCol]!.trim().toLowerCase();
    if (!(c.dry ? status === 'planned' || status === 'invalid' : FINAL.has(status))) {
      throw new Violation('a', `${base(c.path)} line ${line} has status ${JSON.stringify(status)} ${why}`);
    }
  }
}

function checkTasks(m: Model, emu: EmuName, e: Emulator): void {
  const counts = new Map<string, number>();
  for (const t of e.service.tasks) {
    const key = `${emu}|${t.Attributes?.rowId}|${t.Name}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const [key, n] of counts) {
    const limit = Math.max(1, m.allowed.get(key)?.size ?? 0);
    if (n > limit)
      throw new Violation('b', `row ${key} has ${n} tasks on endpoint ${emu} (routings legitimately used: ${limit})`);
  }
}

function checkAllCreated(c: Completed, e: Emulator): void {
  const csv = readCsv(c.path)!;
  const col = (n: string) => csv.header.indexOf(n);
  const byLine = new Map(csv.rows.map((r) => [Number(r[col('Result.Line')]), r]));
  const contactIds = new Set(e.service.tasks.map((t) => t.ContactId));
  for (const [line, row] of linesOf(c.rows)) {
    if (!row.valid) throw new Violation('c', `exit 0 but line ${line} (row ${row.id}) is invalid in the input`);
    const made = e.service.tasks.some((t) => t.Attributes?.rowId === String(row.id) && t.Name === taskName(row));
    if (!made)
      throw new Violation('c', `exit 0 but row ${row.id} (${taskName(row)}) was never created on endpoint ${c.emu}`);
    const r = byLine.get(line);
    if (r && r[col('Result.Status')] === 'created' && !contactIds.has(r[col('Result.ContactId')]!)) {
      throw new Violation('c', `exit 0 but line ${line}'s ContactId is not a task of endpoint ${c.emu}`);
    }
  }
}

/** Contents of every results file the model knows, to prove a refusal left them alone. */
export function snapshotFiles(m: Model): Map<string, string> {
  const out = new Map<string, string>();
  for (const path of m.files.keys()) if (existsSync(path)) out.set(path, readFileSync(path, 'utf8'));
  return out;
}

const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);

export { base };
