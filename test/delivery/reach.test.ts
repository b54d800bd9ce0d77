import { describe, expect, it } from 'vitest';
import { cannotConnect, ReachWatch } from '../../src/delivery/reach.js';
import type { SendOutcome } from '../../src/types.js';

/** A hand-moved clock: these tests assert on arithmetic, never on wall time. */
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const refused: SendOutcome = {
  kind: 'transient',
  code: 'ECONNREFUSED',
  message: 'connect ECONNREFUSED 127.0.0.1:1',
  answered: false,
};
const timeout: SendOutcome = { kind: 'transient', code: 'TimeoutError', message: 'timed out', answered: false };
const created: SendOutcome = { kind: 'created', contactId: 'c' };
const throttled: SendOutcome = { kind: 'throttled', code: 'ThrottlingException', message: 'Rate exceeded' };
const serverError: SendOutcome = { kind: 'transient', code: 'InternalServiceException', message: 'x', answered: true };

/** How many outcomes until the watch says stop (undefined: never, within `max`). */
function untilStop(watch: ReachWatch, next: (i: number) => SendOutcome, max = 1000): number | undefined {
  for (let i = 1; i <= max; i++) if (watch.observe(next(i))) return i;
  return undefined;
}

describe('ReachWatch', () => {
  it('tells a connection failure from an answer or a timeout', () => {
    expect(cannotConnect(refused)).toBe(true);
    expect(cannotConnect({ ...refused, code: 'ENOTFOUND' })).toBe(true);
    expect(cannotConnect({ ...refused, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).toBe(true);
    for (const o of [timeout, created, throttled, serverError, { ...refused, code: 'ECONNRESET' }])
      expect(cannotConnect(o)).toBe(false);
  });

  it('never answered: stops after 20 failures in a row, or when one row could have spent its attempts on them', () => {
    expect(untilStop(new ReachWatch({ maxAttemptsPerRow: 100 }), () => refused)).toBe(20);
    expect(untilStop(new ReachWatch({ maxAttemptsPerRow: 8 }), () => refused)).toBe(8);
    expect(untilStop(new ReachWatch({ maxAttemptsPerRow: 1 }), () => refused)).toBe(1);
    const reason = new ReachWatch({ maxAttemptsPerRow: 1 }).observe(refused);
    expect(reason).toBe(
      'connect ECONNREFUSED 127.0.0.1:1 (the first request could not connect, and none was ever answered)',
    );
  });

  it('names a TLS failure in one line', () => {
    const tls: SendOutcome = {
      kind: 'transient',
      code: 'EPROTO',
      message: 'write EPROTO 80:error:0A00010B:SSL routines:wrong version number:\n',
      answered: false,
    };
    expect(new ReachWatch({ maxAttemptsPerRow: 1 }).observe(tls)).toMatch(
      /^EPROTO: the TLS handshake failed \(is it an http:\/\/ endpoint given as https:\/\/\?\) \(the first request/,
    );
  });

  it('a timeout in between resets the count (the request may have arrived)', () => {
    expect(
      untilStop(new ReachWatch({ maxAttemptsPerRow: 8 }), (i) => (i % 5 === 0 ? timeout : refused), 200),
    ).toBeUndefined();
  });

  it('answered before: an outage must last 20 failures and 30 s, so a restarting proxy does not end the run', () => {
    const c = clock();
    const watch = new ReachWatch({ maxAttemptsPerRow: 8, now: c.now });
    watch.observe(created);
    // 100 failures within 10 s: a blip.
    expect(
      untilStop(
        watch,
        () => {
          c.advance(100);
          return refused;
        },
        100,
      ),
    ).toBeUndefined();
    expect(watch.observe(throttled)).toBeUndefined(); // an answer: reachable again, the count restarts
    let n = 0;
    const stopAt = untilStop(watch, () => {
      if (n++ > 0) c.advance(1000);
      return refused;
    });
    expect(stopAt).toBe(31); // the first failure at t, the 31st at t + 30 s
  });

  it('says for how long, when it stops mid-run', () => {
    const c = clock();
    const watch = new ReachWatch({ maxAttemptsPerRow: 8, now: c.now });
    watch.observe(serverError);
    let reason: string | undefined;
    for (let i = 0; i < 40 && !reason; i++) {
      reason = watch.observe(refused);
      c.advance(1000);
    }
    expect(reason).toBe('connect ECONNREFUSED 127.0.0.1:1 (31 requests in a row could not connect for 30 s)');
  });
});
