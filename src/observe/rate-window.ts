/**
 * Recent rates from cumulative counters, for the progress line and the metrics file: a sliding
 * window of (time, created, rows sent) samples.
 */
export class RateWindow {
  private readonly samples: { t: number; created: number; rows: number }[] = [];
  constructor(private readonly windowMs = 20_000) {}

  /** Adds a sample; returns created tasks/s and finished (not carried) rows/s over the window. */
  add(t: number, created: number, rows: number): { created: number; rows: number } {
    this.samples.push({ t, created, rows });
    while (this.samples.length > 2 && t - this.samples[1]!.t >= this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (t - first.t) / 1000;
    if (seconds <= 0) return { created: 0, rows: 0 };
    return { created: (created - first.created) / seconds, rows: (rows - first.rows) / seconds };
  }
}
