/**
 * Scenario 10: the input and the results in S3 (moto_server, a real S3-compatible server, on this
 * machine), beside the same runs on local files: at the quota (elapsed against the ideal time), and
 * unthrottled on a large input (peak RSS: the object streamed, the results checkpointed). Skipped,
 * with a line saying so, where moto_server is missing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

interface Result {
  created: number;
  failed: number;
  requests: number;
  throttled: number;
  cpuMs: number;
  maxRssMb: number;
  wallMs: number;
}

interface Bench {
  makeInput(rows: number): string;
  report(scenario: string, measure: string, value: number, target: string, ok: boolean | null, detail: string): void;
  withEmulator<T>(args: string[], fn: (url: string) => Promise<T>): Promise<T>;
  child(args: string[]): Promise<Result>;
}

async function moto(): Promise<{ url: string; close: () => void }> {
  const port = await new Promise<number>((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => done(p));
    });
  });
  const c = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (const until = Date.now() + 30_000; Date.now() < until; ) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, close: () => c.kill('SIGKILL') };
    await new Promise((r) => setTimeout(r, 100));
  }
  c.kill('SIGKILL');
  throw new Error('moto_server did not start');
}

export async function s3Scenario({ makeInput, report, withEmulator, child }: Bench): Promise<void> {
  if (spawnSync('moto_server', ['--help']).status !== 0) {
    process.stderr.write('  10: skipped, moto_server is not installed\n');
    return;
  }
  const server = await moto();
  const client = new S3Client({
    endpoint: server.url,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const upload = async (path: string, key: string) =>
      client.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: readFileSync(path) }));

    // At the quota: 100 rps, burst 5, 3,000 rows.
    const rows = 3000;
    const quota = 100;
    const ideal = (rows - 5) / quota;
    const local = makeInput(rows);
    await upload(local, 'in/quota.csv');
    const paced = ['--rate', String(quota), '--burst', '5'];
    const onDisk = await withEmulator(paced, (url) => child(['ours', local, url, String(quota), '5']));
    const inS3 = await withEmulator(paced, (url) =>
      child(['s3', 's3://bench/in/quota.csv', url, String(quota), '5', 's3://bench/out/quota.csv', server.url]),
    );
    for (const [label, r] of [
      ['local files', onDisk],
      ['S3 in and out', inS3],
    ] as const)
      report(
        `10 S3 at the quota, ${label}`,
        'elapsed / ideal',
        r.wallMs / 1000 / ideal,
        label === 'local files' ? 'for comparison' : '≤ 1.10',
        label === 'local files' ? null : r.wallMs / 1000 / ideal <= 1.1,
        `${(r.wallMs / 1000).toFixed(1)} s vs ${ideal.toFixed(1)} s; ${r.created} created, ${r.failed} failed, ` +
          `peak RSS ${r.maxRssMb.toFixed(0)} MB, ${(r.cpuMs / r.created).toFixed(2)} ms CPU per row`,
      );

    // Unthrottled, a large input: memory stays flat with the object streamed and the results checkpointed.
    const big = 100_000;
    const largeLocal = makeInput(big);
    await upload(largeLocal, 'in/large.csv');
    const fast = ['--rate', '1000000', '--burst', '1000000'];
    const diskRun = await withEmulator(fast, (url) => child(['ours', largeLocal, url, '100000', '100000']));
    const s3Run = await withEmulator(fast, (url) =>
      child(['s3', 's3://bench/in/large.csv', url, '100000', '100000', 's3://bench/out/large.csv', server.url]),
    );
    const ratio = s3Run.maxRssMb / diskRun.maxRssMb;
    report(
      '10 S3, 100,000 rows unthrottled',
      'peak RSS S3 in and out / local files',
      ratio,
      '≤ 1.25',
      ratio <= 1.25,
      `${s3Run.maxRssMb.toFixed(0)} MB vs ${diskRun.maxRssMb.toFixed(0)} MB; ${(s3Run.wallMs / 1000).toFixed(1)} s vs ` +
        `${(diskRun.wallMs / 1000).toFixed(1)} s; ${s3Run.created} and ${diskRun.created} created`,
    );
  } finally {
    client.destroy();
    server.close();
  }
}
