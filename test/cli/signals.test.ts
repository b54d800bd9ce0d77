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
import { taskRows, writeCsv } from '../helpers.js';
import { spawnCli } from './bin.js';

// Each answer takes 2 s, so a drain lasts long enough for a second signal to land in it.
const e = fileEmulator({ rate: 1000, burst: 1000, latencyMs: 2_000 });

/** Runs 200 rows at 10/s and sends `signals` (with the pause before each, ms) once the run is under way. */
async function stopped(signals: [NodeJS.Signals, number][]) {
  const input = writeCsv(taskRows(200));
  let sent = false;
  const send = async (child: ChildProcess) => {
    for (const [signal, pause] of signals) {
      await new Promise((r) => setTimeout(r, pause));
      child.kill(signal);
    }
  };
  return spawnCli(['run', input, '--endpoint', e.url, '--rate', '10', '--burst', '1', '--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', DEMO_CONTACT_FLOW_ID, '--no-progress', '--log-format', 'json'], {
    // Signalled once the run is under way: its "run started" log line.
    onStderr: (stderr, child) => {
      if (sent || !stderr.includes('run started')) return;
      sent = true;
      void send(child);
    },
  });
}

describe('signals', () => {
  it.each([['SIGINT'], ['SIGTERM'], ['SIGHUP']] as [NodeJS.Signals][])('%s drains, summarises and exits 3', async (signal) => {
    const r = await stopped([[signal, 300]]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^Interrupted: \d+ of 200 rows/m);
  });

  it('two SIGTERMs at once (timeout(1)) are one stop: drained and summarised', async () => {
    const r = await stopped([['SIGTERM', 300], ['SIGTERM', 5]]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toMatch(/^Interrupted: \d+ of 200 rows/m);
  });

  it('a second Ctrl-C after a moment stops at once (exit 130)', async () => {
    const r = await stopped([['SIGINT', 300], ['SIGINT', 1_200]]);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT again: stopping now');
  });
});
