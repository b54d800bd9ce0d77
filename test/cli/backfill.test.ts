/**
 * A scheduled backfill rehearsed end to end, as an Indexed Job or an array job runs it: one input
 * object in S3, four indexes given the SAME environment but their index (CTL_INPUT=s3://…,
 * CTL_RESULTS=s3://bucket/results/, CTL_SHARD=auto/4, one shared quota in Redis), each in a fresh
 * empty folder with a temporary folder of its own (nothing of a run on its disk). One index is killed
 * outright mid-run and started again as a new process in a new folder: it finds its own results
 * object, derived from the input and its index, and resumes it. Then `merge` of the results prefix.
 *
 * The workers are plain processes of this machine (not PID 1 of namespaces of their own, as in
 * container.test.ts): a dead holder of a lease on this host is then seen gone and taken over at once,
 * where a replacement on another host waits out the lease (lease.ts; docs/results.md).
 *
 * Invariants, not timings: every record created once (the emulator's per-token counts), every
 * merged row created, one results object per index.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { testEmulator } from '../emulator.js';
import { readResults, tempDir, until } from '../helpers.js';
import { skipRedis, startRedis } from '../redis.js';
import { fileS3, skipS3 } from '../s3.js';
import { type Ran, spawnCli } from './bin.js';

const s3 = fileS3();
/**
 * 50 rows an index, 20 a second for all four: an index that started before the others and had the
 * quota to itself still takes seconds over its shard, while its third checkpoint comes a few tenths
 * of a second in. So the one killed there always has rows left to send.
 */
const ROWS = 200;

function tickets(count: number): string {
  const rows = ['Name,Description,Attributes.ticket'];
  for (let k = 1; k <= count; k++) rows.push(`Ticket ${k},Call back about ticket ${k},T${k}`);
  return `${rows.join('\n')}\n`;
}

describe.skipIf(skipS3 || skipRedis)('a scheduled backfill from S3 into S3, four indexes, one killed', () => {
  it('every index resumes its own results object; merge of the prefix: every record created once', async () => {
    const emulator = await testEmulator({ rate: 5000, burst: 5000 });
    const redis = await startRedis();
    try {
      const bucket = `backfill-${process.pid}`;
      await s3.bucket(bucket);
      await s3.put(bucket, 'exports/tickets.csv', tickets(ROWS));
      // What every index of the array is given: the same, but for the scheduler's index.
      const env = (index: number): NodeJS.ProcessEnv => ({
        CTL_INPUT: `s3://${bucket}/exports/tickets.csv`,
        CTL_RESULTS: `s3://${bucket}/results/`,
        CTL_SHARD: 'auto/4',
        CTL_RESUME: '1',
        CTL_INSTANCE_ID: DEMO_INSTANCE_ID,
        CTL_CONTACT_FLOW_ID: DEMO_CONTACT_FLOW_ID,
        CTL_REDIS_URL: redis.url,
        CTL_LIMITER_ID: 'backfill',
        CTL_RATE: '20',
        CTL_BURST: '5',
        CTL_CHECKPOINT_INTERVAL: '0.1',
        AWS_ENDPOINT_URL_CONNECT: emulator.url,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        AWS_EC2_METADATA_DISABLED: 'true',
        JOB_COMPLETION_INDEX: String(index),
        // A container's disk: its working folder and its temporary folder, both new and empty.
        TMPDIR: tempDir(),
      });
      const start = (index: number, onSpawn?: (child: ChildProcess) => void): { cwd: string; done: Promise<Ran> } => {
        const cwd = tempDir();
        return { cwd, done: spawnCli(['run'], { cwd, env: env(index), onSpawn }) };
      };
      const key = (i: number) => `results/tickets.shard-${i + 1}-of-4.results.csv`;

      let victim: ChildProcess | undefined;
      const workers = [0, 1, 2, 3].map((i) => start(i, i === 2 ? (c) => (victim = c) : undefined));
      // Killed once some of its rows are in checkpoints (the first holds the header alone).
      const parts = `/${bucket}/${key(2)}.parts/`;
      await until(
        () => s3.requests.filter((r) => r.startsWith(`PUT ${parts}`)).length >= 3,
        'three checkpoints of index 2',
      );
      victim!.kill('SIGKILL');
      const ran = await Promise.all(workers.map((w) => w.done));
      expect(ran.map((r) => r.code)).toEqual([0, 0, null, 0]);
      const sentBefore = emulator.stats().tasks;
      expect(sentBefore).toBeLessThan(ROWS);

      // The replacement: the same environment, another new folder.
      const replacement = start(2);
      const again = await replacement.done;
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('resuming: rows already final are skipped');
      expect(again.stdout).toContain(`s3://${bucket}/${key(2)}`);
      expect(emulator.stats().tasks).toBe(ROWS);
      // Nothing of a run left in the containers' folders: it all lives in S3.
      for (const w of [...workers, replacement]) expect(readdirSync(w.cwd)).toEqual([]);

      const results = (await s3.keys(bucket, 'results/')).filter((k) => k.endsWith('.results.csv'));
      expect(results).toEqual([0, 1, 2, 3].map(key));
      expect(await s3.keys(bucket, `${key(2)}.parts/`)).toEqual([]);

      const cwd = tempDir();
      const merged = await spawnCli(['merge', `s3://${bucket}/results/`, '--results', 'merged.csv'], {
        cwd,
        env: { ...env(0), CTL_INPUT: '', CTL_RESULTS: '', CTL_SHARD: '', JOB_COMPLETION_INDEX: '' },
      });
      expect(merged.code, merged.stderr).toBe(0);
      expect(merged.stdout).toContain(`${ROWS} rows — ${ROWS} created, 0 failed, 0 invalid`);
      const rows = readResults(join(cwd, 'merged.csv'));
      expect(rows.map((row) => Number(row['Result.Line']))).toEqual(Array.from({ length: ROWS }, (_, k) => k + 2));
      expect(rows.every((row) => row['Result.Status'] === 'created')).toBe(true);
      expect(emulator.stats().tasks).toBe(ROWS);
      expect(emulator.stats().maxTasksPerToken).toBe(1);
    } finally {
      await redis.kill();
    }
  }, 120_000);
});
