/** Progress on a terminal: one bar (by input bytes of finished rows, when the size is known) and live counters. */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { Writable } from 'node:stream';
import type { Progress } from '../run/options.js';

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
    const seconds = Math.max(0.001, p.stats.elapsedMs / 1000);
    const p50 = p.stats.recentLatency(50);
    const p99 = p.stats.recentLatency(99);
    const payload = {
      created: rows.created,
      failed: rows.failed,
      invalid: rows.invalid + rows.planned,
      achieved: (rows.created / seconds).toFixed(1),
      rate: p.rate.toFixed(1),
      throttled,
      retries,
      latency: p50 === undefined ? '–' : `${p50.toFixed(0)}/${p99!.toFixed(0)} ms`,
    };
    const total = p.totalBytes ?? 0;
    if (!this.bar) {
      const format =
        (total ? '{bar} {percentage}% | ' : '') +
        '{created} created, {failed} failed, {invalid} invalid | {achieved}/s (target {rate}/s) | {throttled} throttled, {retries} retries | p50/p99 {latency}';
      this.bar = this.multi.create(total || 1, 0, payload, { format });
    }
    this.bar.update(total ? Math.min(p.bytesDone, total) : 0, payload);
  }

  stop(): void {
    this.multi.stop();
  }
}
