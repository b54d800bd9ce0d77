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
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { skipRedis } from '../redis.js';
import { gapBlocks } from './gaps.js';
import {
  allow,
  base,
  type Completed,
  checkCompletedRun,
  checkInvariants,
  checkProcess,
  type FileInfo,
  inputBytes,
  inputName,
  type Model,
  sameRows,
  snapshotFiles,
  Violation,
  writeInput,
} from './model.js';
import { DEMO_INSTANCE_ID, FLOWS, type KillPlan, type Ran, readCsv, type World, writeCsvFile } from './world.js';

type Cmd = fc.AsyncCommand<Model, World>;

/** The token namespace of the first real run in this history (what a refusal tells the user to keep). */
function earlierNamespace(m: Model): string | undefined {
  for (const f of m.files.values()) {
    if (f.dry) continue;
    try {
      return (
        (JSON.parse(readFileSync(`${f.path}.run.json`, 'utf8')) as { identity?: { tokenNamespace?: string } }).identity
          ?.tokenNamespace ?? f.ns
      );
    } catch {}
  }
  return undefined;
}

/** `slow`: a rate (burst 1) that keeps the run going for a few seconds, for a second process to meet it. */
function flagArgs(m: Model, world: World, slow?: number): string[] {
  const f = m.flags;
  return [
    '--instance-id',
    DEMO_INSTANCE_ID,
    '--contact-flow-id',
    FLOWS[f.flow],
    '--endpoint',
    world.emus[f.emu].url,
    '--rate',
    String(slow ?? f.rate),
    '--burst',
    slow ? '1' : '10',
    '--max-attempts',
    '2',
    '--log-format',
    'json',
  ];
}

const nsArgs = (ns: string | undefined) => (ns ? ['--token-namespace', ns] : []);
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const finished = (r: Ran) => r.code === 0 || r.code === 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The files a run owns beside its results file, as bytes (or absent), to prove a refusal left them alone. */
function snapshotRunFiles(path: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const p of [path, `${path}.run.json`, `${path}.timeline.jsonl`])
    out.set(p, existsSync(p) ? readFileSync(p, 'latin1') : undefined);
  return out;
}
function changedRunFiles(before: Map<string, string | undefined>): string | undefined {
  for (const [p, text] of before) {
    const now = existsSync(p) ? readFileSync(p, 'latin1') : undefined;
    if (now !== text)
      return `${base(p)} ${text === undefined ? 'was created' : now === undefined ? 'was removed' : 'changed'}`;
  }
  return undefined;
}

/**
 * A process run beside the step's main command: checked as every process is, and for completeness when it claims it.
 */
interface Other {
  ran: Ran;
  /** Exit 4 is this process's expected answer (it meets a held lock on purpose). */
  lockedOk?: boolean;
  completed?: Completed;
}

/** Steps made, by label, so that a green run shows it actually exercised the tool. */
export const executed = new Map<string, number>();

/** Runs one step: the real command, the transcript line, then every invariant. */
async function step(
  m: Model,
  world: World,
  label: string,
  act: () => Promise<{
    ran?: Ran;
    completed?: Completed;
    expect?: (ran: Ran) => string | undefined;
    others?: Other[];
    note?: string;
  }>,
): Promise<void> {
  const before = snapshotFiles(m);
  const { ran, completed, expect, others = [], note } = await act().finally(() => world.restoreRedis());
  const key = `${label.replace(/ or \d+ ms/, '').replace(/\d+(\.\d+)?/g, 'n')}${ran ? ` → ${ran.code}` : ''}`;
  executed.set(key, (executed.get(key) ?? 0) + 1);
  const summary = ran ? ` → exit ${ran.code}${ran.signalled ? ' (signalled)' : ''}: ${firstLine(ran)}` : '';
  const besides = others
    .map((o) => `\n      ${o.ran.args.slice(0, 4).join(' ')}… → exit ${o.ran.code}: ${firstLine(o.ran)}`)
    .join('');
  world.transcript.push(`${label}${summary}${note ? ` [${note}]` : ''}${besides}`);
  try {
    for (const o of others) checkProcess(o.ran, o.lockedOk);
    const wrong = ran && expect?.(ran);
    if (wrong) throw new Violation('m', `${wrong}\n  stderr: ${ran!.stderr.slice(-800)}`);
    checkInvariants(m, world, ran, completed, before);
    for (const o of others) if (o.completed) checkCompletedRun(world, o.ran, o.completed);
  } catch (err) {
    if (err instanceof Violation) {
      err.message +=
        `\n  seed of the world ${world.seed}, folder ${world.dir}${process.env.KEEP ? '' : ' (KEEP=1 keeps it)'}\n` +
        `  history:\n    ${world.transcript.join('\n    ')}`;
    }
    throw err;
  }
}

function firstLine(ran: Ran): string {
  const out = ran.stdout.trim().split('\n')[0] ?? '';
  const err =
    ran.stderr
      .trim()
      .split('\n')
      .find((l) => !l.startsWith('{')) ?? '';
  return (out || err).slice(0, 160);
}

/** What the flags would change about a results file's run, or undefined when they match it. */
function differs(m: Model, file: FileInfo | undefined): string | undefined {
  if (!file || file.dry) return undefined;
  const what = [file.emu !== m.flags.emu && 'endpoint', file.flow !== m.flags.flow && 'contact flow'].filter(Boolean);
  return what.length ? what.join(' and ') : undefined;
}

export type RunMode = 'plain' | 'resume' | 'fresh';
/** What happens to the shared Redis while a `--redis` run goes on; `twin`: a second run shares it at once. */
export type RedisEvent = 'none' | 'kill' | 'restart' | 'freeze' | 'twin';
export interface RunParams {
  mode: RunMode;
  kill?: Omit<KillPlan, 'resultsPath'>;
  deadline?: number;
  /** With --redis <shared test Redis>: the event, after this many rows or ms. */
  redis?: { event: RedisEvent; afterRows: number; afterMs: number };
  /**
   * A second process with a skewed clock: while this (slow, fresh) run holds the lock, its holder
   * file's mtime is set 2 minutes into the past, then `run --resume` on the same file must be refused (exit 4).
   */
  skew?: boolean;
}

/** `<results>.lock/holder.*.json`, when the lock is held. */
function holderFile(path: string): string | undefined {
  try {
    const name = readdirSync(`${path}.lock`).find((f) => /^holder\..+\.json$/.test(f));
    return name && `${path}.lock/${name}`;
  } catch {
    return undefined;
  }
}

/**
 * `run` (plain, --resume, or into a fresh results file), optionally killed or cut by --deadline, with Redis, or met by
 * a second process.
 */
export class RunCommand implements Cmd {
  constructor(readonly p: RunParams) {}

  check(m: Readonly<Model>): boolean {
    return !gapBlocks(m, this) && !(this.p.redis && skipRedis);
  }

  kind(): string {
    return this.p.kill ? this.p.kill.signal : this.p.deadline ? 'deadline' : this.p.mode;
  }

  async run(m: Model, world: World): Promise<void> {
    // A new results file for the same input keeps the earlier run's token namespace, as the tool's
    // refusals advise: rows already created are recognised by their tokens (a new namespace would be a
    // new batch of tasks by design, which is not what these sequences model). So does a results file
    // not written yet, or only by a dry run (after the input turned gzip: "another input" to the tool).
    const current = m.files.get(m.results);
    const ns =
      this.p.mode === 'fresh' || !current || current.dry || !existsSync(m.results) ? earlierNamespace(m) : current.ns;
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
    const input = inputName(m.gz);
    // Slow (about 3 s whatever the rows) when something must happen while the run is in flight.
    const inFlight = this.p.skew || (this.p.redis && this.p.redis.event !== 'none');
    const slow = inFlight ? Math.max(2, Math.ceil(m.rows.length / 3)) : undefined;
    const args = [
      'run',
      input,
      '--results',
      base(path),
      ...flagArgs(m, world, slow),
      ...(resume ? ['--resume'] : []),
      ...nsArgs(ns),
    ];
    if (this.p.deadline) args.push('--deadline', String(this.p.deadline));
    const redis = this.p.redis && (await world.sharedRedis());
    const redisArgs = redis ? ['--redis', redis.url, '--limiter-id', `model-${world.seed}`] : [];
    args.push(...redisArgs);
    const excelOnly = !fresh && file!.edited === 'excel' && !mismatch && !inputChanged;
    const untouched = snapshotRunFiles(path);
    await step(m, world, this.toString(), async () => {
      const others: Other[] = [];
      let note: string | undefined;
      let plan: KillPlan | undefined = this.p.kill && { ...this.p.kill, resultsPath: path };
      let pending: Promise<void> | undefined;
      let frozenAt: number | undefined;
      const event = this.p.redis?.event;
      if (redis && event && event !== 'none' && event !== 'twin') {
        plan = {
          signal: 'SIGKILL',
          afterRows: this.p.redis!.afterRows,
          afterMs: this.p.redis!.afterMs,
          resultsPath: path,
          act: () => {
            if (event === 'freeze') {
              redis.freeze();
              frozenAt = Date.now();
              world.redisState = 'frozen';
            } else {
              world.redisState = 'down';
              pending = redis.kill().then(async () => {
                if (event !== 'restart') return;
                await sleep(300);
                await redis.start();
                world.redisState = 'up';
              });
            }
            note =
              `Redis ${event === 'freeze' ? 'frozen' : event === 'kill' ? 'killed' : 'killed and restarted'} ` +
              `mid-run`;
          },
        };
      }
      const main = world.spawnCli(args, plan);
      let twin: { path: string; done: Promise<Ran> } | undefined;
      if (event === 'twin') {
        // Another run of the same rows (another results file, the same tokens) sharing the Redis limiter at once.
        const twinPath = world.path(`tasks.twin-${++m.made}.results.csv`);
        allow(m, m.flags.emu, m.flags.flow, m.rows);
        const twinArgs = [
          'run',
          input,
          '--results',
          base(twinPath),
          ...flagArgs(m, world),
          ...nsArgs(ns ?? earlierNamespace(m)),
          ...redisArgs,
        ];
        twin = { path: twinPath, done: world.spawnCli(twinArgs).done };
      }
      let second: Ran | undefined;
      if (this.p.skew) {
        const limit = Date.now() + 20_000;
        let holder: string | undefined;
        while (
          main.child.exitCode === null &&
          main.child.signalCode === null &&
          !(holder = holderFile(path)) &&
          Date.now() < limit
        )
          await sleep(5);
        if (holder && main.child.exitCode === null) {
          const past = new Date(Date.now() - 120_000);
          try {
            utimesSync(holder, past, past);
            second = await world.cli([
              'run',
              input,
              '--results',
              base(path),
              ...flagArgs(m, world),
              '--resume',
              ...nsArgs(ns),
            ]);
          } catch {
            note = 'the holder file went before its mtime was set';
          }
        } else note = 'the run ended before its lock was seen';
      }
      const ran = await main.done;
      await pending;
      if (pending) await world.restoreRedis();
      if (second) {
        others.push({ ran: second, lockedOk: true });
        if (second.code !== 4) {
          // The first run ended before the second looked at the lock: nothing to judge.
          if (ran.endedAt <= second.endedAt && finished(ran))
            note = `the run ended before the second process looked (it gave exit ${second.code})`;
          else note = 'BROKEN';
        } else note = 'the second process was refused (exit 4)';
      }
      // Killed before it touched the results file or its run state: the file is as the last run left it.
      const completed = this.settle(m, world, path, fresh, ran, ran.code === null && !changedRunFiles(untouched));
      const written = m.files.get(path);
      if (written && fresh && ns) written.ns = ns;
      if (twin) {
        const t = await twin.done;
        const complete = finished(t);
        if (existsSync(twin.path))
          m.files.set(twin.path, {
            path: twin.path,
            emu: m.flags.emu,
            flow: m.flags.flow,
            dry: false,
            rows: structuredClone(m.rows),
            complete,
            ns,
            part: 'twin',
          });
        others.push({
          ran: t,
          ...(complete ? { completed: { path: twin.path, rows: m.rows, emu: m.flags.emu, dry: false } } : {}),
        });
      }
      return {
        ran,
        completed,
        others,
        note,
        expect: (r) => {
          if (r.code === null && this.p.kill?.signal !== 'SIGKILL')
            return `the run died of a signal: ${r.stderr.slice(0, 200)}`;
          if (mismatch && r.code !== 2 && r.code !== null)
            return (
              `--results ${base(path)} belongs to a run against another ${mismatch}, yet the run went on ` +
              `(exit ${r.code}) instead of refusing (exit 2)`
            );
          if (this.p.kill?.signal === 'SIGTERM' && r.signalled && ![0, 1, 2, 3].includes(r.code ?? -1))
            return `SIGTERM gave exit ${r.code}, not 3`;
          if (this.p.deadline && ![0, 1, 2, 3].includes(r.code ?? -1)) return `--deadline gave exit ${r.code}, not 3`;
          if (excelOnly && resume && r.code === 2)
            return `--resume refused a results file saved by a spreadsheet (BOM, CRLF): ${firstLine(r)}`;
          if (this.p.redis && ![0, 1, 2].includes(r.code ?? -1))
            return (
              `a --redis run (Redis ${event}) gave exit ${r.code}: a Redis gone or frozen must leave the run ` +
              `pacing alone`
            );
          // A hang guard, not a timing: a run that waited on the frozen Redis took minutes. Counted from the
          // freeze, so that how long the process took to start on a busy machine is not counted.
          if (frozenAt !== undefined && r.endedAt - frozenAt > 30_000)
            return `with Redis frozen the run took ${r.endedAt - frozenAt} ms more: it must fall back within seconds`;
          if (this.p.skew && second) {
            if (!finished(r))
              return `the first run, whose lock a skewed clock made look old, gave exit ${r.code}, not 0 or 1`;
            if (note === 'BROKEN')
              return (
                `run --resume of a results file held by a live run on this host (its holder file 2 minutes old) ` +
                `gave exit ${second.code}, not 4: ${firstLine(second)}`
              );
          }
          return undefined;
        },
      };
    });
  }

  /** Model update after the real command; returns what a complete run must hold. */
  private settle(
    m: Model,
    _world: World,
    path: string,
    fresh: boolean,
    ran: Ran,
    untouched = false,
  ): Completed | undefined {
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
      if (ran.code !== 2 && !untouched) file.complete = false;
      return undefined;
    }
    file.rows = structuredClone(m.rows);
    file.edited = undefined;
    file.complete = true;
    return { path, rows: file.rows, emu: m.flags.emu, dry: false };
  }

  toString(): string {
    const how = this.p.kill
      ? ` then ${this.p.kill.signal} after ${this.p.kill.afterRows} ` +
        `rows${Number.isFinite(this.p.kill.afterMs) ? ` or ${this.p.kill.afterMs} ms` : ''}`
      : '';
    const mode =
      this.p.mode === 'fresh'
        ? 'run --results <new file>'
        : this.p.mode === 'resume' || this.p.kill || this.p.deadline
          ? 'run --resume'
          : 'run';
    const redis = this.p.redis
      ? ` --redis (${this.p.redis.event === 'twin' ? 'a second run sharing it at once' : this.p.redis.event === 'none' ? 'shared' : `Redis ${this.p.redis.event} after ${this.p.redis.afterRows} ` + `rows or ${this.p.redis.afterMs} ms`})`
      : '';
    const skew = this.p.skew ? ' (slow), lock holder file set 2 min into the past, then run --resume on it' : '';
    return `${mode}${this.p.deadline ? ` --deadline ${this.p.deadline}` : ''}${how}${redis}${skew}`;
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
    // validate sends nothing: it takes no --rate, --burst or --max-attempts (passing them is a usage error).
    const args = [
      'validate',
      inputName(m.gz),
      '--results',
      base(path),
      ...flagArgs(m, world).slice(0, 6),
      '--log-format',
      'json',
    ];
    await step(m, world, this.toString(), async () => {
      const ran = await world.cli(args);
      let completed: Completed | undefined;
      if (replace && (ran.code === 0 || ran.code === 1)) {
        m.files.set(path, {
          path,
          emu: m.flags.emu,
          flow: m.flags.flow,
          dry: true,
          rows: structuredClone(m.rows),
          complete: true,
        });
        m.lineage = [path];
        completed = { path, rows: m.rows, emu: m.flags.emu, dry: true };
      }
      return {
        ran,
        completed,
        expect: (r) =>
          !replace && r.code !== 2
            ? `validate over the results of a real run gave exit ${r.code}, not a refusal`
            : undefined,
      };
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
    const sourceSha = existsSync(source.path) ? sha256(source.path) : undefined;
    // A completed run's file, at most re-saved by a spreadsheet (BOM, CRLF, quotes, zeros dropped): a rerun must take
    // it.
    const plainResave =
      !mismatch &&
      !root?.dry &&
      source.complete === true &&
      (source.edited === undefined || source.edited === 'excel' || source.edited === 'resave');
    await step(m, world, this.toString(), async () => {
      const ran = await world.cli(args);
      let completed: Completed | undefined;
      if (existsSync(out)) {
        const complete = ran.code === 0 || ran.code === 1;
        m.files.set(out, {
          path: out,
          emu: m.flags.emu,
          flow: m.flags.flow,
          dry: false,
          rows: source.rows,
          complete,
          sourceSha,
        });
        m.lineage.push(out);
        if (ran.code === 0 || ran.code === 1)
          completed = { path: out, rows: source.rows, emu: m.flags.emu, dry: false };
      }
      return {
        ran,
        completed,
        expect: (r) => {
          if (mismatch && r.code !== 2)
            return (
              `rerun against another ${mismatch} than the run it repeats went on (exit ${r.code}) instead of ` +
              `refusing`
            );
          if (plainResave && r.code === 2)
            return (
              `rerun refused the results of a completed ` +
              `run${source.edited ? ` re-saved by a spreadsheet (${source.edited})` : ''}: ${firstLine(r)}`
            );
          return undefined;
        },
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
    world.transcript.push(
      `${this.toString()} (now endpoint ${m.flags.emu}, flow ${m.flags.flow}, --rate ${m.flags.rate})`,
    );
  }
  toString(): string {
    const flag =
      this.what === 'endpoint'
        ? '--endpoint <other emulator>'
        : this.what === 'flow'
          ? '--contact-flow-id <other flow>'
          : '--rate';
    return `edit flag: ${flag}`;
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
      for (let i = 0; i < this.edit.count; i++)
        m.rows.push({ id: m.nextId++, version: 1, valid: true, multiline: false });
    } else {
      const row = m.rows[this.edit.pick % m.rows.length]!;
      row.version++;
      row.valid = true;
    }
    writeInput(world, m.rows, m.gz);
    world.transcript.push(this.toString());
  }
  toString(): string {
    return this.edit.what === 'append'
      ? `edit input: append ${this.edit.count} rows`
      : `edit input: fix/change row #${this.edit.pick}`;
  }
}

export type ResultsEdit = 'delete' | 'space' | 'excel' | 'resave';
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
    if (csv?.rows.length) {
      const rows = csv.rows;
      const status = csv.header.indexOf('Result.Status');
      if (this.what === 'delete') {
        const [gone] = rows.splice(this.pick % rows.length, 1);
        note = `deleted the row of line ${gone![csv.header.indexOf('Result.Line')]}`;
      } else if (this.what === 'space') {
        const r = rows[this.pick % rows.length]!;
        r[status] = `${r[status]} `;
        note = `status of line ${r[csv.header.indexOf('Result.Line')]} is now ${JSON.stringify(r[status])}`;
      } else if (this.what === 'resave') {
        // What a spreadsheet does to it: the numeric-looking account loses its leading zeros.
        const acct = csv.header.indexOf('Attributes.account');
        let dropped = 0;
        for (const r of rows) {
          if (acct >= 0 && /^0+\d/.test(r[acct]!)) {
            r[acct] = String(Number(r[acct]));
            dropped++;
          }
        }
        note =
          `re-saved by a spreadsheet: BOM, CRLF, every cell quoted, leading zeros dropped from ${dropped} ` +
          `Attributes.account cells`;
      } else note = 'saved with a BOM and CRLF line ends';
      const torn = readFileSync(file.path, 'utf8');
      writeCsvFile(
        file.path,
        [csv.header, ...rows],
        this.what === 'excel' || this.what === 'resave' || torn.startsWith('\uFEFF'),
        this.what === 'resave',
      );
      file.edited = file.edited ?? this.what;
      const saves = new Set(['excel', 'resave']);
      // several edits: no longer "only saved by Excel"
      if (file.edited !== this.what) file.edited = saves.has(file.edited) && saves.has(this.what) ? 'resave' : 'delete';
    }
    world.transcript.push(`${this.toString()} of ${base(file.path)}: ${note}`);
  }
  toString(): string {
    return this.what === 'delete'
      ? `edit results: delete row #${this.pick}`
      : this.what === 'space'
        ? `edit results: stray space in status of row #${this.pick}`
        : this.what === 'resave'
          ? 'edit results: re-save in a spreadsheet (BOM, CRLF, all quoted, zeros dropped)'
          : 'edit results: save as Excel does';
  }
}

/** The results file re-saved by a spreadsheet, then rerun at once (what a user fixing failed rows does). */
export class ResaveRerunCommand implements Cmd {
  private readonly edit = new EditResultsCommand('resave', 0);
  private readonly rerun = new RerunCommand();
  check(m: Readonly<Model>): boolean {
    return this.edit.check(m) && this.rerun.check(m);
  }
  kind(): string {
    return 'rerun';
  }
  async run(m: Model, world: World): Promise<void> {
    await this.edit.run(m, world);
    await this.rerun.run(m, world);
  }
  toString(): string {
    return 're-save the results in a spreadsheet, then rerun';
  }
}

/**
 * The input turned gzip-compressed (whole), or back to plain. Its bytes differ, so to the tool it is
 * another input: the results file of the plain one is refused with it (predicted here), and the
 * history goes on with a fresh results file keeping the token namespace, as the refusal advises.
 */
export class InputFormatCommand implements Cmd {
  check(m: Readonly<Model>): boolean {
    return !gapBlocks(m, this);
  }
  kind(): string {
    return 'input-format';
  }
  async run(m: Model, world: World): Promise<void> {
    const old = m.files.get(m.results);
    m.gz = !m.gz;
    writeInput(world, m.rows, m.gz);
    const label = `${this.toString()} (now ${inputName(m.gz)})`;
    if (old && !old.dry && old.complete && existsSync(old.path) && !differs(m, old)) {
      // The earlier results file with the same rows in the other form: another input, refused.
      const path = old.path;
      const args = [
        'run',
        inputName(m.gz),
        '--results',
        base(path),
        ...flagArgs(m, world),
        '--resume',
        ...nsArgs(old.ns ?? earlierNamespace(m)),
      ];
      await step(
        m,
        world,
        `${label}, then run --resume on the results of the ${m.gz ? 'plain' : 'gzip'} input`,
        async () => {
          const ran = await world.cli(args);
          return {
            ran,
            expect: (r) =>
              r.code !== 2
                ? `the same rows ${m.gz ? 'gzip-compressed' : 'decompressed'} are another input to the tool ` +
                  `(their checksum differs), yet --resume of the earlier results went on (exit ${r.code})`
                : undefined,
          };
        },
      );
    } else world.transcript.push(label);
    m.results = world.path(`tasks.fresh-${++m.freshCount}.results.csv`);
    m.lineage = [m.results];
  }
  toString(): string {
    return 'edit input: switch between plain and gzip (whole)';
  }
}

export type GzDamage = 'flip' | 'trailing' | 'cut';
/**
 * A damaged gzip input (one byte flipped mid-file, garbage after its data, cut short): refused before anything is sent.
 */
export class DamagedGzCommand implements Cmd {
  constructor(
    readonly damage: GzDamage,
    readonly target: 'new' | 'current',
  ) {}
  check(m: Readonly<Model>): boolean {
    return !gapBlocks(m, this);
  }
  kind(): string {
    return 'damaged-gz';
  }
  async run(m: Model, world: World): Promise<void> {
    const whole = inputBytes(m.rows, true);
    const bytes =
      this.damage === 'flip'
        ? (() => {
            const c = Buffer.from(whole);
            c[c.length >> 1]! ^= 0x10;
            return c;
          })()
        : this.damage === 'trailing'
          ? Buffer.concat([whole, Buffer.from('trailing garbage\n')])
          : whole.subarray(0, Math.floor((whole.length * 2) / 3));
    writeFileSync(world.path('tasks.damaged.csv.gz'), bytes);
    const path = this.target === 'new' ? world.path(`tasks.damaged-${++m.made}.results.csv`) : m.results;
    const before = snapshotRunFiles(path);
    const cur = m.files.get(path);
    const args = [
      'run',
      'tasks.damaged.csv.gz',
      '--results',
      base(path),
      ...flagArgs(m, world),
      ...(this.target === 'current' ? ['--resume'] : []),
      ...nsArgs(cur?.ns ?? earlierNamespace(m)),
    ];
    await step(m, world, this.toString(), async () => {
      const ran = await world.cli(args);
      return {
        ran,
        expect: (r) => {
          if (r.code !== 2) return `a damaged gzip input (${this.damage}) gave exit ${r.code}, not a refusal (exit 2)`;
          if (this.target === 'new' && !/is not a whole gzip file/.test(r.stderr + r.stdout))
            return (
              `a damaged gzip input (${this.damage}) was refused without saying it "is not a whole gzip ` +
              `file": ${firstLine(r)}`
            );
          return changedRunFiles(before) && `a damaged gzip input was refused, yet ${changedRunFiles(before)}`;
        },
      };
    });
  }
  toString(): string {
    return (
      `run a damaged .gz ` +
      `(${this.damage === 'flip' ? 'one byte flipped mid-file' : this.damage === 'trailing' ? 'trailing garbage' : 'cut short'}) into ${this.target === 'new' ? 'a new results file' : 'the results file (--resume)'}`
    );
  }
}

/** `merge` output's model entry; then `report` of it must agree with the merge's exit code. */
async function reportOf(world: World, out: string, mergeCode: number | null): Promise<Other & { wrong?: string }> {
  const ran = await world.cli(['report', base(out)]);
  return {
    ran,
    wrong:
      ran.code !== mergeCode ? `report of the merged file gave exit ${ran.code}, the merge ${mergeCode}` : undefined,
  };
}

/**
 * `run --shard i/n` for every i (each its own results file), then `merge` of them all — or of all but
 * one, which must be refused (exit 2, nothing written). Then `report` of the merged file; a rerun
 * takes it next.
 */
export class ShardMergeCommand implements Cmd {
  constructor(
    readonly count: number,
    readonly omit: number | undefined,
  ) {}
  check(m: Readonly<Model>): boolean {
    return !gapBlocks(m, this);
  }
  kind(): string {
    return 'shards';
  }
  async run(m: Model, world: World): Promise<void> {
    const k = ++m.made;
    const ns = earlierNamespace(m);
    const { emu, flow } = m.flags;
    allow(m, emu, flow, m.rows);
    const out = world.path(`tasks.merged-${k}.csv`);
    await step(m, world, this.toString(), async () => {
      const others: Other[] = [];
      const paths: string[] = [];
      for (let i = 1; i <= this.count; i++) {
        const path = world.path(`tasks.s${k}-${i}of${this.count}.csv`);
        const ran = await world.cli([
          'run',
          inputName(m.gz),
          '--shard',
          `${i}/${this.count}`,
          '--results',
          base(path),
          ...flagArgs(m, world),
          ...nsArgs(ns),
        ]);
        paths.push(path);
        others.push({ ran });
        if (existsSync(path))
          m.files.set(path, {
            path,
            emu,
            flow,
            dry: false,
            rows: structuredClone(m.rows),
            complete: finished(ran),
            ns,
            part: `${i}/${this.count}`,
          });
      }
      const shardsDone = others.every((o) => finished(o.ran));
      const given = paths.filter((_, i) => i !== this.omit);
      const ran = await world.cli(['merge', ...given.map(base), '--results', base(out)]);
      let completed: Completed | undefined;
      let report: (Other & { wrong?: string }) | undefined;
      if (existsSync(out)) {
        m.files.set(out, {
          path: out,
          emu,
          flow,
          dry: false,
          rows: structuredClone(m.rows),
          complete: finished(ran),
          ns,
          part: 'merged',
        });
        m.lineage = [out];
        if (finished(ran)) {
          completed = { path: out, rows: m.rows, emu, dry: false };
          report = await reportOf(world, out, ran.code);
          others.push(report);
        }
      }
      const allCreated = others.slice(0, this.count).every((o) => o.ran.code === 0);
      return {
        ran,
        completed,
        others,
        expect: (r) => {
          const bad = others.slice(0, this.count).find((o) => !finished(o.ran));
          if (bad)
            return (
              `run ${bad.ran.args[3]} ${bad.ran.args[4]} of a fresh shard gave ` +
              `exit ${bad.ran.code}: ${firstLine(bad.ran)}`
            );
          if (this.omit !== undefined) {
            if (r.code !== 2)
              return `merge of ${given.length} of ${this.count} shards gave exit ${r.code}, not a refusal`;
            if (existsSync(out)) return 'a refused merge left its --results file behind';
            return undefined;
          }
          if (!shardsDone || !finished(r))
            return `merge of every shard of a completed split gave exit ${r.code}: ${firstLine(r)}`;
          if ((r.code === 0) !== allCreated)
            return `merge gave exit ${r.code}, yet the shards' exit codes were ${others
              .slice(0, this.count)
              .map((o) => o.ran.code)
              .join(', ')}`;
          return report?.wrong;
        },
      };
    });
  }
  toString(): string {
    return (
      `run --shard i/${this.count} for each i, then ` +
      `merge ${this.omit === undefined ? 'them all' : `all but shard ${this.omit + 1}`}`
    );
  }
}

/**
 * `merge` of a run and its reruns (the rerun chain) — taken when every part finished and no rerun's
 * source changed since — or `foreign`: a rerun of another results file merged with this run, refused.
 */
export class MergeCommand implements Cmd {
  constructor(readonly what: 'lineage' | 'foreign') {}
  check(m: Readonly<Model>): boolean {
    if (gapBlocks(m, this) || !m.lineage.every((p) => m.files.has(p) && existsSync(p))) return false;
    return this.what === 'lineage' || this.foreignSource(m) !== undefined;
  }
  kind(): string {
    return `merge-${this.what}`;
  }
  /** A completed real results file not in the chain (another run's, a shard's…). */
  private foreignSource(m: Readonly<Model>): FileInfo | undefined {
    const root = m.files.get(m.lineage[0]!);
    if (!root || root.dry || !root.complete) return undefined;
    return [...m.files.values()].find(
      (f) =>
        !m.lineage.includes(f.path) &&
        !f.dry &&
        f.complete &&
        !f.edited &&
        !f.sourceSha &&
        f.part !== 'merged' &&
        existsSync(f.path),
    );
  }
  async run(m: Model, world: World): Promise<void> {
    const out = world.path(`tasks.merged-${++m.made}.csv`);
    const root = m.files.get(m.lineage[0]!)!;
    if (this.what === 'foreign') return this.foreign(m, world, root, out);
    const parts = m.lineage.map((p) => m.files.get(p)!);
    const unfinished = parts.find((f) => f.dry || !f.complete);
    const sourcesKept = parts.every(
      (f, i) => i === 0 || (f.sourceSha !== undefined && f.sourceSha === sha256(parts[i - 1]!.path)),
    );
    const clean = parts.every((f) => f.edited === undefined || f.edited === 'excel' || f.edited === 'resave');
    await step(m, world, this.toString(), async () => {
      const ran = await world.cli(['merge', ...parts.map((f) => base(f.path)), '--results', base(out)]);
      const others: Other[] = [];
      let completed: Completed | undefined;
      let report: (Other & { wrong?: string }) | undefined;
      if (existsSync(out)) {
        m.files.set(out, {
          path: out,
          emu: root.emu,
          flow: root.flow,
          dry: false,
          rows: structuredClone(root.rows),
          complete: finished(ran),
          ns: root.ns,
          part: 'merged',
        });
        if (finished(ran)) {
          m.lineage = [out];
          if (clean) completed = { path: out, rows: root.rows, emu: root.emu, dry: false };
          report = await reportOf(world, out, ran.code);
          others.push(report);
        }
      }
      return {
        ran,
        completed,
        others,
        expect: (r) => {
          if (r.code === 2 && existsSync(out)) return 'a refused merge left its --results file behind';
          if (finished(r) && !existsSync(out)) return `merge gave exit ${r.code} but wrote no ${base(out)}`;
          if (unfinished && r.code !== 2)
            return (
              `merge took ${base(unfinished.path)}, ${unfinished.dry ? 'a dry run' : 'an unfinished run'} ` +
              `(exit ${r.code})`
            );
          if (!unfinished && sourcesKept && clean && !finished(r))
            return `merge of a run and its reruns gave exit ${r.code}: ${firstLine(r)}`;
          return report?.wrong;
        },
      };
    });
  }
  private async foreign(m: Model, world: World, root: FileInfo, out: string): Promise<void> {
    const other = this.foreignSource(m)!;
    const rr = world.path(`tasks.foreign-rr-${m.made}.csv`);
    await step(m, world, this.toString(), async () => {
      // The other file's own settings (no flags): a rerun of it as its run would have it.
      const rerun = await world.cli([
        'rerun',
        base(other.path),
        '--results',
        base(rr),
        '--max-attempts',
        '2',
        '--log-format',
        'json',
      ]);
      const others: Other[] = [{ ran: rerun }];
      if (existsSync(rr))
        m.files.set(rr, {
          path: rr,
          emu: other.emu,
          flow: other.flow,
          dry: false,
          rows: other.rows,
          complete: finished(rerun),
          sourceSha: sha256(other.path),
        });
      if (!finished(rerun))
        return { others, note: `the rerun of ${base(other.path)} gave exit ${rerun.code}: no merge` };
      const ran = await world.cli(['merge', base(root.path), base(rr), '--results', base(out)]);
      return {
        ran,
        others,
        expect: (r) => {
          if (r.code !== 2)
            return (
              `merge of ${base(root.path)} with a rerun of ${base(other.path)} (another run's results) gave ` +
              `exit ${r.code}, not a refusal`
            );
          if (existsSync(out)) return 'a refused merge left its --results file behind';
          return undefined;
        },
      };
    });
  }
  toString(): string {
    return this.what === 'lineage'
      ? 'merge the run and its reruns, then report'
      : "merge the run with a rerun of another run's results file";
  }
}

export type SummaryTarget = 'results' | 'run.json' | 'timeline.jsonl';
/** `--summary-json` pointed at a file the run owns: refused before anything is sent, nothing changed. */
export class SummaryClashCommand implements Cmd {
  constructor(
    readonly target: SummaryTarget,
    readonly via: 'run' | 'rerun',
  ) {}
  check(m: Readonly<Model>): boolean {
    return (
      !gapBlocks(m, this) && (this.via === 'run' || (m.files.has(m.lineage.at(-1)!) && existsSync(m.lineage.at(-1)!)))
    );
  }
  kind(): string {
    return 'summary-clash';
  }
  async run(m: Model, world: World): Promise<void> {
    const suffix = this.target === 'results' ? '' : `.${this.target}`;
    let path: string;
    let args: string[];
    if (this.via === 'run') {
      path = m.results;
      const cur = m.files.get(path);
      args = [
        'run',
        inputName(m.gz),
        '--results',
        base(path),
        ...flagArgs(m, world),
        '--resume',
        ...nsArgs(cur && !cur.dry ? cur.ns : earlierNamespace(m)),
      ];
    } else {
      path = world.path(`tasks.rr-sj-${++m.made}.csv`);
      args = ['rerun', base(m.lineage.at(-1)!), '--results', base(path), ...flagArgs(m, world)];
    }
    args.push('--summary-json', base(path) + suffix);
    const before = snapshotRunFiles(path);
    await step(m, world, this.toString(), async () => {
      const ran = await world.cli(args);
      return {
        ran,
        expect: (r) => {
          if (r.code !== 2)
            return (
              `--summary-json naming the ${this.via}'s ` +
              `own ${this.target === 'results' ? 'results file' : this.target} gave exit ${r.code}, not a refusal`
            );
          const changed = changedRunFiles(before);
          return changed && `--summary-json was refused, yet ${changed}`;
        },
      };
    });
  }
  toString(): string {
    return (
      `${this.via === 'run' ? 'run --resume' : 'rerun'} --summary-json ` +
      `<its ${this.target === 'results' ? 'results file' : `.${this.target}`}>`
    );
  }
}

/** All commands, weighted toward runs; the newer surfaces each drawn about as often as a run mode. */
export function commandArbitraries(maxRows: number): fc.Arbitrary<Cmd>[] {
  const pick = fc.nat({ max: 1000 });
  const redis = skipRedis
    ? []
    : [
        fc
          .record({
            mode: fc.constantFrom<RunMode>('resume', 'fresh'),
            event: fc.constantFrom<RedisEvent>('none', 'kill', 'restart', 'freeze', 'freeze', 'twin'),
            afterRows: fc.integer({ min: 1, max: Math.ceil(maxRows / 3) }),
            afterMs: fc.integer({ min: 400, max: 2_500 }),
          })
          .map(({ mode, ...redis }) => new RunCommand({ mode, redis })),
      ];
  return [
    fc.constantFrom<RunMode>('plain', 'resume', 'resume', 'fresh').map((mode) => new RunCommand({ mode })),
    fc
      .record({ afterRows: fc.nat({ max: Math.ceil(maxRows / 2) }), afterMs: fc.integer({ min: 50, max: 900 }) })
      .map((k) => new RunCommand({ mode: 'resume', kill: { signal: 'SIGKILL', ...k } })),
    // SIGTERM only once a row is written: the handler is installed by then (on a loaded machine the
    // bin can take seconds to start, and a signal before that ends it by default, harmlessly).
    fc
      .integer({ min: 1, max: Math.max(1, Math.ceil(maxRows / 2)) })
      .map(
        (afterRows) => new RunCommand({ mode: 'resume', kill: { signal: 'SIGTERM', afterRows, afterMs: Infinity } }),
      ),
    fc.constantFrom(0.05, 0.1, 0.2, 0.4).map((deadline) => new RunCommand({ mode: 'resume', deadline })),
    fc.constant(new ValidateCommand()),
    fc.constant(new RerunCommand()),
    fc.constantFrom<FlagEdit>('flow', 'endpoint', 'rate').map((w) => new FlagCommand(w)),
    fc
      .oneof(
        fc.integer({ min: 1, max: 3 }).map((count) => ({ what: 'append' as const, count })),
        pick.map((p) => ({ what: 'fix' as const, pick: p })),
      )
      .map((e) => new EditInputCommand(e)),
    fc.oneof(
      {
        weight: 3,
        arbitrary: fc
          .tuple(fc.constantFrom<ResultsEdit>('delete', 'space', 'excel', 'resave'), pick)
          .map(([w, p]): Cmd => new EditResultsCommand(w, p)),
      },
      { weight: 2, arbitrary: fc.constant<Cmd>(new ResaveRerunCommand()) },
    ),
    // Newer surfaces: gzip input, shards and merge, --summary-json, Redis, a second process meeting the lock.
    fc.oneof(
      { weight: 2, arbitrary: fc.constant(new InputFormatCommand()) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(
            fc.constantFrom<GzDamage>('flip', 'trailing', 'cut'),
            fc.constantFrom<'new' | 'current'>('new', 'current'),
          )
          .map(([d, t]) => new DamagedGzCommand(d, t)),
      },
    ),
    fc.oneof(
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.constantFrom(2, 3),
            fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat({ max: 2 }) }),
          )
          .map(([n, omit]) => new ShardMergeCommand(n, omit === undefined ? undefined : omit % n)),
      },
      {
        weight: 2,
        arbitrary: fc
          .constantFrom<'lineage' | 'foreign'>('lineage', 'lineage', 'foreign')
          .map((w) => new MergeCommand(w)),
      },
    ),
    // The skewed-clock lock step takes about 3 s: drawn half as often as a --summary-json clash.
    fc.oneof(
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.constantFrom<SummaryTarget>('results', 'run.json', 'timeline.jsonl'),
            fc.constantFrom<'run' | 'rerun'>('run', 'rerun'),
          )
          .map(([t, v]) => new SummaryClashCommand(t, v)),
      },
      { weight: 1, arbitrary: fc.constant(new RunCommand({ mode: 'fresh', skew: true })) },
    ),
    ...redis,
  ];
}
