/**
 * `npm run bench`: the performance targets, measured as ratios in one run on this machine.
 * Each import runs in a fresh child process (CPU and peak RSS are its own) against an emulator in
 * another child process. Prints a table and writes bench-results/latest.{md,json}.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { ledgerScale } from './ledger-scale.js';
import { s3Scenario } from './s3.js';

const ROOT = resolve(import.meta.dirname, '../..');
// The built CLI (npm run build, done by prebench): it reads its version from ../package.json.
const CLI = join(ROOT, 'dist/cli.js');
const CHILD = join(ROOT, 'dist-bench/bench/child.js');
const work = mkdtempSync(join(tmpdir(), 'ctl-bench-'));

interface ChildResult {
  created: number;
  failed: number;
  requests: number;
  throttled: number;
  cpuMs: number;
  maxRssMb: number;
  wallMs: number;
  /** In-flight cap over the run, "median/last" (automatic concurrency). */
  concurrency?: string;
  /** Scenario 9: the lowest pace before the quota was raised, and seconds from the raise to 90 % of the ceiling. */
  lowPace?: number;
  recoverSeconds?: number | null;
}

function makeInput(rows: number): string {
  const path = join(work, `rows-${rows}.csv`);
  const lines: string[][] = [['Name', 'Description', 'Attributes.rowId', 'References.ticket.URL']];
  for (let i = 1; i <= rows; i++) {
    lines.push([
      `Follow up ticket ${i}`,
      `Customer wrote:\n"The device stops after ${i % 60} minutes", please call back.`,
      String(i),
      `https://crm.example.com/t/${i}`,
    ]);
  }
  writeFileSync(path, stringify(lines));
  return path;
}

/** `rows` rows of `columns` columns: Name, Description, then one-letter cells under short unmapped names. */
function makeWideInput(rows: number, columns: number): string {
  const path = join(work, `wide-${rows}x${columns}.csv`);
  const header = ['Name', 'Description', ...Array.from({ length: columns - 2 }, (_, i) => `x${(i + 3).toString(36)}`)];
  const cells = ','
    .repeat(columns - 3)
    .split(',')
    .fill('x')
    .join(',');
  const lines = [header.join(',')];
  for (let i = 1; i <= rows; i++) lines.push(`Wide row ${i},Description ${i},${cells}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

async function emulator(args: string[]): Promise<{ url: string; close: () => void }> {
  const child = spawn(process.execPath, [CLI, 'emulator', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const m = /on (http:\/\/\S+)/.exec(out);
      if (m) done(m[1]!);
    });
    child.on('exit', () => fail(new Error('emulator exited')));
  });
  return { url, close: () => child.kill('SIGTERM') };
}

function child(args: string[]): Promise<ChildResult> {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, [CHILD, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    c.on('exit', (code) =>
      code === 0
        ? done(JSON.parse(out.trim().split('\n').pop()!) as ChildResult)
        : fail(new Error(`child exited ${code}`)),
    );
  });
}

/** A redis-server on a free port, no persistence (Debian's redis-server must be installed). */
async function redisServer(): Promise<{ url: string; close: () => void }> {
  const port = await new Promise<number>((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => done(p));
    });
  });
  const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((done, fail) => {
    c.stdout.on('data', (d: Buffer) => String(d).includes('Ready to accept') && done());
    c.on('exit', () => fail(new Error('redis-server exited')));
  });
  return { url: `redis://127.0.0.1:${port}`, close: () => c.kill('SIGKILL') };
}

async function withEmulator<T>(args: string[], fn: (url: string) => Promise<T>): Promise<T> {
  const e = await emulator(args);
  try {
    return await fn(e.url);
  } finally {
    e.close();
  }
}

const rows: { scenario: string; measure: string; value: string; target: string; ok: boolean | null; detail: string }[] =
  [];
const r2 = (n: number) => Math.round(n * 1000) / 1000;
function report(scenario: string, measure: string, value: number, target: string, ok: boolean | null, detail: string) {
  rows.push({ scenario, measure, value: String(r2(value)), target, ok, detail });
  process.stderr.write(`  ${scenario}: ${measure} = ${r2(value)} (${target}) ${detail}\n`);
}

/** `BENCH_ONLY=6 npm run bench` runs one scenario (the table then holds only its rows). */
const want = (n: string) => !process.env.BENCH_ONLY || process.env.BENCH_ONLY.split(',').includes(n);

const N = 2000;
const input2k = want('1') || want('2') || want('3') ? makeInput(N) : '';

process.stderr.write('1. told the quota: emulator 50 rps / burst 5\n');
if (want('1')) {
  const r = await withEmulator(['--rate', '50', '--burst', '5'], (url) => child(['ours', input2k, url, '50', '5']));
  const ratio = r.created / (r.wallMs / 1000) / 50;
  report(
    '1 told the quota',
    'achieved / quota',
    ratio,
    '≥ 0.98',
    ratio >= 0.98,
    `${r.created} created in ${(r.wallMs / 1000).toFixed(1)} s`,
  );
  report(
    '1 told the quota',
    'throttled / requests',
    r.throttled / r.requests,
    '≤ 0.01',
    r.throttled / r.requests <= 0.01,
    `${r.throttled} of ${r.requests}`,
  );
  report('1 told the quota', 'failed rows', r.failed, '0', r.failed === 0, '');
  const a = await withEmulator(['--rate', '50', '--burst', '5'], (url) => child(['adaptive', input2k, url, '50']));
  report(
    '1 baseline: SDK adaptive, 10 attempts',
    'achieved / quota',
    a.created / (a.wallMs / 1000) / 50,
    'for comparison',
    null,
    `${a.created} created, ${a.failed} failed, ${a.requests} sent`,
  );
}

process.stderr.write('2. told a ceiling 5× too high: emulator 40 rps, --rate 200\n');
if (want('2')) {
  const ideal = (N - 5) / 40;
  const r = await withEmulator(['--rate', '40', '--burst', '5'], (url) => child(['ours', input2k, url, '200', '5']));
  report(
    '2 ceiling 5× too high',
    'elapsed / ideal',
    r.wallMs / 1000 / ideal,
    '≤ 1.10',
    r.wallMs / 1000 / ideal <= 1.1,
    `${(r.wallMs / 1000).toFixed(1)} s vs ${ideal.toFixed(1)} s; ${r.throttled} of ${r.requests} requests throttled`,
  );
  report('2 ceiling 5× too high', 'failed rows', r.failed, '0', r.failed === 0, '');
  const a = await withEmulator(['--rate', '40', '--burst', '5'], (url) => child(['adaptive', input2k, url, '50']));
  report(
    '2 baseline: SDK adaptive, 10 attempts',
    'elapsed / ideal',
    a.wallMs / 1000 / ideal,
    'for comparison',
    null,
    `${a.created} created, ${a.failed} failed`,
  );
}

process.stderr.write('3. latency: emulator 300 ms, 100 rps\n');
if (want('3')) {
  const r = await withEmulator(['--rate', '100', '--burst', '5', '--latency-ms', '300'], (url) =>
    child(['ours', input2k, url, '100', '5']),
  );
  const ratio = r.created / (r.wallMs / 1000) / 100;
  report(
    '3 latency 300 ms',
    'achieved / 100',
    ratio,
    '≥ 0.97',
    ratio >= 0.97,
    `${r.created} created in ${(r.wallMs / 1000).toFixed(1)} s, ${r.failed} failed`,
  );
}

/** The median of a few runs of each side, interleaved, so that a noisy moment does not decide a ratio. */
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

process.stderr.write(
  '4. overhead: unthrottled, 10,000 rows, default settings vs the loop a user writes (csv-parse, 50 workers, SDK ' +
    'defaults)\n',
);
if (want('4')) {
  const input = makeInput(10_000);
  const fast = ['--rate', '1000000', '--burst', '1000000'];
  const users: ChildResult[] = [];
  const ourRuns: ChildResult[] = [];
  for (let i = 0; i < REPEATS; i++) {
    users.push(await withEmulator(fast, (url) => child(['user', input, url, '50'])));
    ourRuns.push(await withEmulator(fast, (url) => child(['ours', input, url, '1000000', '1000000'])));
  }
  const cpu = (r: ChildResult) => r.cpuMs / r.created;
  const [uCpu, oCpu] = [median(users.map(cpu)), median(ourRuns.map(cpu))];
  const [uRss, oRss] = [median(users.map((r) => r.maxRssMb)), median(ourRuns.map((r) => r.maxRssMb))];
  const [uWall, oWall] = [median(users.map((r) => r.wallMs)), median(ourRuns.map((r) => r.wallMs))];
  const created = Math.min(...ourRuns.map((r) => r.created));
  report(
    '4 overhead',
    'CPU per row / user loop',
    oCpu / uCpu,
    '≤ 1.10',
    oCpu / uCpu <= 1.1,
    `${oCpu.toFixed(3)} ms vs ${uCpu.toFixed(3)} ms per row (median of ${REPEATS})`,
  );
  report(
    '4 overhead',
    'peak RSS / user loop',
    oRss / uRss,
    '≤ 1.00',
    oRss / uRss <= 1,
    `${oRss.toFixed(0)} MB vs ${uRss.toFixed(0)} MB`,
  );
  report(
    '4 overhead',
    'wall time / user loop',
    oWall / uWall,
    '≤ 1.00',
    oWall / uWall <= 1,
    `${(oWall / 1000).toFixed(1)} s vs ${(uWall / 1000).toFixed(1)} s; ${created} created, in flight ` +
      `(median/last) ${ourRuns.map((r) => r.concurrency).join(', ')}`,
  );
}

process.stderr.write(
  '5. memory: peak RSS at 10,000 and 100,000 rows (default settings, unthrottled: the worst case), and at 200 rps\n',
);
if (want('5')) {
  const fast = ['--rate', '1000000', '--burst', '1000000'];
  // Median of REPEATS each, interleaved: one run's peak depends on where its collections fall.
  const [input10k, input100k] = [makeInput(10_000), makeInput(100_000)];
  const smalls: ChildResult[] = [];
  const larges: ChildResult[] = [];
  for (let i = 0; i < REPEATS; i++) {
    smalls.push(await withEmulator(fast, (url) => child(['ours', input10k, url, '1000000', '1000000'])));
    larges.push(await withEmulator(fast, (url) => child(['ours', input100k, url, '1000000', '1000000'])));
  }
  const paced = await withEmulator(['--rate', '200', '--burst', '20'], (url) =>
    child(['ours', input10k, url, '200', '20']),
  );
  const [small, large] = [median(smalls.map((r) => r.maxRssMb)), median(larges.map((r) => r.maxRssMb))];
  const rate = median(larges.map((r) => r.created / (r.wallMs / 1000)));
  report(
    '5 memory',
    'RSS 100k / RSS 10k',
    large / small,
    '≤ 1.15',
    large / small <= 1.15,
    `${large.toFixed(0)} MB at 100k (${rate.toFixed(0)} rows/s), ${small.toFixed(0)} MB at 10k (median ` +
      `of ${REPEATS}; 100k runs ${larges.map((r) => r.maxRssMb.toFixed(0)).join(', ')} MB)`,
  );
  report(
    '5 memory',
    'peak RSS at 10,000 rows, 200 rps (MB)',
    paced.maxRssMb,
    'for comparison',
    null,
    `${paced.created} created`,
  );
}

process.stderr.write(
  '8. wide rows: 200 rows of 100,000 columns (40 MB), unthrottled, default settings, vs 10,000 narrow rows\n',
);
if (want('8')) {
  const fast = ['--rate', '1000000', '--burst', '1000000'];
  const wide = await withEmulator(fast, (url) =>
    child(['ours', makeWideInput(200, 100_000), url, '1000000', '1000000']),
  );
  const narrow = await withEmulator(fast, (url) => child(['ours', makeInput(10_000), url, '1000000', '1000000']));
  const ratio = wide.maxRssMb / narrow.maxRssMb;
  report(
    '8 wide rows',
    'peak RSS, 40 MB of 100,000-column rows / 10,000 narrow rows',
    ratio,
    '≤ 1.5',
    ratio <= 1.5,
    `${wide.maxRssMb.toFixed(0)} MB vs ${narrow.maxRssMb.toFixed(0)} MB; ${wide.created} ` +
      `created, ${(wide.cpuMs / wide.created).toFixed(1)} ms CPU per wide row`,
  );
}

process.stderr.write(
  '6. one quota, three processes told it: emulator 30 rps, each --rate 30, without and with a shared limiter (Redis)\n',
);
if (want('6')) {
  const each = Number(process.env.BENCH_SHARED_ROWS ?? 600);
  const inputs = [1, 2, 3].map(() => makeInput(each));
  const ideal = (3 * each - 5) / 30;
  const three = (url: string, redis?: string) =>
    Promise.all(inputs.map((f) => child(['ours', f, url, '30', '5', '0', ...(redis ? [redis] : [])])));
  const measure = (label: string, runs: ChildResult[]) => {
    const requests = runs.reduce((n, r) => n + r.requests, 0);
    const throttled = runs.reduce((n, r) => n + r.throttled, 0);
    const elapsed = Math.max(...runs.map((r) => r.wallMs)) / 1000;
    const created = runs.reduce((n, r) => n + r.created, 0);
    report(
      `6 shared quota, ${label}`,
      'throttled / requests',
      throttled / requests,
      label === 'Redis' ? '≤ 0.02' : 'for comparison',
      label === 'Redis' ? throttled / requests <= 0.02 : null,
      `${throttled} of ${requests}; ${created} created`,
    );
    report(
      `6 shared quota, ${label}`,
      'elapsed / ideal',
      elapsed / ideal,
      label === 'Redis' ? '≤ 1.03' : 'for comparison',
      label === 'Redis' ? elapsed / ideal <= 1.03 : null,
      `${elapsed.toFixed(1)} s vs ${ideal.toFixed(1)} s`,
    );
  };
  measure('alone', await withEmulator(['--rate', '30', '--burst', '5'], (url) => three(url)));
  const redis = await redisServer();
  try {
    measure('Redis', await withEmulator(['--rate', '30', '--burst', '5'], (url) => three(url, redis.url)));
  } finally {
    redis.close();
  }
}

process.stderr.write(
  '9. a quota raised mid-run: emulator 20 rps, raised to 100 once 100 rows are created; --rate 100\n',
);
if (want('9')) {
  // The cut finds the free share (the quota, with nobody else on it); once the other caller goes the
  // pace climbs 5 % of the ceiling a second, so from 20 to 90 takes 14 s (15 s measured: throttles
  // still in flight at the raise cut once more).
  const r = await withEmulator(['--rate', '20', '--burst', '5'], (url) =>
    child(['raise', makeInput(1200), url, '100', '5', '100', '100']),
  );
  const low = r.lowPace! / 20;
  report(
    '9 quota raised mid-run',
    'lowest pace before the raise / quota',
    low,
    '≤ 1.5',
    low <= 1.5,
    `${r.lowPace!.toFixed(1)} requests/s; ${r.throttled} of ${r.requests} requests throttled`,
  );
  const back = r.recoverSeconds ?? Infinity;
  report(
    '9 quota raised mid-run',
    'seconds from the raise to 90 % of the ceiling',
    back,
    '≤ 18',
    back <= 18,
    `${r.created} created, ${r.failed} failed`,
  );
}

process.stderr.write(
  '10. S3: input and results in S3 (moto) beside local files, at the quota (100 rps, 3,000 rows) and unthrottled (100,000 rows)\n',
);
if (want('10')) await s3Scenario({ makeInput, report, withEmulator, child });

process.stderr.write('7. ledger scale: rerun of a 2,000,000-row and a 20,000-row results file (1 in 1,000 failed)\n');
if (want('7')) await ledgerScale({ work, report, withEmulator, child });

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
const table = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`npm run bench\`.`,
  '',
  '| scenario | measure | value | target | met | detail |',
  '|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.measure} | ${r.value} | ${r.target} ` +
      `| ${r.ok === null ? '—' : r.ok ? 'yes' : '**no**'} | ${r.detail} |`,
  ),
].join('\n');
mkdirSync(join(ROOT, 'bench-results'), { recursive: true });
writeFileSync(join(ROOT, 'bench-results/latest.md'), `${table}\n`);
writeFileSync(join(ROOT, 'bench-results/latest.json'), `${JSON.stringify({ machine, rows }, null, 2)}\n`);
process.stdout.write(`${table}\n`);
