/**
 * Stage 5b — dispatch. Carries one request to a final outcome: waits while the run is paused at the
 * instance's active-task limit (capacity.ts), for a free slot (in-flight cap) and a token (rate),
 * sends, and follows the retry policy. Every resend carries the same ClientToken,
 * so an attempt whose answer was lost can never become a second task.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunStats } from '../observe/stats.js';
import type { Limiter } from '../rate/limiter.js';
import type { SendOutcome, TaskRequest } from '../types.js';
import type { CapacityGate, Pass } from './capacity.js';
import { decide, type RetryPolicy } from './retry.js';
import type { TaskSender } from './send.js';

export interface Delivery {
  /** The final outcome: created, refused, or the last transient failure once attempts ran out. */
  outcome: SendOutcome;
  /** Requests sent for this row, throttled ones included. */
  requests: number;
  /** Set when the row was not sent (again) because `ready` refused it at the moment of sending. */
  unsent?: string;
}

/** Marks an attempt that `ready` stopped before it left. */
const UNSENT = Symbol('unsent');
/** Marks an attempt turned back at the moment of sending: the run paused at the active-task limit meanwhile. */
const HELD = Symbol('held');

export class Dispatcher {
  /** Rows waiting out a retry delay: they hold no slot, so other rows may be read meanwhile. */
  backingOff = 0;
  /** Told when a row starts backing off: its worker is taken, so the run may start another. */
  onBackingOff?: () => void;

  constructor(
    private readonly sender: TaskSender,
    /** Pace and in-flight cap: this process's own, or shared with other processes (rate/). */
    private readonly limiter: Limiter,
    private readonly policy: RetryPolicy,
    private readonly stats: RunStats,
    private readonly signal?: AbortSignal,
    /** Waiting at the instance's active-task limit; without one, such an answer ends the row as it comes. */
    private readonly capacity?: CapacityGate,
  ) {}

  /**
   * Throws only when the run is aborted while this row still waits to be sent. `ready`, asked right
   * before each attempt leaves (after the slot and the rate token), may refuse the row: a rule that
   * depends on the time of sending (ScheduledTime not in the past) is checked then, not at start.
   */
  async deliver(request: TaskRequest, ready?: () => string | undefined): Promise<Delivery> {
    let charged = 0;
    let requests = 0;
    let unsent: string | undefined;
    const pass: Pass = {};
    try {
      for (;;) {
        // Paused at the active-task limit, the row waits here, holding no slot, until it may go.
        await this.capacity?.wait(pass, this.signal);
        // Only while no attempt has reached the service (throttles and the active-task limit create
        // nothing): after an unknown outcome the task may exist, and the resend with the same token
        // must go out to find out.
        const check = () => (unsent = charged === 0 ? ready?.() : undefined);
        const outcome = await this.limiter.schedule(() => this.attempt(request, check, pass), this.signal);
        if (outcome === HELD) continue;
        if (outcome === UNSENT)
          return { outcome: { kind: 'refused', code: 'InvalidRow', message: unsent!, status: 0 }, requests, unsent };
        requests++;
        if (outcome.kind !== 'throttled' && outcome.kind !== 'capacity') charged++;
        const decision = decide(outcome, charged, this.policy);
        if (decision.action === 'done' || (decision.action === 'hold' && !this.capacity)) return { outcome, requests };
        if (decision.action === 'hold') {
          this.signal?.throwIfAborted();
          continue;
        }
        await this.backOff(decision);
      }
    } finally {
      this.capacity?.leave(pass);
    }
  }

  /** Waits out a retry's delay, holding no slot (its worker is taken: the run may start another). */
  private async backOff(decision: { delayMs: number; charge: boolean }): Promise<void> {
    if (decision.charge) this.stats.recordRetry();
    if (decision.delayMs > 0) {
      this.backingOff++;
      this.onBackingOff?.();
      try {
        await sleep(decision.delayMs, undefined, { signal: this.signal });
      } finally {
        this.backingOff--;
      }
    }
    this.signal?.throwIfAborted();
  }

  /** One request, once the limiter let it go (a stopping run lets nothing go: --resume sends it). */
  private async attempt(
    request: TaskRequest,
    ready: () => string | undefined,
    pass: Pass,
  ): Promise<SendOutcome | typeof UNSENT | typeof HELD> {
    this.signal?.throwIfAborted(); // it may have stopped while this row waited for its turn
    if (this.capacity && !this.capacity.mayLeave(pass)) return HELD;
    if (ready() !== undefined) return UNSENT;
    const started = performance.now();
    const outcome = await this.sender.startTask(request);
    const latency = performance.now() - started;
    this.stats.recordRequest(outcome, latency);
    this.limiter.observe(outcome, latency);
    // Before the slot is freed: rows already queued behind this one see a pause it starts.
    this.capacity?.answered(outcome, pass);
    return outcome;
  }
}
