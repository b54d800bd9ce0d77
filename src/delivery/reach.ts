/**
 * Telling a dead endpoint from a bad row. A refused connection, an unknown host or a certificate the
 * client will not trust is the same for every row: retrying each row to its last attempt would mark a
 * whole backfill `failed`, one row at a time. The run stops instead, the rows not sent stay
 * unrecorded, and `--resume` sends them once the endpoint is fixed.
 *
 * The rule, by how much the run knows about the endpoint:
 * - Never answered in this run (a wrong port, host or scheme, an emulator not started): stop after
 *   `attempts` connection failures in a row (20), or sooner if a row's own attempts run out on them
 *   (so no row is marked `failed` for it).
 * - Answered before (an outage mid-run): stop after `attempts` failures in a row that span at least
 *   `outageMs` (30 s) with no answer, so that a proxy restarting does not end a night's run.
 * Any HTTP answer — even a throttle or a 5xx — proves the endpoint is reachable and resets the count;
 * a timeout resets it too (the request may have arrived).
 */
import { CANNOT_CONNECT } from '../aws.js';
import type { SendOutcome } from '../types.js';

export function cannotConnect(outcome: SendOutcome): boolean {
  return outcome.kind === 'transient' && !outcome.answered && CANNOT_CONNECT.has(outcome.code);
}

export interface ReachOptions {
  /** Connection failures in a row before the run stops. Default 20. */
  attempts?: number;
  /** Attempts per row: before any answer, a row running out of them on connection failures stops the run. */
  maxAttemptsPerRow: number;
  /** After an answer was seen, how long failures must last too, in ms. Default 30,000. */
  outageMs?: number;
  now?: () => number;
}

export class ReachWatch {
  private streak = 0;
  private streakStart = 0;
  private answered = false;
  private readonly limit: number;
  private readonly outageMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ReachOptions) {
    this.limit = options.attempts ?? 20;
    this.outageMs = options.outageMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Feeds one attempt's outcome; returns why the run must stop (once the rule above is met), else undefined. */
  observe(outcome: SendOutcome): string | undefined {
    if (!cannotConnect(outcome)) {
      this.streak = 0;
      if (outcome.kind !== 'transient' || outcome.answered) this.answered = true;
      return undefined;
    }
    if (this.streak++ === 0) this.streakStart = this.now();
    const stop = this.answered
      ? this.streak >= this.limit && this.now() - this.streakStart >= this.outageMs
      : this.streak >= Math.min(this.limit, this.options.maxAttemptsPerRow);
    if (!stop) return undefined;
    const seconds = Math.round((this.now() - this.streakStart) / 1000);
    return (
      `${describe(outcome as Extract<SendOutcome, { kind: 'transient' }>)} ` +
      `(${this.streak === 1 ? 'the first request' : `${this.streak} requests in a row`} could not ` +
      `connect${this.answered ? ` for ${seconds} s` : ', and none was ever answered'})`
    );
  }
}

/** One line naming the failure: Node's own message when it has one, OpenSSL's multi-line dumps shortened. */
function describe({ code, message }: { code: string; message: string }): string {
  if (code === 'EPROTO') return 'EPROTO: the TLS handshake failed (is it an http:// endpoint given as https://?)';
  const first = (message || code).split('\n')[0]!.trim();
  return first.includes(code) ? first : `${code}: ${first}`;
}
