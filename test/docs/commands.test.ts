/**
 * Every ```sh block of README.md and docs/*.md runs as written, one test per block named
 * `<page>:<line>` (conventions: test/docs/blocks.ts and docs/development.md).
 *
 * The pages run as a newcomer follows them in one clone: README.md first, then the pages in the order of
 * the README's table of contents, every block one after another in ONE scratch folder holding copies
 * of samples/, schema/ and examples/ — so a block finds what the earlier blocks of its page and of the pages
 * before it left there (a results file, a lock, a file of the same name), as a reader's clone would.
 * Blocks run with `bash -euo pipefail`, the compiled CLI on PATH as `connect-task-loader`, and the
 * environment pointed at one emulator this test starts (placeholder credentials, us-east-1, a fast
 * default --rate). http://127.0.0.1:4566 in a block is that emulator's address, `--port 4566` a free
 * port, redis://127.0.0.1:6379 a redis-server the test starts when a block needs one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../../src/emulator/server.js';
import { BIN, bareAwsEnv } from '../cli/bin.js';
import { redisInstalled, redisRequired, startRedis, type TestRedis } from '../redis.js';
import { fencedBlocks, needsAwsCli, needsRedis, type Plan, planOf, scriptOf, substitute } from './blocks.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** A block that runs longer than this is stopped and fails. */
const BLOCK_TIMEOUT_MS = 30_000;

/** README.md, then docs/ in the order of the README's table of contents (a page it does not list, last). */
const PAGES = readingOrder();

function readingOrder(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  const listed = [
    ...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/^\|\s*\[[^\]]*\]\((docs\/[^)#]+\.md)\)/gm),
  ].map((m) => m[1]!);
  const toc = [...new Set(listed)].filter((page) => docs.includes(page));
  return ['README.md', ...toc, ...docs.filter((page) => !toc.includes(page))];
}
const plans: Plan[] = PAGES.flatMap((page) => fencedBlocks(readFileSync(join(ROOT, page), 'utf8'), page).map(planOf));
const awsCli = spawnSync('aws', ['--version'], { stdio: 'ignore' }).status === 0;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
  timedOut: boolean;
}

let work: string;
let emulator: Emulator;
let redis: TestRedis | undefined;
const ran: string[] = [];
const skipped: string[] = [];

/** Why a block to run is skipped here after all (a tool this machine lacks), or undefined. */
function missingTool(body: string): string | undefined {
  if (needsAwsCli(body) && !awsCli) return 'the AWS CLI is not installed (.ci/run installs it)';
  if (needsRedis(body) && !redisInstalled && !redisRequired)
    return 'redis-server is not installed (.ci/run installs it)';
  return undefined;
}

function runScript(script: string, cwd: string, env: NodeJS.ProcessEnv, untilCtrlC: boolean): Promise<Outcome> {
  const file = join(work, `block-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(file, script);
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn('bash', ['-euo', 'pipefail', file], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const group = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    let output = '';
    let timedOut = false;
    let interrupted = false;
    child.stdout!.on('data', (d: Buffer) => {
      output += d;
      if (untilCtrlC && !interrupted) {
        interrupted = true;
        setTimeout(() => group('SIGINT'), 200); // as a user reads the first lines, then presses Ctrl-C
      }
    });
    child.stderr!.on('data', (d: Buffer) => (output += d));
    const timer = setTimeout(() => {
      timedOut = true;
      group('SIGKILL');
    }, BLOCK_TIMEOUT_MS);
    let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      clearTimeout(timer);
      group('SIGKILL'); // what the block left in the background
    });
    child.on('close', () => done({ ...exit, output, ms: Date.now() - started, timedOut }));
  });
}

interface Deferred {
  promise: Promise<Outcome | string>;
  settle: (o: Outcome | string) => void;
}
const deferreds = new Map<Plan, Deferred>();
for (const plan of plans.filter((p) => p.kind === 'run')) {
  let settle!: Deferred['settle'];
  const promise = new Promise<Outcome | string>((r) => (settle = r));
  deferreds.set(plan, { promise, settle });
}

/** Runs a page's blocks one after another in the shared folder; each block's outcome settles its test. */
async function runPage(page: string, dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const pagePlans = [...deferreds.keys()].filter((p) => p.block.file === page);
  for (const plan of pagePlans) {
    const { block } = plan;
    const { settle } = deferreds.get(plan)!;
    const missing = missingTool(block.body);
    if (missing) {
      settle(missing);
      continue;
    }
    try {
      if (needsRedis(block.body) && !redis) redis = await startRedis();
      const script = scriptOf(substitute(block.body, { emulator: emulator.url, redis: redis?.url }), block.line + 1);
      settle(await runScript(script.text, dir, env, script.untilCtrlC));
    } catch (err) {
      settle({
        code: null,
        signal: null,
        output: `the block could not be run: ${String(err)}`,
        ms: 0,
        timedOut: false,
      });
    }
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ctl-docs-'));
  chmodSync(work, 0o700);
  emulator = await startEmulator({ rate: 1000, burst: 1000 });
  const bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'connect-task-loader'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, {
    mode: 0o755,
  });
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(bareAwsEnv()).filter(([k]) => !k.startsWith('CTL_')),
  );
  Object.assign(env, {
    PATH: `${bin}:${process.env.PATH}`,
    AWS_ENDPOINT_URL_CONNECT: emulator.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'docs-example',
    AWS_SECRET_ACCESS_KEY: 'docs-example',
    CTL_RATE: '200',
    CTL_BURST: '200',
  });
  // Tests await their block's outcome; meanwhile the pages are worked through in reading order.
  const clone = join(work, 'clone');
  mkdirSync(clone);
  cpSync(join(ROOT, 'samples'), join(clone, 'samples'), { recursive: true });
  cpSync(join(ROOT, 'schema'), join(clone, 'schema'), { recursive: true });
  cpSync(join(ROOT, 'examples'), join(clone, 'examples'), { recursive: true });
  void (async () => {
    for (const page of PAGES) {
      const failed = (err: unknown) => ({
        code: null,
        signal: null,
        output: `the page could not be run: ${String(err)}`,
        ms: 0,
        timedOut: false,
      });
      await runPage(page, clone, env).catch((err: unknown) => {
        for (const [plan, { settle }] of deferreds) if (plan.block.file === page) settle(failed(err)); // a settled one stays as it was
      });
    }
  })();
});

afterAll(async () => {
  await emulator?.close();
  await redis?.kill();
  if (work) rmSync(work, { recursive: true, force: true });
  process.stdout.write(
    `docs: ${ran.length} blocks run, ${skipped.length} skipped\n${skipped.map((s) => `  skipped ${s}\n`).join('')}`,
  );
});

describe('commands in the docs run as written', () => {
  it('the pages hold runnable examples', () => {
    expect(plans.filter((p) => p.kind === 'run').length).toBeGreaterThan(10);
  });

  for (const plan of plans) {
    const { block } = plan;
    const name = `${block.file}:${block.line}`;
    if (plan.kind === 'other') continue;
    if (plan.kind === 'wrong') {
      it(name, () => expect.fail(`${name}: ${plan.reason}`));
      continue;
    }
    if (plan.kind === 'skip') {
      skipped.push(`${name} (sh ${plan.marker}: ${plan.reason})`);
      it.skip(`${name} (sh ${plan.marker}: ${plan.reason})`, () => {});
      continue;
    }
    it(name, async (ctx) => {
      const outcome = await deferreds.get(plan)!.promise;
      if (typeof outcome === 'string') {
        skipped.push(`${name} (${outcome})`);
        ctx.skip(outcome);
        return;
      }
      ran.push(name);
      const what = outcome.timedOut
        ? `timed out after ${BLOCK_TIMEOUT_MS / 1000} s`
        : `exited ${outcome.code ?? outcome.signal}`;
      const why = outcome.output
        .split('\n')
        .filter((l) => l.startsWith('docs: '))
        .join('\n');
      expect(
        outcome.code,
        `${name}: the block ${what} (${outcome.ms} ms)\n${why}\n--- block ---\n${block.body}\n--- output ---\n${outcome.output.slice(-6000)}`,
      ).toBe(0);
    });
  }
});
