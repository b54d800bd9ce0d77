/**
 * Scenario 7 — a results file as big as a real backfill's: `rerun` of 2,000,000 rows against one of
 * 20,000 (1 in 1,000 `failed`, the rest `created`). Memory must not grow with the ledger (peak RSS
 * 2 M / 20 k ≤ 1.3) and carried rows must be copied fast (≥ 40,000 rows/s at 2 M). Each rerun runs
 * in a fresh child process against the emulator in another; the files are synthesised, streamed,
 * with a run state written through the ledger's own API so that rerun takes them as a finished run.
 */
import { once } from 'node:events';
import { createWriteStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EMULATOR_REGION } from '../src/aws.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../src/emulator/service.js';
import { STATE_VERSION, writeState } from '../src/ledger/state.js';
import { RESULT_COLUMNS } from '../src/ledger/writer.js';

type Report = (
  scenario: string,
  measure: string,
  value: number,
  target: string,
  ok: boolean | null,
  detail: string,
) => void;

interface Measured {
  created: number;
  failed: number;
  requests: number;
  cpuMs: number;
  maxRssMb: number;
  wallMs: number;
}

export interface LedgerScaleBench {
  /** The bench's scratch folder. */
  work: string;
  report: Report;
  /** Runs `fn` with an emulator child started with `args`, stopped after. */
  withEmulator<T>(args: string[], fn: (url: string) => Promise<T>): Promise<T>;
  /** A measured child process (bench/child.ts) with these arguments. */
  child(args: string[]): Promise<Measured>;
}

const FAILED_EVERY = 1000;
const PACE = { rate: 1_000_000, burst: 1_000_000 };

export async function ledgerScale({ work, report, withEmulator, child }: LedgerScaleBench): Promise<void> {
  const fast = ['--rate', String(PACE.rate), '--burst', String(PACE.burst)];
  const measure = async (rows: number) => {
    const results = await synthesise(work, rows);
    try {
      return await withEmulator(fast, async (url) => {
        await writeOrigin(results, url, rows);
        return child(['rerun', results, join(work, `rerun-${rows}.csv`)]);
      });
    } finally {
      // Half a gigabyte each at 2 M rows: not left behind in the bench's folder.
      for (const path of [results, join(work, `rerun-${rows}.csv`)]) {
        for (const file of [path, `${path}.run.json`, `${path}.timeline.jsonl`]) rmSync(file, { force: true });
      }
    }
  };
  const small = await measure(20_000);
  const large = await measure(2_000_000);
  const resent = 2_000_000 / FAILED_EVERY;
  const ratio = large.maxRssMb / small.maxRssMb;
  report(
    '7 ledger scale',
    'peak RSS rerun 2 M / 20 k',
    ratio,
    '≤ 1.3',
    ratio <= 1.3,
    `${large.maxRssMb.toFixed(0)} MB vs ${small.maxRssMb.toFixed(0)} MB`,
  );
  const copied = (2_000_000 - resent) / (large.wallMs / 1000);
  report(
    '7 ledger scale',
    'rows/s copied, rerun of 2 M',
    copied,
    '≥ 40,000',
    copied >= 40_000,
    `${(large.wallMs / 1000).toFixed(1)} s, ${large.requests} requests for the ${resent} failed ` +
      `rows, ${large.failed} still failed, ${(large.cpuMs / 1000).toFixed(1)} s CPU`,
  );
}

/** A results file of `rows` rows, shaped like the bench's inputs (a multi-line quoted cell included). */
async function synthesise(work: string, rows: number): Promise<string> {
  const path = join(work, `ledger-${rows}.results.csv`);
  const out = createWriteStream(path, { mode: 0o600 });
  out.write(`${['Name', 'Description', 'Attributes.rowId', 'References.ticket.URL', ...RESULT_COLUMNS].join(',')}\n`);
  let chunk = '';
  for (let line = 2; line <= rows + 1; line++) {
    const i = line - 1;
    const cells =
      `Follow up ticket ${i},"Customer wrote:\n""The device stops after ${i % 60} minutes"", please call ` +
      `back.",${i},https://crm.example.com/t/${i}`;
    const token = `ctl1-${i.toString(36).padStart(43, '0')}`;
    chunk +=
      i % FAILED_EVERY === 0
        ? `${cells},${line},failed,,${token},8,InternalServiceException,Injected fault\n`
        : `${cells},${line},created,${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000,${token},1,,\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return path;
}

/** The state of the (imaginary) completed run that wrote `results`, sending to `url`. */
async function writeOrigin(results: string, url: string, rows: number): Promise<void> {
  const failed = Math.floor(rows / FAILED_EVERY);
  const now = new Date().toISOString();
  await writeState(results, {
    version: STATE_VERSION,
    input: join(results, '..', 'ledger-input.csv'),
    identity: {
      endpoint: url.replace(/\/$/, ''),
      region: EMULATOR_REGION,
      instanceId: DEMO_INSTANCE_ID,
      contactFlowId: DEMO_CONTACT_FLOW_ID,
      tokenNamespace: 'bench-ledger-scale',
      encoding: 'utf-8',
      delimiter: ',',
    },
    options: { endpoint: url, instanceId: DEMO_INSTANCE_ID, contactFlowId: DEMO_CONTACT_FLOW_ID, ...PACE },
    dryRun: false,
    outcome: 'completed',
    startedAt: now,
    completedAt: now,
    rows: { total: rows, created: rows - failed, failed, invalid: 0, filtered: 0, planned: 0, skipped: 0 },
  });
}
