/**
 * The container image, without a container runtime: the Dockerfile parsed (dockerfile-ast) and
 * checked for syntax (dockerfile-utils, the Docker language server's validator) and for what the
 * image promises — built in stages, run by Node 22 on a distroless base as a user without
 * privileges, no npm, compiler or shell in the final stage, node itself as PID 1 (exec form) so the
 * scheduler's SIGTERM reaches the tool — and .dockerignore keeping results, tests and secrets out of
 * the build context. Then the final stage's files are assembled as the Dockerfile copies them (the
 * runtime dependencies installed as its `deps` stage does) and the program run from there, from an
 * empty working folder, by its entrypoint and command alone: what the image copies is all it needs.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { DockerfileParser, type From, type Instruction, type JSONInstruction, type Label } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CONTACT_FLOW_ID, DEMO_INSTANCE_ID } from '../../src/emulator/service.js';
import { fileEmulator } from '../emulator.js';
import { fileTempDir, readResults } from '../helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TEXT = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

interface Stage {
  from: From;
  name: string | null;
  instructions: Instruction[];
}

/** The Dockerfile's stages, each with the instructions after its FROM. */
function stages(): Stage[] {
  const out: Stage[] = [];
  for (const instruction of DockerfileParser.parse(TEXT).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = instruction as From;
      out.push({ from, name: from.getBuildStage(), instructions: [] });
    } else out.at(-1)?.instructions.push(instruction);
  }
  return out;
}

const keyword = (stage: Stage, word: string) => stage.instructions.filter((i) => i.getKeyword() === word);
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
const flag = (i: Instruction, name: string) =>
  (i as JSONInstruction)
    .getFlags()
    .find((f) => f.getName() === name)
    ?.getValue() ?? undefined;
const execForm = (i: Instruction) => (i as JSONInstruction).getJSONStrings().map((s) => s.getJSONValue());

/** The working folder a stage's instruction runs in: its last WORKDIR before it (absolute, as here). */
function workdir(stage: Stage, before: Instruction): string {
  const line = before.getRange().start.line;
  const dirs = keyword(stage, 'WORKDIR').filter((w) => w.getRange().start.line < line);
  return args(dirs.at(-1)!)[0] ?? '/';
}

/** Docker's .dockerignore: the last matching pattern decides; a pattern that matches a folder takes its contents. */
function ignored(path: string): boolean {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const include = l.startsWith('!');
      const pattern = posix.normalize(include ? l.slice(1) : l).replace(/\/$/, '');
      const source = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(.*/)?');
      return { include, re: new RegExp(`^${source}$`) };
    });
  const parts = path.split('/');
  let out = false;
  for (const { include, re } of rules) {
    if (parts.some((_, n) => re.test(parts.slice(0, n + 1).join('/')))) out = !include;
  }
  return out;
}

describe('the Dockerfile', () => {
  it('is valid Dockerfile syntax: no error or warning from the validator', () => {
    expect(validate(TEXT).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('builds in stages on Node 22 (Debian 12) and runs on distroless Node 22 as uid 65532', () => {
    const all = stages();
    expect(all.length).toBeGreaterThanOrEqual(2);
    const final = all.at(-1)!;
    for (const stage of all.slice(0, -1)) expect(stage.from.getImage()).toBe('node:22-bookworm-slim');
    expect(final.from.getImage()).toBe('gcr.io/distroless/nodejs22-debian12:nonroot');
    // Not root, by the base's tag and by name: `nonroot` is uid 65532 in distroless images.
    expect(keyword(final, 'USER').map(args)).toEqual([['nonroot']]);
  });

  it('installs the runtime dependencies alone, from the lock file, in a stage of their own', () => {
    const deps = stages().find((s) => keyword(s, 'RUN').some((r) => args(r).join(' ').includes('--omit=dev')))!;
    expect(keyword(deps, 'RUN').map((r) => args(r).join(' '))).toEqual([
      'npm ci --omit=dev --ignore-scripts --no-audit --no-fund',
    ]);
    const build = stages().find((s) => s.name === 'build')!;
    expect(keyword(build, 'RUN').map((r) => args(r).join(' '))).toEqual([
      'npm ci --no-audit --no-fund',
      'npm run build',
    ]);
  });

  it('the final stage runs nothing and copies no build tools: only dist/, the runtime dependencies, package.json and the schema', () => {
    const final = stages().at(-1)!;
    expect(keyword(final, 'RUN')).toEqual([]);
    const copies = keyword(final, 'COPY').map((c) => ({
      from: flag(c, 'from'),
      paths: args(c).filter((a) => !a.startsWith('--')),
    }));
    expect(copies).toEqual([
      { from: 'deps', paths: ['/app/node_modules', '/app/node_modules'] },
      { from: 'build', paths: ['/app/dist', '/app/dist'] },
      { from: undefined, paths: ['package.json', '/app/'] },
      { from: undefined, paths: ['schema', '/app/schema'] },
    ]);
  });

  it('node is PID 1: exec-form ENTRYPOINT of node and dist/cli.js, no shell; the command is `run`', () => {
    const final = stages().at(-1)!;
    const [entrypoint, ...more] = keyword(final, 'ENTRYPOINT');
    expect(more).toEqual([]);
    expect(execForm(entrypoint!)).toEqual(['/nodejs/bin/node', '/app/dist/cli.js']);
    expect(keyword(final, 'CMD').map(execForm)).toEqual([['run']]);
    expect(keyword(final, 'SHELL')).toEqual([]);
    // SIGTERM, Docker's default, is the signal the tool drains on.
    for (const s of keyword(final, 'STOPSIGNAL')) expect(args(s)).toEqual(['SIGTERM']);
  });

  it('is labelled with the OCI annotations, its version the package’s', () => {
    const final = stages().at(-1)!;
    const labels = Object.fromEntries(
      keyword(final, 'LABEL').flatMap((l) => (l as Label).getProperties().map((p) => [p.getName(), p.getValue()])),
    );
    for (const key of ['title', 'description', 'version', 'licenses', 'source'])
      expect(labels[`org.opencontainers.image.${key}`], key).toBeTruthy();
    // The version label is the VERSION build argument, whose default is the package's version.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the Dockerfile's variable, as written there
    expect(labels['org.opencontainers.image.version']).toBe('${VERSION}');
    expect(TEXT).toContain(`ARG VERSION=${PKG.version}\n`);
  });

  it('every file a COPY takes from the context is in it and not ignored; what must stay out is ignored', () => {
    for (const stage of stages()) {
      for (const copy of keyword(stage, 'COPY')) {
        if (flag(copy, 'from')) continue;
        for (const source of args(copy)
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1)) {
          expect(existsSync(join(ROOT, source)), source).toBe(true);
          expect(ignored(source), source).toBe(false);
        }
      }
    }
    for (const path of ['src/cli.ts', 'src/config/settings.ts', 'schema/job.schema.json', 'tsconfig.build.json'])
      expect(ignored(path), path).toBe(false);
    for (const path of [
      'node_modules',
      'node_modules/commander/package.json',
      'dist/cli.js',
      'test/cli/container.test.ts',
      'bench/bench.ts',
      '.git/HEAD',
      'samples/tasks.results.csv',
      'src/tickets.results.csv',
      'tickets.results.csv.run.json',
      'tickets.results.csv.lock/holder.1-ab.json',
      'demo-output/tasks.results.csv',
      '.env',
      'README.md',
    ])
      expect(ignored(path), path).toBe(true);
  });

  it('every file the final stage copies from the build exists once `npm run build` has run', () => {
    const final = stages().at(-1)!;
    const build = stages().find((s) => s.name === 'build')!;
    const workdirOf = workdir(build, keyword(build, 'RUN').at(-1)!);
    for (const copy of keyword(final, 'COPY').filter((c) => flag(c, 'from') === 'build')) {
      const source = posix.relative(workdirOf, args(copy).filter((a) => !a.startsWith('--'))[0]!);
      expect(existsSync(join(ROOT, source)), source).toBe(true);
    }
    // The entrypoint's program is among them.
    expect(statSync(join(ROOT, 'dist/cli.js')).isFile()).toBe(true);
  });
});

describe('the final stage, assembled as the Dockerfile copies it', () => {
  const emulator = fileEmulator({ rate: 1000, burst: 1000 });
  let image: string;

  beforeAll(async () => {
    image = fileTempDir();
    const app = join(image, 'app');
    mkdirSync(app);
    // The deps stage: `npm ci --omit=dev` from package.json and the lock file.
    cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
    cpSync(join(ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
    await new Promise<void>((done, fail) =>
      execFile(
        'npm',
        ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
        { cwd: app },
        (err, _out, stderr) => (err ? fail(new Error(`npm ci --omit=dev: ${stderr}`)) : done()),
      ),
    );
    // The final stage: node_modules from deps (in place), dist from build, package.json and schema.
    cpSync(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'schema'), join(app, 'schema'), { recursive: true });
    mkdirSync(join(image, 'data'));
  }, 120_000);

  /** The entrypoint and command with `env` alone, in /data. */
  const container = (env: NodeJS.ProcessEnv, command: string[] = ['run']) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(
        process.execPath,
        [join(image, 'app/dist/cli.js'), ...command],
        { cwd: join(image, 'data'), env },
        (err, stdout, stderr) => done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );

  it('has no dev dependency: no compiler, test runner or linter', () => {
    for (const tool of ['typescript', 'vitest', '@biomejs/biome', 'dockerfile-ast'])
      expect(existsSync(join(image, 'app/node_modules', tool)), tool).toBe(false);
  });

  it('runs its command from the environment alone, in an empty working folder', async () => {
    expect((await container({}, ['--version'])).stdout.trim()).toBe(PKG.version);
    writeFileSync(join(image, 'data/tickets.csv'), 'Name,Description\nCall back,About the invoice\nVisit,Tuesday\n');
    const r = await container({
      CTL_INPUT: 'tickets.csv',
      CTL_RESUME: '1',
      CTL_SHARD: 'auto/2',
      AWS_BATCH_JOB_ARRAY_INDEX: '1',
      CTL_INSTANCE_ID: DEMO_INSTANCE_ID,
      CTL_CONTACT_FLOW_ID: DEMO_CONTACT_FLOW_ID,
      CTL_RATE: '100',
      AWS_ENDPOINT_URL_CONNECT: emulator.url,
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    });
    expect(r.code, r.stderr).toBe(0);
    const rows = readResults(join(image, 'data/tickets.shard-2-of-2.results.csv'));
    expect(rows.map((row) => [row['Result.Line'], row['Result.Status']])).toEqual([['3', 'created']]);
  });
});
