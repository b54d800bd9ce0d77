/**
 * How the bin stops: SIGINT, SIGTERM and SIGHUP drain and summarise (exit 3); a second signal a
 * moment after the first — GNU timeout signals the command and then its process group — is the
 * same stop; a second one later leaves at once (exit 130). Signals are a process's: each run here
 * is the compiled bin.
 */
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { fileEmulator } from '../emulator.js';
import { taskRows, until, writeCsv } from '../helpers.js';
import { spawnCli } from './bin.js';

// Answers take `latencyMs` (per test), so a drain lasts long enough for a second signal to land in it.
const e = fileEmulator({ rate: 1000, burst: 1000 });

/**
 * Runs 200 rows at 10/s, each answered after `latencyMs`, and sends `signals` once the run is under
 * way — its first request at the emulator, so that a request is in flight for `latencyMs` from then
 * on — each after its pause (ms); a pause marked `afterStopping` counts from the run's saying it is
 * stopping, i.e. from when it took the first signal, not from the send.
 */
async function stopped(latencyMs: number, signals: [NodeJS.Signals, number, 'afterStopping'?][]) {
  e.configure({ latencyMs });
  const input = writeCsv(taskRows(200));
  let stderr = '';
  let child: ChildProcess | undefined;
  const send = async () => {
    for (const [signal, pause, from] of signals) {
      if (from)
        await until(() => stderr.includes('stopping: finishing requests in flight'), 'the run to say it is stopping');
      await new Promise((r) => setTimeout(r, pause));
      child!.kill(signal);
    }
  };
  let underWay = false;
  e.service.onRequest = () => {
    if (underWay) return;
    underWay = true;
    void send();
  };
  return spawnCli(
    [
      'run',
      input,
      '--endpoint',
      e.url,
      '--rate',
      '10',
      '--burst',
      '1',
      '--instance-id',
      DEMO_INSTANCE_ID,
      '--contact-flow-id',
      DEMO_CONTACT_FLOW_ID,
      '--no-progress',
      '--log-format',
      'json',
    ],
    { onSpawn: (c) => (child = c), onStderr: (text) => (stderr = text) },
  ).finally(() => {
    e.service.onRequest = undefined;
  });
}

describe('signals', () => {
  it.each([['SIGINT'], ['SIGTERM'], ['SIGHUP']] as [NodeJS.Signals][])(
    '%s drains, summarises and exits 3',
    async (signal) => {
      const r = await stopped(500, [[signal, 300]]);
      expect(r.code, r.stderr).toBe(3);
      expect(r.stdout).toMatch(/^Interrupted: \d+ of 200 rows/m);
    },
  );

  it('two SIGTERMs at once (timeout(1)) are one stop: drained and summarised', async () => {
    const r = await stopped(500, [
      ['SIGTERM', 300],
      ['SIGTERM', 5],
    ]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^Interrupted: \d+ of 200 rows/m);
  });

  it('a second Ctrl-C after a moment stops at once (exit 130)', async () => {
    // 1.2 s after the run took the first (the same stop ends 1 s after it, by the run's clock), while
    // the request that was out when it came is still out: answers take 10 s, far longer than the
    // signals can take to arrive.
    const r = await stopped(10_000, [
      ['SIGINT', 0],
      ['SIGINT', 1_200, 'afterStopping'],
    ]);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT again: stopping now');
  });
});
