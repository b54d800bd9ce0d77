/**
 * Results in S3 (`--results s3://bucket/prefix/name.csv`), for runs in containers whose disk dies with
 * them. The run works on a local working copy in a private temporary folder — the results file, its
 * run state, timeline and lock, exactly as for a local run — and S3 holds what survives:
 *
 * - `<key>.parts/<generation>/000001.csv`, `000002.csv`…: checkpoints, each the bytes the results
 *   file took since the one before (whole groups of rows as the writer committed them; the first
 *   holds the header), written create-only (`If-None-Match: *`) every `--checkpoint-interval`
 *   seconds and whenever 8 MiB are waiting. The parts of the generation the run state names, in
 *   order, are the ledger: a new working copy is their concatenation. A run that starts the results
 *   afresh (a first run, or a real run replacing a dry run's) starts a new generation.
 * - `<key>.run.json`: the run state (and the generation), written when the run starts — before its
 *   first request — and when it ends.
 * - `<key>`: the results file, uploaded whole at every end (completed or interrupted), then its
 *   timeline `<key>.timeline.jsonl`, then the state: a state that says `completed` follows a whole
 *   results object, which is then the ledger (its parts are removed).
 * - `<key>.lease`: one run at a time (lease.ts).
 *
 * `stop` keeps its stop file (stops.ts) and its state in S3 the same way, as a ledger of its own.
 *
 * A row whose request was sent but whose result was not yet in a checkpoint when the container died
 * is sent again by the resumed run — with the same ClientToken, since the input (pinned to its
 * version) and the settings (the run state) are the same, so the service answers with the task it
 * already created: nothing is created twice. At most `--checkpoint-interval` seconds of rows are sent
 * again that way.
 */
import { closeSync, createWriteStream, existsSync, openSync, readSync } from 'node:fs';
import { open, readFile, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { LockLostError, ResultsSaveError, S3UnavailableError, StoppedError, UsageError } from '../errors.js';
import { describeS3Error, isPreconditionFailed, s3Failure } from '../s3/client.js';
import { headIfAny, headObject, objectBytes, objectStream, type Pin } from '../s3/object.js';
import { keyFolder, keyName, parseS3Url, type S3Location, s3Url } from '../s3/url.js';
import { deleteKeys, getObject, listKeys, putObject, uploadFile } from '../s3/write.js';
import type { Logger } from '../types.js';
import { replaceFileAtomically, statePath, timelinePath } from './files.js';
import { acquireLease, type Lease } from './lease.js';
import { privateTempDir } from './spool.js';

const PREFIX = 'connect-task-loader-s3-';
/** A checkpoint part holds at most this much: memory stays bounded however fast rows come. */
const PART_MAX = 8 * 1024 * 1024;
/** Rounds of our own after the SDK's attempts, before checkpoints count as failed. */
const ROUNDS = 2;

interface RemoteState {
  checkpoints?: { generation?: string };
}

export class RemoteResults {
  private lease: Lease | undefined;
  /** The version of the results object a pull read (a completed run's), to pin a resumed rerun to. */
  version: Pin | undefined;
  private generation: string | undefined;
  private nextPart = 1;
  /** Bytes of the working copy S3 holds in parts. */
  private saved = 0;
  private pulled = 0;
  private committed: (() => number) | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastCheckpoint = 0;
  private readonly stopped = new AbortController();
  /** Aborted when the run must stop: the lease lost, or checkpoints that cannot be written. */
  readonly signal: AbortSignal;

  private constructor(
    private readonly client: S3Client,
    readonly at: S3Location,
    private readonly dir: string,
    /** The working copy of the results file. */
    readonly local: string,
    /** A stop (a signal) before the run began: taking the lease and reading S3 give up at once. */
    private readonly cancel: AbortSignal | undefined,
  ) {
    this.signal = this.stopped.signal;
  }

  get url(): string {
    return s3Url(this.at);
  }

  /**
   * A working folder for the results object at `url` (nothing read or written in S3 yet). `cancel`
   * stops taking the lease and reading S3 at once (StoppedError: nothing was sent).
   */
  static async open(client: S3Client, url: string, what = '--results', cancel?: AbortSignal): Promise<RemoteResults> {
    const at = parseS3Url(url, what);
    const dir = await realpath(await privateTempDir(PREFIX));
    return new RemoteResults(client, at, dir, join(dir, keyName(at.key)), cancel);
  }

  /** A failure while the run was being stopped is that stop, said as such. */
  private stoppedWhile(doing: string, err: unknown): unknown {
    return this.cancel?.aborted
      ? new StoppedError(`stopped while ${doing} ${this.url}: nothing was sent; run the command again`, { cause: err })
      : err;
  }

  /** The object beside the results: `<key><suffix>`. */
  private beside(suffix: string): S3Location {
    return { bucket: this.at.bucket, key: `${this.at.key}${suffix}` };
  }

  /** Names in the working folder as the S3 objects they stand for, in any text (messages, the summary). */
  names(text: string): string {
    return text.split(`${this.dir}/`).join(`s3://${this.at.bucket}/${keyFolder(this.at.key)}`);
  }

  /** Takes the lease (exit 4 while another run holds it); after this the run may write. */
  async take(): Promise<void> {
    try {
      this.lease = await acquireLease(this.client, this.at, this.cancel);
    } catch (err) {
      throw this.stoppedWhile('taking the lease of', err);
    }
    this.lease.signal.addEventListener('abort', () => this.stopped.abort(this.lease!.signal.reason), { once: true });
  }

  /** Throws LockLostError once the lease is lost (or may be), or another run wrote our checkpoints. */
  assertHeld(): void {
    this.lease?.assertHeld();
    if (this.failure instanceof LockLostError) throw this.failure;
  }

  /**
   * The working copy as S3 holds it: the run state, then the results — the object itself after a
   * completed run, else the checkpoints of the state's generation, in order — and the timeline.
   */
  async pull(pin?: Pin): Promise<void> {
    try {
      await this.pullFrom(pin);
    } catch (err) {
      throw this.stoppedWhile('reading', err);
    }
  }

  private async pullFrom(pin: Pin | undefined): Promise<void> {
    const cancel = this.cancel;
    const state = await this.fetch(this.beside('.run.json'), 'run state');
    // An object without a run state (not a run's, or its state removed): the file alone, refused or reported as such.
    if (!state) return this.pullAlone();
    await replaceFileAtomically(statePath(this.local), state.toString('utf8'));
    let parsed: { outcome?: string } & RemoteState = {};
    try {
      parsed = JSON.parse(state.toString('utf8'));
    } catch {
      // readState names it (not a run state of this tool), beside the file it stands for: never a fresh run over it.
      return this.pullAlone();
    }
    const generation = parsed.checkpoints?.generation;
    // Not the state of an S3 run of this tool (no checkpoints, not completed): the object as it is, for readState to judge.
    if (parsed.outcome !== 'completed' && !generation) return this.pullAlone();
    // After a completed run the whole object is the ledger: whatever is written next starts a new generation.
    this.generation = parsed.outcome === 'completed' ? undefined : generation;
    const out = () => createWriteStream(this.local, { flags: 'wx', mode: 0o600 });
    try {
      if (parsed.outcome === 'completed') {
        const whole = pin
          ? await headObject(this.client, this.at, pin, cancel)
          : await headIfAny(this.client, this.at, cancel);
        if (whole) await pipeline(objectStream(this.client, this.at, whole, { signal: cancel }), out());
        this.version = whole && { ...(whole.versionId ? { versionId: whole.versionId } : {}), etag: whole.etag };
      } else if (this.generation) {
        const parts = await listKeys(this.client, this.at.bucket, this.partsPrefix(), cancel);
        if (parts.length) {
          const file = await open(this.local, 'wx', 0o600);
          try {
            for (const key of parts) {
              const at = { bucket: this.at.bucket, key };
              const version = await headIfAny(this.client, at, cancel);
              if (!version) throw new UsageError(`checkpoint ${s3Url(at)} disappeared while it was read: run again`);
              for await (const chunk of objectBytes(this.client, at, version, { signal: cancel }))
                await file.write(chunk);
              this.pulled += version.size;
            }
            await file.sync();
          } finally {
            await file.close();
          }
          this.nextPart = parts.length + 1;
        }
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if (pin && isPreconditionFailed(err))
        throw new UsageError(
          `${this.url} changed since the rerun started (ETag ${pin.etag}): --resume needs the same bytes. Restore ` +
            'that version of the object, or start a new rerun with another --results',
          { cause: err },
        );
      throw s3Failure(`cannot read the results in ${this.url}: ${describeS3Error(err, 's3:GetObject')}`, err);
    }
    this.saved = this.pulled;
    const timeline = await this.fetch(this.beside('.timeline.jsonl'), 'timeline');
    if (timeline) await replaceFileAtomically(timelinePath(this.local), timeline.toString('utf8'), 'timeline');
  }

  /** The results object as it is, when there is one, with no run state to read it by. */
  private async pullAlone(): Promise<void> {
    try {
      const alone = await headIfAny(this.client, this.at, this.cancel);
      if (alone)
        await pipeline(
          objectStream(this.client, this.at, alone, { signal: this.cancel }),
          createWriteStream(this.local, { flags: 'wx', mode: 0o600 }),
        );
    } catch (err) {
      throw s3Failure(`cannot read ${this.url}: ${describeS3Error(err, 's3:GetObject')}`, err);
    }
  }

  private async fetch(at: S3Location, what: string): Promise<Buffer | undefined> {
    try {
      return (await getObject(this.client, at, this.cancel))?.body;
    } catch (err) {
      throw s3Failure(`cannot read the ${what} ${s3Url(at)}: ${describeS3Error(err, 's3:GetObject')}`, err);
    }
  }

  private partsPrefix(generation = this.generation): string {
    return `${this.at.key}.parts/${generation}/`;
  }

  /**
   * The run starts: its state is written locally. `fresh`: the results start anew (no working copy),
   * so their checkpoints do too, under a new generation. The state goes to S3 before any request.
   */
  async started(fresh: boolean): Promise<void> {
    if (fresh || !this.generation) this.newGeneration(0);
    await this.pushState();
  }

  private newGeneration(saved: number): void {
    this.generation = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    this.nextPart = 1;
    this.saved = saved;
  }

  /**
   * The results file is open; `committed()` is how many of its bytes the writer has written whole.
   * The first checkpoint (the header, on a fresh run) is written now, before any row is sent; then one
   * every `everyMs`, or as soon as a part's worth is waiting.
   */
  async opened(committed: () => number, everyMs: number): Promise<void> {
    this.committed = committed;
    // A working copy cut while it was resumed (a torn last row repaired) no longer ends where the
    // parts do: its checkpoints start again, whole, under a new generation.
    if (committed() < this.saved) {
      this.newGeneration(0);
      await this.pushState();
    }
    await this.checkpoint();
    if (this.failure) throw this.failure;
    this.lastCheckpoint = performance.now();
    this.timer = setInterval(
      () => {
        const due = performance.now() - this.lastCheckpoint >= everyMs;
        if (due || committed() - this.saved >= PART_MAX) {
          this.lastCheckpoint = performance.now();
          void this.checkpoint();
        }
      },
      Math.min(everyMs, 1_000),
    );
    this.timer.unref();
  }

  /** Writes what is waiting as parts, one checkpoint at a time; a failure stops the run (its signal). */
  private checkpoint(): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.failure || !this.committed) return;
      try {
        await this.saveParts();
      } catch (err) {
        this.failure = err as Error;
        this.stopped.abort(err);
      }
    });
    return this.chain;
  }

  private async saveParts(): Promise<void> {
    const end = this.committed!();
    while (this.saved < end) {
      this.lease?.assertHeld();
      const bytes = readRange(this.local, this.saved, Math.min(end - this.saved, PART_MAX));
      await this.savePart(this.nextPart, bytes);
      this.nextPart++;
      this.saved += bytes.length;
    }
  }

  private async savePart(n: number, bytes: Buffer): Promise<void> {
    const at = { bucket: this.at.bucket, key: `${this.partsPrefix()}${String(n).padStart(6, '0')}.csv` };
    for (let round = 1; ; round++) {
      try {
        await putObject(this.client, at, bytes, { ifNoneMatch: true });
        return;
      } catch (err) {
        if (isPreconditionFailed(err)) {
          // Our own earlier attempt, whose answer was lost? Then the part holds these very bytes.
          const there = await getObject(this.client, at).catch(() => undefined);
          if (there?.body.equals(bytes)) return;
          throw new LockLostError(
            `another run wrote the checkpoint ${s3Url(at)} of ${this.url}: two runs were writing these results. This ` +
              'run stopped without writing anything more; resume with one run only (--resume): rows are sent again ' +
              'with the same ClientTokens',
          );
        }
        if (round > ROUNDS)
          throw new ResultsSaveError(
            `cannot write the checkpoint ${s3Url(at)}: ${describeS3Error(err, 's3:PutObject')}`,
            { cause: err },
          );
        await sleep(1_000 * 2 ** (round - 1));
      }
    }
  }

  /** The run state as the working copy holds it, with the checkpoints' generation. */
  async pushState(): Promise<void> {
    const text = await readFile(statePath(this.local), 'utf8');
    const state = { ...(JSON.parse(text) as object), checkpoints: { generation: this.generation } };
    await this.put(this.beside('.run.json'), `${JSON.stringify(state, null, 2)}\n`, 'run state');
  }

  private async put(at: S3Location, body: string, what: string): Promise<void> {
    try {
      this.lease?.assertHeld();
      await putObject(this.client, at, body);
    } catch (err) {
      if (err instanceof LockLostError) throw err;
      throw new ResultsSaveError(`cannot write the ${what} ${s3Url(at)}: ${describeS3Error(err, 's3:PutObject')}`, {
        cause: err,
      });
    }
  }

  /**
   * The run ended (its state written locally): the last rows as a checkpoint, then the results object,
   * the timeline and the state. Stopped by `signal` (a signal during the upload), it leaves the upload
   * — every row is in the checkpoints — and throws StoppedError; a resume writes the object.
   */
  async finish(completed: boolean, log: Logger, signal?: AbortSignal): Promise<void> {
    this.stopTimer();
    await this.chain;
    // Checkpoints that failed mid-run (and stopped it) get one more try now that sending has stopped.
    if (this.failure && !(this.failure instanceof LockLostError)) this.failure = undefined;
    // The last rows: from here on every row is in S3, whatever happens to the upload below.
    await this.checkpoint();
    if (this.failure) throw this.failure;
    try {
      await uploadFile(this.client, this.at, this.local, signal);
    } catch (err) {
      if (signal?.aborted)
        throw new StoppedError(
          `stopped while writing ${this.url}: every row is in its checkpoints; run the same command with --resume ` +
            'to write it (nothing is sent again)',
        );
      throw new ResultsSaveError(`cannot write ${this.url}: ${describeS3Error(err, 's3:PutObject')}`, { cause: err });
    }
    if (existsSync(timelinePath(this.local)))
      await this.put(this.beside('.timeline.jsonl'), await readFile(timelinePath(this.local), 'utf8'), 'timeline');
    await this.pushState();
    if (completed) await this.removeParts(log);
  }

  /**
   * A completed run found again (already processed): checkpoints its end did not get to remove (the
   * process killed between its last state and their removal) go now.
   */
  async tidy(log: Logger): Promise<void> {
    await this.removeParts(log);
  }

  /** A completed run's results object is its ledger: its checkpoints go (where deleting is allowed). */
  private async removeParts(log: Logger): Promise<void> {
    const prefix = `${this.at.key}.parts/`;
    try {
      const keys = await listKeys(this.client, this.at.bucket, prefix);
      if (keys.length) await deleteKeys(this.client, this.at.bucket, keys);
    } catch (err) {
      log.warn(
        { checkpoints: `s3://${this.at.bucket}/${prefix}`, reason: describeS3Error(err, 's3:DeleteObject') },
        'the checkpoints of the completed run were left in S3 (they duplicate the results object): remove them',
      );
    }
  }

  /**
   * After a run that stopped on an error: the rows the writer committed go to S3 if they still can
   * (unless the lease is lost: then nothing more is written).
   */
  async salvage(): Promise<void> {
    this.stopTimer();
    await this.chain;
    if (this.failure || !this.committed) return;
    await this.checkpoint();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Throws when a pull found no results object (nor checkpoints) at the URL: there is nothing to read. */
  assertFound(): void {
    if (!existsSync(this.local))
      throw new UsageError(`no results at ${this.url}: no such object, nor a run's checkpoints beside it`);
  }

  /**
   * Writes a results file made in the working folder (by merge) to S3 — refused if something is
   * there already — with its run state when it has one.
   */
  async publish(): Promise<void> {
    try {
      if (await headIfAny(this.client, this.at))
        throw new UsageError(`--results ${this.url} already exists: pass another --results (it must not exist yet)`);
      await uploadFile(this.client, this.at, this.local);
      if (existsSync(statePath(this.local)))
        await putObject(this.client, this.beside('.run.json'), await readFile(statePath(this.local), 'utf8'));
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot write ${this.url}: ${describeS3Error(err, 's3:PutObject')}`, { cause: err });
    }
  }

  /** Before a file is made to publish: the object must not exist yet. */
  async assertAbsent(): Promise<void> {
    let there: unknown;
    try {
      there = await headIfAny(this.client, this.at);
    } catch (err) {
      throw new UsageError(`cannot use --results ${this.url}: ${describeS3Error(err, 's3:GetObject')}`, { cause: err });
    }
    if (there)
      throw new UsageError(`--results ${this.url} already exists: pass another --results (it must not exist yet)`);
  }

  /** Releases the lease and removes the working folder (it holds customer rows). */
  async close(): Promise<void> {
    this.stopTimer();
    await this.chain;
    await this.lease?.release();
    await rm(this.dir, { recursive: true, force: true });
  }
}

function readRange(path: string, start: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, start + done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/**
 * The results files under an S3 prefix (`s3://b/shards/`): each object with a run state beside it,
 * less the files a run keeps beside its results (state, timeline, lease, checkpoints) and the stop
 * files `stop` keeps beside them (`<name>.stop.csv`) — and each run state whose results object is
 * not there yet (a run killed before its first end), so that a merge names that run as unfinished
 * rather than as missing.
 */
export async function resultsUnder(client: S3Client, url: string): Promise<string[]> {
  const at = parseS3Url(url, 'merge', { prefix: true });
  let keys: string[];
  try {
    keys = await listKeys(client, at.bucket, at.key);
  } catch (err) {
    throw new UsageError(`cannot list ${url}: ${describeS3Error(err, 's3:ListBucket')}`, { cause: err });
  }
  const runFile = (k: string) => /\.(run\.json|timeline\.jsonl|lease|stop\.csv)$/.test(k) || k.includes('.parts/');
  const results = keys
    .filter((k) => k.endsWith('.run.json'))
    .map((k) => k.slice(0, -'.run.json'.length))
    .filter((k) => k !== '' && !runFile(k))
    .sort();
  return results.map((key) => s3Url({ bucket: at.bucket, key }));
}

/**
 * An S3 results object read into a working copy (with its state and timeline), for reading only
 * (`report`, `merge`: their exit codes say 2 for whatever they cannot read).
 */
export async function pulled(client: S3Client, url: string, what: string): Promise<RemoteResults> {
  const remote = await RemoteResults.open(client, url, what);
  try {
    await remote.pull();
    remote.assertFound();
  } catch (err) {
    await remote.close();
    throw err instanceof S3UnavailableError ? new UsageError(err.reason, { cause: err.cause }) : err;
  }
  return remote;
}
