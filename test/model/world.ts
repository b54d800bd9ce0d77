/**
 * The real side of the model-based test: a temp folder, two emulators (two endpoints the flags can
 * point at, each with faults and a little throttling), the input file, and the compiled bin run as
 * a child process — killed for real when a command says so.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { skipRedis, startRedis, type TestRedis } from '../redis.js';

export const BIN = resolve(import.meta.dirname, '../../dist/cli.js');
/** A second flow both emulators know, for "edit a flag: another --contact-flow-id". */
export const OTHER_FLOW_ID = '00000000-0000-4000-8000-0000000f2000';
export const FLOWS = { F1: DEMO_CONTACT_FLOW_ID, F2: OTHER_FLOW_ID } as const;
export type FlowName = keyof typeof FLOWS;
export type EmuName = 'A' | 'B';

export interface Ran {
  args: string[];
  /** null when the harness killed it (SIGKILL). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Whether the harness sent a signal while the child was still running. */
  signalled: boolean;
  /** Requests each emulator received while the command ran (other processes running at once included). */
  requests: Record<EmuName, number>;
  /** The harness killed it (SIGKILL) because it outlived STEP_LIMIT_MS. */
  timedOut: boolean;
  /** Wall-clock start and end (ms since the epoch). */
  startedAt: number;
  endedAt: number;
}

/** No command may take longer than this (a frozen Redis, a lock wait, a hang: all bounded). */
export const STEP_LIMIT_MS = Number(process.env.STEP_LIMIT_MS ?? 60_000);

export interface KillPlan {
  signal: 'SIGKILL' | 'SIGTERM';
  /** Instead of a signal to the child, do this (to Redis, a lock file…) at that moment. */
  act?: (child: ChildProcess) => void;
  /** Kill once the run has added this many rows to the results file… */
  afterRows: number;
  /** …or after this many ms, whichever comes first. */
  afterMs: number;
  resultsPath: string;
}

export class World {
  readonly dir: string;
  readonly input: string;
  /** Human transcript of what was done, for a failure report. */
  readonly transcript: string[] = [];

  /** A redis-server shared by the runs that pass --redis (started on first use). */
  redis?: TestRedis;
  /** What the history did to it: the harness restores it after each step. */
  redisState: 'up' | 'down' | 'frozen' = 'up';

  private constructor(
    readonly emus: Record<EmuName, Emulator>,
    readonly seed: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'ctl-model-'));
    this.input = join(this.dir, 'tasks.csv');
  }

  /** `faults: false` for the recorded sequences, whose outcome must not hang on a draw. */
  static async start(seed: number, faults = true): Promise<World> {
    const make = async (salt: number) => {
      // Throttling: the service's quota (300/s, burst 4) is below what the runs ask for.
      const e = await startEmulator({
        rate: 300,
        burst: 4,
        latencyMs: 5,
        latencyJitterMs: 20,
        faults: faults ? { failBefore: 0.12, failAfter: 0.08, resetAfter: 0.04, seed: seed * 2 + salt } : {},
      });
      e.service.addInstance(DEMO_INSTANCE_ID, { contactFlows: [OTHER_FLOW_ID] });
      return e;
    };
    return new World({ A: await make(0), B: await make(1) }, seed);
  }

  async close(): Promise<void> {
    if (this.redis) {
      this.redis.thaw();
      await this.redis.kill();
    }
    await Promise.all([this.emus.A.close(), this.emus.B.close()]);
    if (!process.env.KEEP) rmSync(this.dir, { recursive: true, force: true });
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  requests(): Record<EmuName, number> {
    return { A: this.emus.A.stats().requests, B: this.emus.B.stats().requests };
  }

  /** The shared Redis, started on first use (undefined when redis-server is not installed). */
  async sharedRedis(): Promise<TestRedis | undefined> {
    if (skipRedis) return undefined;
    this.redis ??= await startRedis();
    return this.redis;
  }

  /** Puts Redis back as a step found it: thawed and running. */
  async restoreRedis(): Promise<void> {
    if (!this.redis) return;
    if (this.redisState === 'frozen') this.redis.thaw();
    if (this.redisState === 'down') await this.redis.start();
    this.redisState = 'up';
  }

  /** Runs the bin; with `kill`, signals it (or acts) mid-run. */
  cli(args: string[], kill?: KillPlan): Promise<Ran> {
    return this.spawnCli(args, kill).done;
  }

  /** Starts the bin and hands back the child (for a second process to meet it) and its outcome. */
  spawnCli(args: string[], kill?: KillPlan): { child: ChildProcess; done: Promise<Ran> } {
    const before = this.requests();
    const startedAt = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const done = new Promise<Ran>((resolveRan) => {
      let stdout = '';
      let stderr = '';
      let signalled = false;
      let timedOut = false;
      let exited = false;
      child.stdout!.on('data', (d: Buffer) => (stdout += d));
      child.stderr!.on('data', (d: Buffer) => (stderr += d));
      const timer =
        kill &&
        this.watch(
          child,
          kill,
          () => !exited,
          () => (signalled = kill.act === undefined),
        );
      const limit = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, STEP_LIMIT_MS);
      child.on('close', (code) => {
        exited = true;
        if (timer) clearInterval(timer);
        clearTimeout(limit);
        const after = this.requests();
        resolveRan({
          args,
          code,
          stdout,
          stderr,
          signalled,
          timedOut,
          startedAt,
          endedAt: Date.now(),
          requests: { A: after.A - before.A, B: after.B - before.B },
        });
      });
      child.on('exit', () => (exited = true));
    });
    return { child, done };
  }

  private watch(child: ChildProcess, kill: KillPlan, alive: () => boolean, mark: () => void): NodeJS.Timeout {
    const start = Date.now();
    // Rows this run writes, not those an earlier run left (a resume starts with them).
    const baseline = countRows(kill.resultsPath);
    const timer = setInterval(() => {
      if (!alive()) return clearInterval(timer);
      if (Date.now() - start < kill.afterMs && countRows(kill.resultsPath) - baseline < kill.afterRows) return;
      clearInterval(timer);
      mark();
      if (kill.act) kill.act(child);
      else child.kill(kill.signal);
    }, 5);
    return timer;
  }
}

/** Data rows in a results file (newline count less the header), cheaply, for the kill trigger. */
function countRows(path: string): number {
  try {
    if (statSync(path).size === 0) return 0;
    const text = readFileSync(path, 'utf8');
    return Math.max(0, text.split('\n').length - 2);
  } catch {
    return 0;
  }
}

export type CsvRecord = string[];

/** Parses a results file as any CSV reader would (BOM and CRLF allowed); a torn tail is dropped. */
export function readCsv(path: string): { header: CsvRecord; rows: CsvRecord[] } | undefined {
  if (!existsSync(path)) return undefined;
  let text = readFileSync(path, 'utf8');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      // Both line ends: a file saved by a spreadsheet (CRLF) and then appended to by a run (LF) holds both.
      const all = parse(text, {
        bom: true,
        relax_column_count: true,
        skip_empty_lines: true,
        record_delimiter: ['\r\n', '\n'],
      }) as CsvRecord[];
      const [header, ...rows] = all;
      if (!header) return { header: [], rows: [] };
      // A record cut short by a kill has fewer cells: it is the torn tail, not a row.
      return { header, rows: rows.filter((r) => r.length === header.length) };
    } catch {
      text = text.slice(0, text.lastIndexOf('\n', text.length - 2) + 1); // torn inside a quoted cell
    }
  }
  return undefined;
}

/** The CSV text of these records (`excel`: CRLF; `quoteAll`: every cell quoted, as some spreadsheets save). */
export function csvText(records: CsvRecord[], excel = false, quoteAll = false): string {
  // Cells with a line break are quoted, as a spreadsheet quotes them (csv-stringify alone quotes only
  // cells holding the record delimiter, which for CRLF leaves a bare LF unquoted).
  return stringify(records, {
    record_delimiter: excel ? 'windows' : 'unix',
    quoted_match: /[\r\n]/,
    ...(quoteAll ? { quoted: true, quoted_empty: true } : {}),
  });
}

export function writeCsvFile(path: string, records: CsvRecord[], excel = false, quoteAll = false): void {
  const text = csvText(records, excel, quoteAll);
  writeFileSync(path, excel ? `\uFEFF${text}` : text);
}

export { DEMO_INSTANCE_ID };
