/**
 * One measured import in a fresh process, so that CPU time and peak RSS belong to it alone.
 *   node child.js ours <input> <endpoint> <rate> <burst> [concurrency] [redis-url]
 *   node child.js bare|adaptive <input> <endpoint> <concurrency>
 *   node child.js user <input> <endpoint> [workers=50]
 *   node child.js rerun <results.csv> <rerun results.csv>   (endpoint, routing: the results file's run state)
 *   node child.js raise <input> <endpoint> <ceiling> <burst> <raise at created> <new quota>
 *   node child.js s3 <input> <endpoint> <rate> <burst> <results> <s3 endpoint>   (input and results may be s3://)
 * Prints one JSON line: { cpuMs, maxRssMb, wallMs, created, failed, requests, throttled }.
 */
import { createReadStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectClient, StartTaskContactCommand } from '@aws-sdk/client-connect';
import { parse } from 'csv-parse';
import pLimit from 'p-limit';
import { ConnectSender, createConnectClient } from '../src/delivery/send.js';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../src/emulator/service.js';
import { rerunImport, runImport } from '../src/run/run.js';

const [mode, input, endpoint, ...rest] = process.argv.slice(2);

async function ours() {
  const [rate, burst, concurrency] = rest.slice(0, 3).map(Number);
  const redis = rest[3];
  const summary = await runImport({
    input: input!,
    results: join(mkdtempSync(join(tmpdir(), 'ctl-bench-')), 'results.csv'),
    endpoint,
    rate,
    burst,
    concurrency: concurrency || undefined,
    redis,
    instanceId: DEMO_INSTANCE_ID,
    contactFlowId: DEMO_CONTACT_FLOW_ID,
    onProgress: (p) => {
      if (firstRequestMs === undefined && p.stats.requests > 0) firstRequestMs = performance.now() - started;
      if (p.concurrency !== concurrencySeen.at(-1))
        steps.push(`${((performance.now() - started) / 1000).toFixed(1)}s:${p.concurrency}`);
      concurrencySeen.push(p.concurrency);
    },
  });
  // The in-flight cap over the run, sampled at each progress tick (250 ms): median and last.
  const sorted = [...concurrencySeen].sort((a, b) => a - b);
  const inFlight = `${sorted[Math.floor(sorted.length / 2)] ?? '-'}/${concurrencySeen.at(-1) ?? '-'}`;
  return {
    created: summary.rows.created,
    failed: summary.rows.failed,
    requests: summary.requests,
    throttled: summary.throttled,
    concurrency: inFlight,
    concurrencySteps: steps.join(' '),
  };
}

/**
 * `raise`: a run told a ceiling above the emulator's quota, which is raised mid-run (the account's other
 * caller goes away) once `raise at` rows are created. Adds the lowest pace before the raise, and the
 * seconds from the raise until the pace is back at 90 % of the ceiling (null: it never was).
 */
async function raise() {
  const [ceiling, burst, raiseAt, quota] = rest.slice(0, 4).map(Number) as [number, number, number, number];
  let raisedAt: number | undefined;
  let recoveredAt: number | undefined;
  let lowPace = ceiling;
  const summary = await runImport({
    input: input!,
    results: join(mkdtempSync(join(tmpdir(), 'ctl-bench-')), 'results.csv'),
    endpoint,
    rate: ceiling,
    burst,
    instanceId: DEMO_INSTANCE_ID,
    contactFlowId: DEMO_CONTACT_FLOW_ID,
    onProgress: (p) => {
      const now = performance.now();
      if (raisedAt === undefined) {
        lowPace = Math.min(lowPace, p.rate);
        if (p.stats.rows.created < raiseAt) return;
        raisedAt = now;
        void fetch(`${endpoint}/__emulator/config`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ rate: quota, burst }),
        });
      } else if (recoveredAt === undefined && p.rate >= 0.9 * ceiling) recoveredAt = now;
    },
  });
  const recoverSeconds = raisedAt !== undefined && recoveredAt !== undefined ? (recoveredAt - raisedAt) / 1000 : null;
  return {
    created: summary.rows.created,
    failed: summary.rows.failed,
    requests: summary.requests,
    throttled: summary.throttled,
    lowPace,
    recoverSeconds,
  };
}

/** `s3`: as `ours`, with the results (and perhaps the input) in S3 through an S3-compatible endpoint. */
async function s3() {
  const [rate, burst] = rest.slice(0, 2).map(Number);
  const summary = await runImport({
    input: input!,
    results: rest[2]!,
    s3Endpoint: rest[3],
    endpoint,
    rate,
    burst,
    instanceId: DEMO_INSTANCE_ID,
    contactFlowId: DEMO_CONTACT_FLOW_ID,
  });
  return {
    created: summary.rows.created,
    failed: summary.rows.failed,
    requests: summary.requests,
    throttled: summary.throttled,
  };
}

/** `rerun` of a results file (`input`); its third argument is where the rerun writes. Unthrottled. */
async function rerun() {
  const summary = await rerunImport({ input: input!, results: endpoint, rate: 1_000_000, burst: 1_000_000 });
  return {
    created: summary.rows.created,
    failed: summary.rows.failed,
    requests: summary.requests,
    throttled: summary.throttled,
  };
}

/**
 * The baselines: the same requests at the same concurrency, with the CSV parsed by the same library —
 * and nothing else. `bare`: our SDK client settings (no SDK retries). `adaptive`: the SDK's own best,
 * retryMode 'adaptive' with 10 attempts.
 */
async function bare(adaptive: boolean) {
  const concurrency = Number(rest[0]);
  const sender = adaptive
    ? new ConnectSender(
        new ConnectClient({
          endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'EMULATOR', secretAccessKey: 'x' },
          retryMode: 'adaptive',
          maxAttempts: 10,
          requestHandler: {
            httpsAgent: { maxSockets: concurrency },
            httpAgent: { maxSockets: concurrency, keepAlive: true },
          },
        }),
      )
    : new ConnectSender(createConnectClient({ endpoint, maxSockets: concurrency, requestTimeoutMs: 15_000 }));
  const limit = pLimit(concurrency);
  let created = 0;
  let failed = 0;
  const pending = new Set<Promise<void>>();
  let header: string[] | undefined;
  for await (const record of createReadStream(input!).pipe(parse({ bom: true })) as AsyncIterable<string[]>) {
    if (!header) {
      header = record;
      continue;
    }
    const [Name, Description, rowId, url] = record;
    const request = {
      InstanceId: DEMO_INSTANCE_ID,
      ContactFlowId: DEMO_CONTACT_FLOW_ID,
      Name,
      Description,
      Attributes: { rowId: rowId! },
      References: { ticket: { Type: 'URL', Value: url! } },
      ClientToken: `bare-${rowId}`,
    };
    const p = limit(() => sender.startTask(request)).then((o) => {
      if (o.kind === 'created') created++;
      else failed++;
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
    if (pending.size >= concurrency * 2) await Promise.race(pending);
  }
  await Promise.all(pending);
  sender.destroy();
  return { created, failed, requests: created + failed, throttled: 0 };
}

/**
 * The loop a developer writes in an afternoon: csv-parse with named columns, 50 workers pulling from
 * it, and the SDK's defaults (its own retries, its default HTTP handler). No results file, no pacing.
 */
async function user() {
  const workers = Number(rest[0] ?? 50);
  const client = new ConnectClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'EMULATOR', secretAccessKey: 'x' },
  });
  const records = (
    createReadStream(input!).pipe(parse({ bom: true, columns: true })) as AsyncIterable<Record<string, string>>
  )[Symbol.asyncIterator]();
  let created = 0;
  let failed = 0;
  const worker = async () => {
    for (let next = await records.next(); !next.done; next = await records.next()) {
      const row = next.value;
      try {
        await client.send(
          new StartTaskContactCommand({
            InstanceId: DEMO_INSTANCE_ID,
            ContactFlowId: DEMO_CONTACT_FLOW_ID,
            Name: row.Name,
            Description: row.Description,
            Attributes: { rowId: row['Attributes.rowId']! },
            References: { ticket: { Type: 'URL', Value: row['References.ticket.URL']! } },
            ClientToken: `user-${row['Attributes.rowId']}`,
          }),
        );
        created++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  client.destroy();
  return { created, failed, requests: created + failed, throttled: 0 };
}

const started = performance.now();
/** When the first answer came (seen at progress ticks, 250 ms apart): start-up cost, for reading the figures. */
let firstRequestMs: number | undefined;
const concurrencySeen: number[] = [];
/** Each change of the in-flight cap: "seconds:cap". */
const steps: string[] = [];
const cpu0 = process.cpuUsage();
const counts =
  mode === 'bare'
    ? await bare(false)
    : mode === 'adaptive'
      ? await bare(true)
      : mode === 'user'
        ? await user()
        : mode === 'rerun'
          ? await rerun()
          : mode === 'raise'
            ? await raise()
            : mode === 's3'
              ? await s3()
              : await ours();
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({
    ...counts,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    wallMs: performance.now() - started,
    firstRequestMs,
  })}\n`,
);
