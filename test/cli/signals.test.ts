/**
 * How the bin stops: SIGINT, SIGTERM and SIGHUP drain and summarise (exit 3); a second signal a
 * moment after the first — GNU timeout signals the command and then its process group — is the
 * same stop; a second one later leaves at once (exit 130).
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { taskRows, writeCsv } from '../helpers.js';
import { cli } from './bin.js';

let e: Emulator;
beforeAll(async () => {
  // Each answer takes 2 s, so a drain lasts long enough for a second signal to land in it.
  e = await startEmulator({ rate: 1000, burst: 1000, latencyMs: 2_000 });
});
afterAll(() => e?.close());

/** Runs 200 rows at 10/s and sends `signals` (with the pause before each, ms) once the first row is recorded. */
async function stopped(signals: [NodeJS.Signals, number][]) {
  const input = writeCsv(taskRows(200));
  let sent = false;
  const send = async (child: ChildProcess) => {
    for (const [signal, pause] of signals) {
      await new Promise((r) => setTimeout(r, pause));
      child.kill(signal);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const r = await cli(['run', input, '--endpoint', e.url, '--rate', '10', '--burst', '1', '--instance-id', DEMO_INSTANCE_ID, '--contact-flow-id', DEMO_CONTACT_FLOW_ID, '--no-progress', '--log-format', 'json'], {
    onSpawn: (child) => {
      // Signalled once the run is under way (its "run started" log line), bounded in time.
      const started = Date.now();
      timer = setInterval(() => {
        if (sent || Date.now() - started > 10_000) return clearInterval(timer);
        if (stderrOf(child).includes('run started')) {
          sent = true;
          clearInterval(timer);
          void send(child);
        }
      }, 20);
    },
  });
  clearInterval(timer);
  return r;
}

const stderrs = new WeakMap<ChildProcess, string>();
function stderrOf(child: ChildProcess): string {
  if (!stderrs.has(child)) {
    stderrs.set(child, '');
    child.stderr!.on('data', (d: Buffer) => stderrs.set(child, stderrs.get(child)! + String(d)));
  }
  return stderrs.get(child)!;
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
