/**
 * Stage 5b — dispatch. Carries one request to a final outcome: waits for a free slot (in-flight cap)
 * and a token (rate), sends, and follows the retry policy. Every resend carries the same ClientToken,
 * so an attempt whose answer was lost can never become a second task.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunStats } from '../observe/stats.js';
import type { Limiter } from '../rate/limiter.js';
import type { SendOutcome, TaskRequest } from '../types.js';
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
    for (;;) {
      // Only while no attempt has reached the service (throttles create nothing): after an unknown
      // outcome the task may exist, and the resend with the same token must go out to find out.
      const check = () => (unsent = charged === 0 ? ready?.() : undefined);
      const outcome = await this.limiter.schedule(() => this.attempt(request, check), this.signal);
      if (outcome === UNSENT)
        return { outcome: { kind: 'refused', code: 'InvalidRow', message: unsent!, status: 0 }, requests, unsent };
      requests++;
      if (outcome.kind !== 'throttled') charged++;
      const decision = decide(outcome, charged, this.policy);
      if (decision.action === 'done') return { outcome, requests };
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
  }

  /** One request, once the limiter let it go (a stopping run lets nothing go: --resume sends it). */
  private async attempt(request: TaskRequest, ready: () => string | undefined): Promise<SendOutcome | typeof UNSENT> {
    this.signal?.throwIfAborted(); // it may have stopped while this row waited for its turn
    if (ready() !== undefined) return UNSENT;
    const started = performance.now();
    const outcome = await this.sender.startTask(request);
    const latency = performance.now() - started;
    this.stats.recordRequest(outcome, latency);
    this.limiter.observe(outcome, latency);
    return outcome;
  }
}
