/**
 * The package as npm publishes it: `npm pack` from what a clean clone holds plus a fresh build, the
 * tarball's file list, then an install into an empty folder and the installed bin and library used
 * as a user would (--help, validate on a shipped sample, demo, `import('connect-task-loader')` with
 * its types).
 *
 * dist/ is the one the test run's global setup has just compiled (tsconfig.build.json, as the
 * prepack script's build): only files a build of today's src/ makes are staged, so leftovers of an
 * older build in the working folder cannot reach the tarball here, and prepack's clean step is run
 * on planted leftovers to show a real `npm pack` starts from an empty dist/.
 */
import { type ExecFileOptions, execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  scripts: Record<string, string>;
};

/** Children run on this test's Node: the bin's `#!/usr/bin/env node` and npm find it first on PATH. */
const ENV = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };

/** How Node prints a process warning (a deprecation, the AWS SDK's notice about Node versions). */
const NODE_WARNING = /\(node:\d+\)/;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: ExecFileOptions = {}): Promise<Ran> {
  return new Promise((done) => {
    execFile(file, args, { env: ENV, maxBuffer: 64 << 20, encoding: 'utf8', ...options }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function ok(file: string, args: string[], options: ExecFileOptions = {}): Promise<string> {
  const r = await run(file, args, options);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path).map((p) => `${name}/${p}`) : [name];
  });
}

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number; mode: number }[];
}

let work: string;
let packed: Packed;
let files: string[];
let app: string;
let installed: string;
let bin: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ctl-pack-'));
  const stage = join(work, 'stage');

  // What a clean clone holds (tracked and new files, nothing ignored), with its own copy of each.
  const listed = (await ok('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT }))
    .split('\0')
    .filter(Boolean);
  const sources = new Set(listed.filter((f) => f.startsWith('src/') && f.endsWith('.ts')));
  for (const file of listed) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(stage, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(stage, file));
  }

  // What following the docs leaves beside the samples (results, run states, timelines) never ships.
  for (const left of [
    'tasks.results.csv',
    'tasks.results.csv.run.json',
    'tasks.shard-1-of-2.results.csv',
    'tasks.merged.csv',
  ]) {
    writeFileSync(join(stage, 'samples', left), 'customer data\n');
  }

  // prepack's first step empties dist/: leftovers of an older build (a removed module, a source map) go.
  expect(PKG.scripts.prepack).toBe('npm run clean && npm run build');
  mkdirSync(join(stage, 'dist'), { recursive: true });
  writeFileSync(join(stage, 'dist', 'removed-module.js'), 'export {};\n');
  writeFileSync(join(stage, 'dist', 'cli.js.map'), '{}\n');
  await ok('npm', ['run', 'clean', '--silent'], { cwd: stage });
  expect(existsSync(join(stage, 'dist'))).toBe(false);

  // Then the build: the global setup's dist/, each file only if today's src/ makes it, and no older than its source.
  for (const file of walk(join(ROOT, 'dist'))) {
    const source = `src/${file.replace(/(\.d\.ts|\.js)$/, '')}.ts`;
    if (!/(\.d\.ts|\.js)$/.test(file) || !sources.has(source)) continue;
    expect(statSync(join(ROOT, 'dist', file)).mtimeMs, `dist/${file} is older than ${source}`).toBeGreaterThanOrEqual(
      statSync(join(ROOT, source)).mtimeMs,
    );
    cpSync(join(ROOT, 'dist', file), join(stage, 'dist', file));
  }
  for (const source of sources)
    expect(existsSync(join(stage, source.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js'))), source).toBe(true);

  // Built above, so pack without running prepack's build again.
  const t0 = performance.now();
  packed = (
    JSON.parse(
      await ok('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: stage }),
    ) as Packed[]
  )[0]!;
  const packSeconds = (performance.now() - t0) / 1000;
  files = packed.files.map((f) => f.path).sort();

  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' })}\n`);
  const t1 = performance.now();
  await ok('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed.filename)], {
    cwd: app,
  });
  const installSeconds = (performance.now() - t1) / 1000;
  installed = join(app, 'node_modules', PKG.name);
  bin = join(app, 'node_modules', '.bin', 'connect-task-loader');

  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, unknown>;
  };
  const packages = Object.keys(lock.packages).filter(Boolean).length;
  console.log(
    `${packed.filename}: ${(packed.size / 1000).toFixed(1)} kB ` +
      `packed, ${(packed.unpackedSize / 1000).toFixed(1)} kB unpacked, ` +
      `${packed.entryCount} files; npm pack ${packSeconds.toFixed(1)} s; npm install ${installSeconds.toFixed(1)} s ` +
      `(${packages} packages) on Node ${process.version}`,
  );
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the published package', () => {
  it('ships what runs: the build without source maps, samples, schema, README, LICENSE; no src/ or tests', () => {
    expect(files).toContain('package.json');
    expect(files).toContain('LICENSE');
    expect(files).toContain('README.md');
    expect(files).toContain('dist/cli.js');
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('schema/job.schema.json');
    expect(files).toContain('samples/tasks.csv');
    expect(files).toContain('examples/nightly.sh');
    expect(files.filter((f) => f.startsWith('samples/') && f.endsWith('.job.json')).length).toBeGreaterThanOrEqual(3);
    if (existsSync(join(ROOT, 'CHANGELOG.md'))) expect(files).toContain('CHANGELOG.md');

    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => /^(src|test|bench|node_modules|dist-bench|demo-output|\.ci)\//.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    // docs/: the pages the README links to, and the report's picture they show.
    expect(files.filter((f) => f.startsWith('docs/') && !f.endsWith('.md'))).toEqual(['docs/report.png']);
    expect(files.filter((f) => f.startsWith('samples/') && !/\.(csv|job\.json)$/.test(f))).toEqual([]);
    expect(files.filter((f) => /\.(results|merged)\.csv$|\.shard-/.test(f))).toEqual([]);
    // Everything else is a build output, a sample, the schema, an example script or a top-level document.
    expect(
      files.filter(
        (f) =>
          !/^(dist|samples|schema|docs|examples)\//.test(f) &&
          !['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'].includes(f),
      ),
    ).toEqual([]);

    expect(PKG.bin['connect-task-loader']).toBe('dist/cli.js');
    expect(readFileSync(join(installed, 'dist', 'cli.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(statSync(join(installed, 'dist', 'cli.js')).mode & 0o111, 'the installed bin is executable').not.toBe(0);
    expect(
      statSync(join(installed, 'examples', 'nightly.sh')).mode & 0o111,
      'the nightly script is executable',
    ).not.toBe(0);
  });

  it('installs a bin that prints its help and version', async () => {
    const help = await run(bin, ['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: connect-task-loader');
    expect(help.stderr).toBe('');
    expect((await ok(bin, ['--version'])).trim()).toBe(PKG.version);
  });

  it('validates the shipped samples, with and without a job file', async () => {
    const samples = join(installed, 'samples');
    const [tasks, job] = await Promise.all([
      run(bin, ['validate', join(samples, 'tasks.csv'), '--results', join(app, 'tasks.results.csv')], { cwd: app }),
      run(
        bin,
        [
          'validate',
          join(samples, 'scheduled-callbacks.csv'),
          '--job',
          join(samples, 'scheduled-callbacks.job.json'),
          '--timezone',
          'Europe/London',
          '--results',
          join(app, 'callbacks.results.csv'),
        ],
        { cwd: app },
      ),
    ]);
    expect(tasks.code, tasks.stderr).toBe(1); // two rows of tasks.csv are invalid on purpose
    expect(tasks.stdout).toContain('Rows: 30 would be sent, 2 invalid');
    expect(existsSync(join(app, 'tasks.results.csv'))).toBe(true);
    expect(job.code, job.stderr).toBe(0);
    expect(job.stdout).toContain('Rows: 5 would be sent, 0 invalid');
    expect(tasks.stderr + job.stderr).not.toMatch(NODE_WARNING);
  });

  it('runs the demo against its own emulator from the installed files', async () => {
    const demo = await run(bin, ['demo'], { cwd: app });
    expect(demo.code, demo.stderr).toBe(1); // two sample rows are invalid on purpose
    expect(demo.stdout).toContain('Emulator: 30 tasks created');
    expect(existsSync(join(app, 'demo-output', 'tasks.results.csv'))).toBe(true);
    expect(demo.stderr).not.toMatch(NODE_WARNING);
  });

  it('serves library consumers: import resolves exports, the types check, and a run works', async () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      `import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID, runImport, startEmulator, type RunOptions, type Summary } from 'connect-task-loader';

const emulator = await startEmulator({ rate: 200, burst: 200 });
try {
  const options: RunOptions = {
    input: ${JSON.stringify(join(installed, 'samples', 'tasks.csv'))},
    results: 'library.results.csv',
    endpoint: emulator.url,
    instanceId: DEMO_INSTANCE_ID,
    contactFlowId: DEMO_CONTACT_FLOW_ID,
    rate: 200,
    burst: 200,
    logger: { debug() {}, info() {}, warn() {} },
  };
  const summary: Summary = await runImport(options);
  console.log(JSON.stringify({ created: summary.rows.created, invalid: summary.rows.invalid }));
} finally {
  await emulator.close();
}
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], {
      cwd: app,
    });
    expect(tsc.code, tsc.stdout).toBe(0);
    const consumer = await run(process.execPath, ['consumer.js'], { cwd: app });
    expect(consumer.code, consumer.stderr).toBe(0);
    expect(JSON.parse(consumer.stdout)).toEqual({ created: 30, invalid: 2 });
    const resolved = await ok(
      process.execPath,
      ['--input-type=module', '-e', "console.log(import.meta.resolve('connect-task-loader'))"],
      { cwd: app },
    );
    expect(fileURLToPath(resolved.trim())).toBe(join(installed, 'dist', 'index.js'));
  });
});
