/**
 * Where progress goes. On a terminal: one line redrawn in place (`\r` + clear line), with log lines
 * printed above it. Off a terminal (cron, systemd): one JSON `progress` log line at a fixed interval,
 * so a long night is never silent in the journal.
 */
import { Writable } from 'node:stream';
import { RateWindow } from '../observe/rate-window.js';
import type { Progress } from '../run/options.js';
import type { Output } from './io.js';
import { progressRecord, progressSnapshot, renderProgress } from './progress.js';

const CLEAR_LINE = '\r\x1b[2K';

export class TerminalProgress {
  private readonly window = new RateWindow();
  private line = '';
  private stopped = false;
  /** Log lines written here appear above the progress line instead of tearing it. */
  readonly logStream: Writable;

  constructor(private readonly stream: Output) {
    this.logStream = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        const text = chunk.toString();
        this.stream.write(
          `${this.line ? CLEAR_LINE : ''}${text.endsWith('\n') ? text : `${text}\n`}${this.stopped ? '' : this.line}`,
        );
        done();
      },
    });
  }

  update(p: Progress): void {
    if (this.stopped) return;
    this.line = renderProgress(progressSnapshot(p, this.window), this.stream.columns || 80);
    this.stream.write(`${CLEAR_LINE}${this.line}`);
  }

  /** Leaves the last line on screen and moves below it. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.line) this.stream.write('\n');
  }
}

/** Logs one `progress` line every `intervalSeconds` (at info level). */
export class JsonProgress {
  private readonly window = new RateWindow();
  private last: number;

  constructor(
    private readonly log: { info(obj: object, msg?: string): void },
    private readonly intervalSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  update(p: Progress): void {
    // Every update feeds the rate window, so the rate printed is recent, not the interval's average.
    const snapshot = progressSnapshot(p, this.window);
    const t = this.now();
    if (t - this.last < this.intervalSeconds * 1000) return;
    this.last = t;
    this.log.info({ progress: progressRecord(snapshot) }, 'progress');
  }
}
