/**
 * The commands of the model-based test. Each one does to the real tool what a user (or cron) does —
 * run, validate, --resume, rerun, kill -9, SIGTERM, --deadline, change a flag, edit the input or the
 * results file — updates the model, and checks the invariants (model.ts) after the step.
 *
 * Why fast-check's model runner and not a hand-rolled loop: `fc.asyncModelRun` awaits each command,
 * so async child processes fit it as they are; and it hands back the shortest failing sequence and
 * a seed to replay. Its price is that shrinking re-runs whole sequences (seconds each), so the fast
 * mode bounds it with a time limit.
 */
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  allow, base, checkInvariants, sameRows, snapshotFiles, Violation, writeInput,
  type Completed, type FileInfo, type Model,
} from './model.js';
import { DEMO_INSTANCE_ID, FLOWS, readCsv, writeCsvFile, type KillPlan, type Ran, type World } from './world.js';
import { gapBlocks } from './gaps.js';

type Cmd = fc.AsyncCommand<Model, World>;

/** The token namespace of the first real run in this history (what a refusal tells the user to keep). */
function earlierNamespace(m: Model): string | undefined {
  for (const f of m.files.values()) {
    if (f.dry) continue;
    try {
      return (JSON.parse(readFileSync(`${f.path}.run.json`, 'utf8')) as { identity?: { tokenNamespace?: string } }).identity?.tokenNamespace ?? f.ns;
    } catch {
      continue;
    }
  }
  return undefined;
}

function flagArgs(m: Model, world: World): string[] {
  const f = m.flags;
  return [
    '--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', FLOWS[f.flow], '--endpoint', world.emus[f.emu].url,
    '--rate', String(f.rate), '--burst', '10', '--max-attempts', '2', '--log-format', 'json',
  ];
}

/** Steps made, by label, so that a green run shows it actually exercised the tool. */
export const executed = new Map<string, number>();

/** Runs one step: the real command, the transcript line, then every invariant. */
async function step(
  m: Model,
  world: World,
  label: string,
  act: () => Promise<{ ran?: Ran; completed?: Completed; expect?: (ran: Ran) => string | undefined }>,
): Promise<void> {
  const before = snapshotFiles(m);
  const { ran, completed, expect } = await act();
  const key = `${label.replace(/ or \d+ ms/, '').replace(/\d+(\.\d+)?/g, 'n')}${ran ? ` → ${ran.code}` : ''}`;
  executed.set(key, (executed.get(key) ?? 0) + 1);
  const summary = ran ? ` → exit ${ran.code}${ran.signalled ? ' (signalled)' : ''}: ${firstLine(ran)}` : '';
  world.transcript.push(`${label}${summary}`);
  try {
    const wrong = ran && expect?.(ran);
    if (wrong) throw new Violation('m', `${wrong}\n  stderr: ${ran!.stderr.slice(-800)}`);
    checkInvariants(m, world, ran, completed, before);
  } catch (err) {
    if (err instanceof Violation) {
      err.message += `\n  seed of the world ${world.seed}, folder ${world.dir}${process.env.KEEP ? '' : ' (KEEP=1 keeps it)'}\n  history:\n    ${world.transcript.join('\n    ')}`;
    }
    throw err;
  }
}

function firstLine(ran: Ran): string {
  const out = ran.stdout.trim().split('\n')[0] ?? '';
  const err = ran.stderr.trim().split('\n').find((l) => !l.startsWith('{')) ?? '';
  return (out || err).slice(0, 160);
}

/** What the flags would change about a results file's run, or undefined when they match it. */
function differs(m: Model, file: FileInfo | undefined): string | undefined {
  if (!file || file.dry) return undefined;
  const what = [file.emu !== m.flags.emu && 'endpoint', file.flow !== m.flags.flow && 'contact flow'].filter(Boolean);
  return what.length ? what.join(' and ') : undefined;
}

export type RunMode = 'plain' | 'resume' | 'fresh';
export interface RunParams {
  mode: RunMode;
  kill?: Omit<KillPlan, 'resultsPath'>;
  deadline?: number;
}

/** `run` (plain, --resume, or into a fresh results file), optionally killed or cut by --deadline. */
export class RunCommand implements Cmd {
  constructor(readonly p: RunParams) {}

  check(m: Readonly<Model>): boolean {
    return !gapBlocks(m, this);
  }

  kind(): string {
    return this.p.kill ? this.p.kill.signal : this.p.deadline ? 'deadline' : this.p.mode;
  }

  async run(m: Model, world: World): Promise<void> {
    // A new results file for the same input keeps the earlier run's token namespace, as the tool's
    // refusals advise: rows already created are recognised by their tokens (a new namespace would be a
    // new batch of tasks by design, which is not what these sequences model).
    const ns = this.p.mode === 'fresh' ? earlierNamespace(m) : m.files.get(m.results)?.ns;
    if (this.p.mode === 'fresh') m.results = world.path(`tasks.fresh-${++m.freshCount}.results.csv`);
    const path = m.results;
    const file = m.files.get(path);
    const exists = existsSync(path);
    // A dry run's file records nothing sent: any real run replaces it (README), --resume included.
    const fresh = !exists || !file || file.dry;
    const mismatch = fresh ? undefined : differs(m, file);
    const inputChanged = !fresh && !sameRows(file!.rows, m.rows);
    if (fresh) allow(m, m.flags.emu, m.flags.flow, m.rows);
    const resume = this.p.mode === 'resume' || this.p.kill !== undefined || this.p.deadline !== undefined;
    const args = ['run', 'tasks.csv', '--results', base(path), ...flagArgs(m, world), ...(resume ? ['--resume'] : []), ...(ns ? ['--token-namespace', ns] : [])];
    if (this.p.deadline) args.push('--deadline', String(this.p.deadline));
    const excelOnly = !fresh && file!.edited === 'excel' && !mismatch && !inputChanged;
    await step(m, world, this.toString(), async () => {
      const ran = await world.cli(args, this.p.kill && { ...this.p.kill, resultsPath: path });
      const completed = this.settle(m, world, path, fresh, ran);
      const written = m.files.get(path);
      if (written && fresh && ns) written.ns = ns;
      return {
        ran,
        completed,
        expect: (r) => {
          if (r.code === null && this.p.kill?.signal !== 'SIGKILL') return `the run died of a signal: ${r.stderr.slice(0, 200)}`;
          if (mismatch && r.code !== 2 && r.code !== null) return `--results ${base(path)} belongs to a run against another ${mismatch}, yet the run went on (exit ${r.code}) instead of refusing (exit 2)`;
          if (this.p.kill?.signal === 'SIGTERM' && r.signalled && ![0, 1, 2, 3].includes(r.code ?? -1)) return `SIGTERM gave exit ${r.code}, not 3`;
          if (this.p.deadline && ![0, 1, 2, 3].includes(r.code ?? -1)) return `--deadline gave exit ${r.code}, not 3`;
          if (excelOnly && resume && r.code === 2) return `--resume refused a results file saved by a spreadsheet (BOM, CRLF): ${firstLine(r)}`;
          return undefined;
        },
      };
    });
  }

  /** Model update after the real command; returns what a complete run must hold. */
  private settle(m: Model, world: World, path: string, fresh: boolean, ran: Ran): Completed | undefined {
    if (!existsSync(path)) {
      m.files.delete(path);
      return undefined;
    }
    if (fresh && ran.code !== 2) {
      m.files.set(path, { path, emu: m.flags.emu, flow: m.flags.flow, dry: false, rows: structuredClone(m.rows) });
      m.lineage = [path];
    }
    const file = m.files.get(path);
    if (!file) throw new Violation('e', `exit ${ran.code} (a refusal) left ${base(path)} behind`);
    if (ran.code !== 0 && ran.code !== 1) {
      if (ran.code !== 2) file.complete = false;
      return undefined;
    }
    file.rows = structuredClone(m.rows);
    file.edited = undefined;
    file.complete = true;
    return { path, rows: file.rows, emu: m.flags.emu, dry: false };
  }

  toString(): string {
    const how = this.p.kill ? ` then ${this.p.kill.signal} after ${this.p.kill.afterRows} rows${Number.isFinite(this.p.kill.afterMs) ? ` or ${this.p.kill.afterMs} ms` : ''}` : '';
    const mode = this.p.mode === 'fresh' ? 'run --results <new file>' : this.p.mode === 'resume' || this.p.kill || this.p.deadline ? 'run --resume' : 'run';
    return `${mode}${this.p.deadline ? ` --deadline ${this.p.deadline}` : ''}${how}`;
  }
}

export class ValidateCommand implements Cmd {
  check(m: Readonly<Model>): boolean {
    return !gapBlocks(m, this);
  }

  kind(): string {
    return 'validate';
  }

  async run(m: Model, world: World): Promise<void> {
    const path = m.results;
    const file = m.files.get(path);
    const exists = existsSync(path);
    const replace = !exists || !file || file.dry;
    const args = ['validate', 'tasks.csv', '--results', base(path), ...flagArgs(m, world)];
    await step(m, world, this.toString(), async () => {
      const ran = await world.cli(args);
      let completed: Completed | undefined;
      if (replace && (ran.code === 0 || ran.code === 1)) {
        m.files.set(path, { path, emu: m.flags.emu, flow: m.flags.flow, dry: true, rows: structuredClone(m.rows), complete: true });
        m.lineage = [path];
        completed = { path, rows: m.rows, emu: m.flags.emu, dry: true };
      }
      return { ran, completed, expect: (r) => (!replace && r.code !== 2 ? `validate over the results of a real run gave exit ${r.code}, not a refusal` : undefined) };
    });
  }

  toString(): string {
    return 'validate';
  }
}

/** `rerun` of the latest file of the chain (the run's results, or the latest rerun's). */
export class RerunCommand implements Cmd {
  check(m: Readonly<Model>): boolean {
    return m.files.has(m.lineage.at(-1)!) && !gapBlocks(m, this);
  }

  kind(): string {
    return 'rerun';
  }

  async run(m: Model, world: World): Promise<void> {
    const source = m.files.get(m.lineage.at(-1)!)!;
    const root = m.files.get(m.lineage[0]!);
    const out = world.path(`tasks.rr${++m.rerunCount}.csv`);
    const mismatch = differs(m, root);
    // A rerun of a dry run sends its planned rows: a first send of that content, legitimately.
    if (root?.dry) allow(m, m.flags.emu, m.flags.flow, source.rows);
    const args = ['rerun', base(source.path), '--results', base(out), ...flagArgs(m, world)];
    await step(m, world, this.toString(), async () => {
      const ran = await world.cli(args);
      let completed: Completed | undefined;
      if (existsSync(out)) {
        const complete = ran.code === 0 || ran.code === 1;
        m.files.set(out, { path: out, emu: m.flags.emu, flow: m.flags.flow, dry: false, rows: source.rows, complete });
        m.lineage.push(out);
        if (ran.code === 0 || ran.code === 1) completed = { path: out, rows: source.rows, emu: m.flags.emu, dry: false };
      }
      return {
        ran,
        completed,
        expect: (r) => (mismatch && r.code !== 2 ? `rerun against another ${mismatch} than the run it repeats went on (exit ${r.code}) instead of refusing` : undefined),
      };
    });
  }

  toString(): string {
    return 'rerun <latest results>';
  }
}

export type FlagEdit = 'flow' | 'endpoint' | 'rate';
export class FlagCommand implements Cmd {
  constructor(readonly what: FlagEdit) {}
  check(m: Readonly<Model>): boolean {
    return !gapBlocks(m, this);
  }
  kind(): string {
    return `flag-${this.what}`;
  }
  async run(m: Model, world: World): Promise<void> {
    if (this.what === 'flow') m.flags.flow = m.flags.flow === 'F1' ? 'F2' : 'F1';
    if (this.what === 'endpoint') m.flags.emu = m.flags.emu === 'A' ? 'B' : 'A';
    if (this.what === 'rate') m.flags.rate = m.flags.rate === 400 ? 60 : 400;
    world.transcript.push(`${this.toString()} (now endpoint ${m.flags.emu}, flow ${m.flags.flow}, --rate ${m.flags.rate})`);
  }
  toString(): string {
    return `edit flag: ${this.what === 'endpoint' ? '--endpoint <other emulator>' : this.what === 'flow' ? '--contact-flow-id <other flow>' : '--rate'}`;
  }
}

export type InputEdit = { what: 'append'; count: number } | { what: 'fix'; pick: number };
export class EditInputCommand implements Cmd {
  constructor(readonly edit: InputEdit) {}
  check(m: Readonly<Model>): boolean {
    return !gapBlocks(m, this);
  }
  kind(): string {
    return `input-${this.edit.what}`;
  }
  async run(m: Model, world: World): Promise<void> {
    if (this.edit.what === 'append') {
      for (let i = 0; i < this.edit.count; i++) m.rows.push({ id: m.nextId++, version: 1, valid: true, multiline: false });
    } else {
      const row = m.rows[this.edit.pick % m.rows.length]!;
      row.version++;
      row.valid = true;
    }
    writeInput(world, m.rows);
    world.transcript.push(this.toString());
  }
  toString(): string {
    return this.edit.what === 'append' ? `edit input: append ${this.edit.count} rows` : `edit input: fix/change row #${this.edit.pick}`;
  }
}

export type ResultsEdit = 'delete' | 'space' | 'excel';
/** Edits the file a rerun would take next (the run's results until a rerun exists), as in a spreadsheet. */
export class EditResultsCommand implements Cmd {
  constructor(
    readonly what: ResultsEdit,
    readonly pick: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return m.files.has(m.lineage.at(-1)!) && !gapBlocks(m, this);
  }
  kind(): string {
    return `results-${this.what}`;
  }
  async run(m: Model, world: World): Promise<void> {
    const file = m.files.get(m.lineage.at(-1)!)!;
    const csv = readCsv(file.path);
    let note = 'nothing to edit';
    if (csv && csv.rows.length) {
      const rows = csv.rows;
      const status = csv.header.indexOf('Result.Status');
      if (this.what === 'delete') {
        const [gone] = rows.splice(this.pick % rows.length, 1);
        note = `deleted the row of line ${gone![csv.header.indexOf('Result.Line')]}`;
      } else if (this.what === 'space') {
        const r = rows[this.pick % rows.length]!;
        r[status] = `${r[status]} `;
        note = `status of line ${r[csv.header.indexOf('Result.Line')]} is now ${JSON.stringify(r[status])}`;
      } else note = 'saved with a BOM and CRLF line ends';
      const torn = readFileSync(file.path, 'utf8');
      writeCsvFile(file.path, [csv.header, ...rows], this.what === 'excel' || torn.startsWith('\uFEFF'));
      file.edited = file.edited ?? this.what;
      if (file.edited !== this.what) file.edited = 'delete'; // several edits: no longer "only saved by Excel"
    }
    world.transcript.push(`${this.toString()} of ${base(file.path)}: ${note}`);
  }
  toString(): string {
    return this.what === 'delete' ? `edit results: delete row #${this.pick}` : this.what === 'space' ? `edit results: stray space in status of row #${this.pick}` : 'edit results: save as Excel does';
  }
}

/** All commands, weighted toward runs. */
export function commandArbitraries(maxRows: number): fc.Arbitrary<Cmd>[] {
  const pick = fc.nat({ max: 1000 });
  return [
    fc.constantFrom<RunMode>('plain', 'resume', 'resume', 'fresh').map((mode) => new RunCommand({ mode })),
    fc.record({ afterRows: fc.nat({ max: Math.ceil(maxRows / 2) }), afterMs: fc.integer({ min: 50, max: 900 }) }).map(
      (k) => new RunCommand({ mode: 'resume', kill: { signal: 'SIGKILL', ...k } }),
    ),
    // SIGTERM only once a row is written: the handler is installed by then (on a loaded machine the
    // bin can take seconds to start, and a signal before that ends it by default, harmlessly).
    fc.integer({ min: 1, max: Math.max(1, Math.ceil(maxRows / 2)) }).map((afterRows) => new RunCommand({ mode: 'resume', kill: { signal: 'SIGTERM', afterRows, afterMs: Infinity } })),
    fc.constantFrom(0.05, 0.1, 0.2, 0.4).map((deadline) => new RunCommand({ mode: 'resume', deadline })),
    fc.constant(new ValidateCommand()),
    fc.constant(new RerunCommand()),
    fc.constantFrom<FlagEdit>('flow', 'endpoint', 'rate').map((w) => new FlagCommand(w)),
    fc.oneof(fc.integer({ min: 1, max: 3 }).map((count) => ({ what: 'append' as const, count })), pick.map((p) => ({ what: 'fix' as const, pick: p }))).map(
      (e) => new EditInputCommand(e),
    ),
    fc.tuple(fc.constantFrom<ResultsEdit>('delete', 'space', 'excel'), pick).map(([w, p]) => new EditResultsCommand(w, p)),
  ];
}
