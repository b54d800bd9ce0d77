/** Progress on a terminal: one bar (by bytes of input read, when the size is known) and live counters. */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { Writable } from 'node:stream';
import type { Progress } from './run.js';

export class ProgressView {
  private readonly multi: MultiBar;
  private bar: SingleBar | undefined;
  /** Log lines written here appear above the bar instead of tearing it. */
  readonly logStream: Writable;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.multi = new MultiBar(
      { stream, hideCursor: true, clearOnComplete: false, stopOnComplete: false, etaBuffer: 50, fps: 5, noTTYOutput: false },
      Presets.shades_classic,
    );
    this.logStream = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        const text = chunk.toString();
        this.multi.log(text.endsWith('\n') ? text : `${text}\n`);
        done();
      },
    });
  }

  update(p: Progress): void {
    const { rows, throttled, retries } = p.stats;
    const payload = {
      created: rows.created,
      failed: rows.failed,
      invalid: rows.invalid + rows.planned,
      rate: p.rate.toFixed(1),
      throttled,
      retries,
      inflight: p.concurrency,
    };
    const total = p.totalBytes ?? 0;
    if (!this.bar) {
      const format =
        (total ? '{bar} {percentage}% | ' : '') +
        '{created} created, {failed} failed, {invalid} invalid | rate {rate}/s, {throttled} throttled, {retries} retries';
      this.bar = this.multi.create(total || 1, 0, payload, { format });
    }
    this.bar.update(total ? Math.min(p.bytesRead, total) : 0, payload);
  }

  stop(): void {
    this.multi.stop();
  }
}
