/**
 * StopContact for one task: the request, its outcome, and its delivery through the rate control and
 * the retry policy `run` uses. A stop is idempotent by nature: a task ended once stays ended, so a
 * resend after an unknown outcome (a 5xx, a timeout, a reset) can do no harm — it finds the task
 * ended. The answers for a task that has already ended (ContactNotFoundException, or an
 * InvalidRequestException saying it is not active) are that outcome, not a failure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type ConnectClient, StopContactCommand } from '@aws-sdk/client-connect';
import type { Limiter } from '../rate/limiter.js';
import type { SendOutcome } from '../types.js';
import { decide, type RetryPolicy } from './retry.js';
import { classifyError } from './send.js';

export interface StopRequest {
  InstanceId: string;
  ContactId: string;
}

/** What one StopContact request came to. */
export type StopOutcome =
  | { kind: 'stopped' }
  | { kind: 'already-ended'; code: string; message: string }
  | Exclude<SendOutcome, { kind: 'created' }>;

/** The seam between `stop` and the SDK: tests may inject their own. */
export interface StopSender {
  stopContact(request: StopRequest): Promise<StopOutcome>;
  destroy(): void;
}

export class ConnectStopSender implements StopSender {
  constructor(private readonly client: ConnectClient) {}

  async stopContact(request: StopRequest): Promise<StopOutcome> {
    try {
      await this.client.send(new StopContactCommand(request));
      return { kind: 'stopped' };
    } catch (err) {
      return classifyStopError(err);
    }
  }

  destroy(): void {
    this.client.destroy();
  }
}

/**
 * An SDK error of StopContact as an outcome. What the service answers for a task that has already
 * ended is undocumented: ContactNotFoundException, or an InvalidRequestException whose message says
 * the contact is not active or has ended, mean just that. Exported for table tests.
 */
export function classifyStopError(err: unknown): StopOutcome {
  const outcome = classifyError(err);
  if (outcome.kind !== 'refused') return outcome as StopOutcome;
  if (outcome.code === 'ContactNotFoundException') return { kind: 'already-ended', ...codeOf(outcome) };
  if (
    outcome.code === 'InvalidRequestException' &&
    /not active|no longer active|(already )?ended|terminated/i.test(outcome.message)
  )
    return { kind: 'already-ended', ...codeOf(outcome) };
  return outcome;
}

const codeOf = (o: { code: string; message: string }) => ({ code: o.code, message: o.message });

export interface StopDelivery {
  outcome: StopOutcome;
  /** Requests sent for this row, throttled ones included. */
  requests: number;
  /** Charged attempts: throttles cost nothing. */
  attempts: number;
}

/**
 * Sends one stop until it has a final outcome: each attempt waits for a slot and a token of the
 * limiter; throttles are put back uncharged, 5xx and timeouts retried with backoff (a resend can only
 * find the task ended), refusals end the row. Throws only when `signal` aborts before the answer.
 */
export async function deliverStop(
  sender: StopSender,
  limiter: Limiter,
  policy: RetryPolicy,
  request: StopRequest,
  signal?: AbortSignal,
  onRequest?: (outcome: StopOutcome) => void,
): Promise<StopDelivery> {
  let attempts = 0;
  let requests = 0;
  for (;;) {
    const outcome = await limiter.schedule(() => {
      signal?.throwIfAborted();
      return sender.stopContact(request);
    }, signal);
    requests++;
    onRequest?.(outcome);
    // The limiter paces on what it is told; a stop is "created" for it when the service took it.
    limiter.observe(asSendOutcome(outcome), 0);
    if (outcome.kind === 'stopped' || outcome.kind === 'already-ended')
      return { outcome, requests, attempts: attempts + 1 };
    if (outcome.kind !== 'throttled') attempts++;
    const decision = decide(outcome, attempts, policy);
    if (decision.action !== 'retry') return { outcome, requests, attempts };
    if (decision.delayMs > 0) await sleep(decision.delayMs, undefined, { signal });
    signal?.throwIfAborted();
  }
}

function asSendOutcome(outcome: StopOutcome): SendOutcome {
  return outcome.kind === 'stopped' || outcome.kind === 'already-ended' ? { kind: 'created', contactId: '' } : outcome;
}
