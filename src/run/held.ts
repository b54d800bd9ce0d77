/**
 * The rows between the reader and the results file: who works on them (rowWorkers), who takes the
 * next one (takeTurns), and how many are held at once (HeldRows).
 *
 * How many rows the pipeline holds at once: read and prepared but not yet written. Bounded by count
 * (what can be in flight, plus room for rows backing off) and by an estimate of their heap size, so
 * that a file of wide rows (thousands of columns, large cells) holds a few rows, not hundreds: memory
 * follows the row width, never the file.
 */

/**
 * Rows held beyond the in-flight cap and the rows backing off before a retry: enough that a free
 * slot never waits for the reader. Few, because a row held waiting survives a young-generation
 * collection and dies in the old one: 64 spare rows cost ~40 % more garbage-collection time at
 * 1,000 requests/s than 8 (measured with --cpu-prof, 10,000 rows unthrottled).
 */
export const ROW_HEADROOM = 8;

/** Estimated heap of the rows held at once; one row is always let through, however large. */
const HELD_BYTES = 32 * 1024 * 1024;

/**
 * A row's heap, roughly: V8 strings of one-byte text cost about their length plus a header, each
 * cell a slot in the array; the prepared request and the written row repeat the text about once.
 */
export function rowCost(values: readonly string[]): number {
  let chars = 0;
  for (const v of values) chars += v.length;
  return 64 + values.length * 24 + chars * 3;
}

export class HeldRows {
  private count = 0;
  private bytes = 0;
  private waiting: (() => void) | undefined;

  constructor(
    /** The most rows held at once; read at every admission, as the in-flight cap moves. */
    private readonly maxRows: () => number,
    private readonly maxBytes = HELD_BYTES,
  ) {}

  /** Resolves once a row of this cost may be held (the single reader awaits it before taking the next row). */
  async admit(cost: number): Promise<void> {
    while (this.count > 0 && (this.count >= this.maxRows() || this.bytes + cost > this.maxBytes)) {
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
    this.count++;
    this.bytes += cost;
  }

  /** A held row was written (or dropped): room for the next. */
  release(cost: number): void {
    this.count--;
    this.bytes -= cost;
    const wake = this.waiting;
    this.waiting = undefined;
    wake?.();
  }

  get held(): number {
    return this.count;
  }
}

/**
 * The job stream shared by a run's workers, asked by one worker at a time. An async generator keeps
 * the callers waiting on it in a linked list that V8 walks to its end for every new `next()`: with
 * hundreds of workers waiting, that walk was half the time a rerun took to copy its rows. Here the
 * workers queue on a chain of promises instead, and the generator only ever sees one of them.
 */
export function takeTurns<T>(source: AsyncIterator<T>): AsyncIterator<T> {
  let turn: Promise<unknown> = Promise.resolve();
  return {
    next() {
      const next = turn.then(() => source.next());
      turn = next.catch(() => undefined);
      return next;
    },
  };
}

/**
 * The run's row workers, each calling `row` until it answers false. `start` tops the pool up to
 * `wanted()`; a worker leaves before its next row when more are running than wanted, so the pool
 * follows the in-flight cap down as well as up (a worker beyond the cap would only queue its row for
 * a slot). `done` resolves when the last worker leaves (one leaving because fewer are wanted never
 * is the last: at least one is always wanted) and rejects at the first error, as Promise.all would.
 */
export function rowWorkers(
  wanted: () => number,
  row: () => Promise<boolean>,
): { start: () => void; done: Promise<void> } {
  const want = () => Math.max(1, wanted()); // never none: the rows would wait forever
  let running = 0;
  let finish!: () => void;
  let fail!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  async function worker(): Promise<void> {
    try {
      while (running <= want() && (await row()));
    } catch (err) {
      fail(err);
    } finally {
      if (--running === 0) finish();
    }
  }
  return {
    start() {
      for (let n = want() - running; n > 0; n--) {
        running++;
        void worker();
      }
    },
    done,
  };
}
