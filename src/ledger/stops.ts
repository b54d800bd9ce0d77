/**
 * The files of `stop`: its results file (`<results>.stop.csv` by default: one row per stop, the
 * original row's input line and ContactId, what came of it — never the row's content) and its state
 * beside it (`<stop file>.run.json`: the results file it stops the tasks of, where it sends, how it
 * ended). Both owner-only; in S3 (by default for results in S3) they are a working copy of objects,
 * checkpointed as a run's results are (remote.ts). A row is appended as soon as its answer is known,
 * so a stop killed at any moment leaves every answered row recorded but at most the one being
 * written, cut short: the next read drops that torn tail, and `--resume` sends it again (a stop is
 * idempotent: it can only find the task ended).
 */
import { closeSync, fstatSync, fsyncSync } from 'node:fs';
import { readFile, truncate } from 'node:fs/promises';
import { CsvError, parse } from 'csv-parse/sync';
import { UsageError } from '../errors.js';
import {
  APPEND_EXISTING,
  CREATE_NEW,
  openRegular,
  openRegularSync,
  READ,
  replaceFileAtomically,
  statePath,
  syncAndClose,
  writeAllSync,
} from './files.js';

export const STOP_COLUMNS = [
  'Result.Line',
  'Result.ContactId',
  'Stop.Status',
  'Stop.Attempts',
  'Stop.ErrorCode',
  'Stop.ErrorMessage',
] as const;

export type StopStatus = 'stopped' | 'already-ended' | 'failed' | 'skipped';
/** A task that needs no stop any more: stopped, or found ended. */
export const STOP_DONE: ReadonlySet<string> = new Set<StopStatus>(['stopped', 'already-ended']);

export interface StopRow {
  line: number;
  contactId: string;
  status: StopStatus;
  attempts: number;
  errorCode?: string;
  errorMessage?: string;
}

/** `x.results.csv` → `x.results.stop.csv`, beside it (`s3://b/runs/x.csv` → `s3://b/runs/x.stop.csv`). */
export function stopResultsPath(resultsPath: string): string {
  return `${resultsPath.endsWith('.csv') ? resultsPath.slice(0, -4) : resultsPath}.stop.csv`;
}

export interface StopState {
  version: 1;
  kind: 'stop';
  /** The results file whose tasks are stopped (absolute path). */
  results: string;
  /** Where the stops go: the run's target. */
  endpoint?: string;
  region?: string;
  instanceId?: string;
  outcome: 'running' | 'completed' | 'interrupted';
  startedAt: string;
  endedAt?: string;
  counts?: Partial<Record<StopStatus, number>>;
}

export async function readStopState(stopPath: string): Promise<StopState | undefined> {
  const text = await readFile(statePath(stopPath), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${statePath(stopPath)}: ${err.code ?? String(err)}`);
  });
  if (text === undefined) return undefined;
  let state: Partial<StopState>;
  try {
    state = JSON.parse(text) as Partial<StopState>;
  } catch {
    state = {};
  }
  if (state.kind !== 'stop' || state.version !== 1 || typeof state.results !== 'string')
    throw new UsageError(`${statePath(stopPath)} is not the state of a stop of this tool: pass another --results`);
  return state as StopState;
}

export async function writeStopState(stopPath: string, state: StopState): Promise<void> {
  await replaceFileAtomically(statePath(stopPath), `${JSON.stringify(state, null, 2)}\n`, 'stop state');
}

/**
 * The rows of a stop file, last row of a line winning (a failed stop sent again later). A torn last
 * row (no line end: the process died while writing it) is cut off the file with `repair`.
 */
export async function readStopRows(
  stopPath: string,
  { repair = true }: { repair?: boolean } = {},
): Promise<{ byLine: Map<number, StopRow>; repairedBytes: number }> {
  const handle = await openRegular(stopPath, READ, 'stop results file');
  let text: string;
  try {
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  let repairedBytes = 0;
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) {
    repairedBytes = Buffer.byteLength(text.slice(end));
    text = text.slice(0, end);
    if (repair) await truncate(stopPath, Buffer.byteLength(text));
  }
  let records: string[][];
  try {
    records = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (err) {
    // csv-parse's own message may quote a cell: the file, the line and the code only.
    if (!(err instanceof CsvError)) throw err;
    throw new UsageError(
      `${stopPath} is not a readable stop results file: broken CSV at line ${err.lines ?? '?'} (${err.code}); ` +
        'fix that row, or pass another --results',
    );
  }
  const header = records[0] ?? [];
  if (STOP_COLUMNS.some((c, i) => header[i] !== c))
    throw new UsageError(
      `${stopPath} is not a stop results file of this tool (its header differs): pass another --results`,
    );
  const byLine = new Map<number, StopRow>();
  for (const r of records.slice(1)) {
    const line = Number(r[0]);
    if (!Number.isInteger(line)) continue;
    byLine.set(line, {
      line,
      contactId: r[1] ?? '',
      status: (r[2] ?? 'failed') as StopStatus,
      attempts: Number(r[3]) || 0,
      ...(r[4] ? { errorCode: r[4] } : {}),
      ...(r[5] ? { errorMessage: r[5] } : {}),
    });
  }
  return { byLine, repairedBytes };
}

/** Appends stop rows: each one written (to the OS) as it comes, synced to disk every so often and at the end. */
export class StopWriter {
  private fd: number;
  private unsynced = 0;
  /** Bytes of the file, every row a whole line: what a checkpoint to S3 may copy. */
  bytes: number;

  constructor(
    private readonly path: string,
    fresh: boolean,
    private readonly guard: () => void,
  ) {
    this.fd = openRegularSync(path, fresh ? CREATE_NEW : APPEND_EXISTING, 'stop results file');
    this.bytes = fstatSync(this.fd).size;
    if (fresh) this.append(`${STOP_COLUMNS.join(',')}\n`);
  }

  private append(text: string): void {
    writeAllSync(this.fd, text, this.path);
    this.bytes += Buffer.byteLength(text);
  }

  write(row: StopRow): void {
    this.guard();
    const cells = [
      String(row.line),
      row.contactId,
      row.status,
      String(row.attempts),
      row.errorCode ?? '',
      (row.errorMessage ?? '').replace(/[\r\n]+/g, ' '),
    ];
    this.append(`${cells.map(cell).join(',')}\n`);
    if (++this.unsynced >= 100) this.sync();
  }

  sync(): void {
    if (this.unsynced === 0) return;
    fsyncSync(this.fd);
    this.unsynced = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      syncAndClose(fd, this.path);
    } catch (err) {
      // The fsync failed: the descriptor is still open.
      closeSync(fd);
      throw err;
    }
  }
}

/** A CSV cell: quoted when it holds a comma, a quote or a leading space. */
function cell(value: string): string {
  return /[",]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
